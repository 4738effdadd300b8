"""Data pages: full pages and their htmx partials, forms and their errors, the upload
view (XMLHttpRequest and plain form), the permission matrix, and the demo loader."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client

from console.data import services
from console.data.models import Dataset, DatasetVersion, TokenizedCorpus, Tokenizer
from console.jobs.models import Job
from tests.data.helpers import EN, ZH, files_under, jsonl_bytes, run_job, staged, upload_file
from tests.factories import DatasetFactory, JobFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

ROLES = ["viewer", "data_engineer", "ml_engineer", "reviewer", "admin", "outsider"]
WRITERS = {"data_engineer", "ml_engineer", "admin"}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def flow(personas, data_dir, django_capture_on_commit_callbacks):
    """A dataset with an ingested v1, a cleaned v2, a tokenizer and a corpus."""
    actor = personas.data_engineer
    dataset = services.dataset_create(actor=actor, project=personas.project, name="filings")
    with django_capture_on_commit_callbacks(execute=True):  # the upload is removed
        run_job(
            services.dataset_upload(
                actor=actor,
                dataset=dataset,
                upload=staged(data_dir, "docs.jsonl", jsonl_bytes((EN + ZH) * 5)),
            )
        )
    v1 = dataset.versions.get()
    steps = [
        {"rule": "mask_email", "params": {}},
        {"rule": "mask_credit_card", "params": {}},
        {"rule": "exact_dedup", "params": {}},
        {"rule": "near_dedup", "params": {}},
    ]
    run_job(services.version_clean(actor=actor, version=v1, steps=steps))
    v2 = dataset.versions.get(number=2)
    run_job(services.tokenizer_train(actor=actor, version=v2, vocab_size=300))
    tokenizer = Tokenizer.objects.get()
    run_job(services.corpus_tokenize(actor=actor, version=v2, tokenizer=tokenizer, seq_len=32))
    return {
        "dataset": dataset,
        "v1": v1,
        "v2": v2,
        "tokenizer": tokenizer,
        "corpus": TokenizedCorpus.objects.get(),
    }


PAGES = [
    "/data/",
    "/data/{dataset}/",
    "/data/versions/{v1}/",
    "/data/versions/{v2}/",
    "/data/tokenizers/{tokenizer}/",
    "/data/corpora/{corpus}/",
]


def _fmt(path: str, flow) -> str:
    return path.format(**{k: v.pk for k, v in flow.items()})


@pytest.mark.parametrize("role", ROLES)
def test_page_matrix(personas, flow, role):
    client = login(personas.by_role()[role])
    for path in PAGES:
        response = client.get(_fmt(path, flow))
        if role == "outsider":
            assert response.status_code == 403, path
            continue
        assert response.status_code == 200, path
        body = response.content.decode()
        assert "{{" not in body and "{%" not in body
        # Forms only for those who may use them.
        has_forms = 'action="/data/tokenize/"' in body or "Start cleaning" in body
        if path != "/data/" and role not in WRITERS:
            assert not has_forms, (role, path)


def test_pages_redirect_anonymous_to_login(flow):
    for path in PAGES:
        response = Client().get(_fmt(path, flow))
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_other_teams_data_is_404(personas, flow):
    client = login(personas.stranger)
    for path in PAGES[1:]:
        assert client.get(_fmt(path, flow)).status_code == 404, path
    assert b"filings" not in client.get("/data/").content
    response = client.post(
        f"/data/{flow['dataset'].pk}/upload/", {"file": upload_file("a.jsonl", b"{}")}
    )
    assert response.status_code == 404
    job = flow["v2"].job
    assert client.get(f"/data/jobs/{job.pk}/output/").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_cannot_post(personas, flow, role, data_dir):
    client = login(personas.by_role()[role])
    v1 = flow["v1"]
    posts = [
        ("/data/new/", {"project": "alpha", "name": "x", "text_field": "text"}),
        (f"/data/{flow['dataset'].pk}/upload/", {"file": upload_file("a.jsonl", b'{"text":"a"}')}),
        (f"/data/versions/{v1.pk}/clean/", {"rules": ["mask_email"]}),
        (f"/data/versions/{v1.pk}/tokenizer/", {"vocab_size": "300", "min_frequency": "2"}),
        ("/data/tokenize/", {"version": v1.pk, "tokenizer": flow["tokenizer"].pk}),
    ]
    jobs = Job.objects.count()
    for path, data in posts:
        assert client.post(path, data).status_code == 403, path
    assert Job.objects.count() == jobs and Dataset.objects.count() == 1
    assert files_under(data_dir / "uploads") == []


# ------------------------------------------------------------------ full pages and partials


def test_list_full_page_and_partial(personas, flow):
    client = login(personas.viewer)
    full = client.get("/data/").content.decode()
    assert "<html" in full and "filings" in full and "Tokenizers" in full
    assert 'href="/data/"' in full  # Data in the navigation, now a link
    partial = client.get("/data/?project=alpha", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'id="data-datasets"' in partial and "filings" in partial
    none = client.get("/data/?project=beta", HTTP_HX_REQUEST="true").content.decode()
    assert "filings" not in none


def test_dataset_page_polls_while_a_job_runs_and_stops_after(personas, flow):
    client = login(personas.viewer)
    dataset = flow["dataset"]
    partial = client.get(f"/data/{dataset.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'id="dataset-live"' in partial
    assert "hx-trigger" not in partial  # every job finished: no polling
    assert partial.count('data-version="') == 2
    JobFactory(
        project=personas.project,
        kind="data.clean",
        state="running",
        spec={"version_id": flow["v2"].pk, "steps": [], "workers": 1},
    )
    full = client.get(f"/data/{dataset.pk}/").content.decode()
    assert "<html" in full and 'hx-trigger="load delay:2s"' in full
    assert "Upload a file" not in full  # a viewer gets no upload form


def test_version_page_shows_the_report_charts_and_lineage(personas, flow):
    client = login(personas.data_engineer)
    body = client.get(f"/data/versions/{flow['v2'].pk}/").content.decode()
    for chart in ("in_out", "funnel", "rules", "pii", "dedup", "length_histogram"):
        assert f'data-chart="{chart}"' in body
    charts = json.loads(
        re.search(r'<script id="report-charts" type="application/json">(.*?)</script>', body).group(
            1
        )
    )
    assert charts["pii"]["x"] == ["email", "credit_card"] and charts["pii"]["y"][0] > 0
    assert charts["in_out"]["documents"][0] == flow["v1"].documents
    assert sum(charts["dedup"]["duplicates"]) > 0
    assert "vendor/plotly" in body and "js/data_report.js" in body
    assert 'data-testid="lineage"' in body and f'href="/data/versions/{flow["v1"].pk}/"' in body
    assert "mask_email" in body and "Start cleaning" in body


def test_clean_form_starts_a_job_and_shows_field_errors(personas, flow):
    client = login(personas.data_engineer)
    v1 = flow["v1"]
    bad = client.post(
        f"/data/versions/{v1.pk}/clean/",
        {"rules": ["length_filter", "mask_email"], "length_filter.min_chars": "ten"},
    )
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "The cleaning job was not started" in body and "must be int" in body
    assert 'id="err_length_filter.min_chars"' in body
    bad = client.post(
        f"/data/versions/{v1.pk}/clean/",
        {
            "rules": ["length_filter"],
            "length_filter.min_chars": "90",
            "length_filter.max_chars": "5",
        },
    )
    assert bad.status_code == 400 and "must be at least min_chars" in bad.content.decode()
    assert client.post(f"/data/versions/{v1.pk}/clean/", {}).status_code == 400
    before = Job.objects.count()
    ok = client.post(
        f"/data/versions/{v1.pk}/clean/",
        {
            "rules": ["normalize_whitespace", "near_dedup"],
            "normalize_whitespace.max_newlines": "1",
            "normalize_whitespace.strip_lines": "on",
            "near_dedup.threshold": "0.7",
            "near_dedup.num_perm": "64",
            "near_dedup.shingle_size": "3",
            "near_dedup.seed": "1",
        },
    )
    assert Job.objects.count() == before + 1
    job = Job.objects.latest("id")
    assert ok.status_code == 302 and ok["Location"] == f"/jobs/{job.pk}/"
    steps = job.spec["steps"]
    assert [s["rule"] for s in steps] == ["normalize_whitespace", "near_dedup"]
    assert steps[0]["params"]["unicode_spaces"] is False  # an unticked box is false
    assert steps[1]["params"]["threshold"] == 0.7 and steps[1]["params"]["lowercase"] is False


def test_tokenizer_and_tokenize_forms(personas, flow):
    client = login(personas.ml_engineer)
    v2 = flow["v2"]
    bad = client.post(f"/data/versions/{v2.pk}/tokenizer/", {"vocab_size": "10"})
    assert bad.status_code == 400 and "greater than or equal to 260" in bad.content.decode()
    ok = client.post(
        f"/data/versions/{v2.pk}/tokenizer/", {"vocab_size": "500", "min_frequency": "2"}
    )
    assert ok.status_code == 302
    assert Job.objects.latest("id").spec["vocab_size"] == 500
    bad = client.post(
        "/data/tokenize/",
        {"version": v2.pk, "tokenizer": flow["tokenizer"].pk, "seq_len": "4", "val_fraction": "0"},
    )
    assert bad.status_code == 400 and "greater than or equal to 8" in bad.content.decode()
    ok = client.post(
        "/data/tokenize/",
        {
            "version": v2.pk,
            "tokenizer": flow["tokenizer"].pk,
            "seq_len": "64",
            "val_fraction": "0.1",
        },
    )
    assert ok.status_code == 302 and Job.objects.latest("id").kind == "data.tokenize"


def test_tokenizer_and_corpus_pages(personas, flow):
    client = login(personas.viewer)
    body = client.get(f"/data/tokenizers/{flow['tokenizer'].pk}/").content.decode()
    assert 'data-testid="vocab-size"' in body and 'class="tok"' in body
    assert "AutoTokenizer.from_pretrained" in body and "bytes per token" in body
    corpus = flow["corpus"]
    body = client.get(f"/data/corpora/{corpus.pk}/").content.decode()
    assert f"{corpus.total_tokens:,}" in body and "train-00000.bin" in body
    assert "PackedShards" in body


def test_job_output_redirects_to_what_the_job_made(personas, flow):
    client = login(personas.viewer)
    for obj, prefix in (
        (flow["v2"], "/data/versions/"),
        (flow["tokenizer"], "/data/tokenizers/"),
        (flow["corpus"], "/data/corpora/"),
    ):
        response = client.get(f"/data/jobs/{obj.job_id}/output/")
        assert response.status_code == 302 and response["Location"] == f"{prefix}{obj.pk}/"
    page = client.get(f"/jobs/{flow['corpus'].job_id}/").content.decode()
    assert f'href="/data/jobs/{flow["corpus"].job_id}/output/"' in page  # "Open the result"


# ------------------------------------------------------------------ upload and create views


def test_create_dataset_and_its_errors(personas, data_dir):
    client = login(personas.data_engineer)
    ok = client.post("/data/new/", {"project": "alpha", "name": "crawl", "text_field": "content"})
    dataset = Dataset.objects.get(name="crawl")
    assert ok.status_code == 302 and ok["Location"] == f"/data/{dataset.pk}/"
    assert dataset.text_field == "content"
    again = client.post("/data/new/", {"project": "alpha", "name": "crawl", "text_field": "t"})
    assert again.status_code == 400 and "already has a dataset named" in again.content.decode()
    beta = client.post("/data/new/", {"project": "beta", "name": "x", "text_field": "t"})
    assert beta.status_code == 400 and "Select a valid choice" in beta.content.decode()


def test_xhr_upload_answers_json_and_plain_form_redirects(personas, data_dir):
    dataset = DatasetFactory(project=personas.project)
    client = login(personas.data_engineer)
    response = client.post(
        f"/data/{dataset.pk}/upload/",
        {"file": upload_file("a.jsonl", jsonl_bytes(EN))},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    job = Job.objects.get()
    assert response.json() == {"job": job.pk, "redirect": f"/jobs/{job.pk}/"}
    plain = client.post(f"/data/{dataset.pk}/upload/", {"file": upload_file("b.txt", b"hello")})
    assert plain.status_code == 302 and plain["Location"].startswith("/jobs/")
    assert Job.objects.count() == 2


def test_upload_errors_on_the_page_and_as_json(personas, data_dir, settings):
    dataset = DatasetFactory(project=personas.project)
    client = login(personas.data_engineer)
    bad = client.post(
        f"/data/{dataset.pk}/upload/",
        {"file": upload_file("bad.jsonl", b"\x00\x01\x02binary")},
        HTTP_ACCEPT="application/json",
    )
    assert bad.status_code == 400 and "binary" in bad.json()["detail"].lower()
    page = client.post(f"/data/{dataset.pk}/upload/", {"file": upload_file("x.exe", b"MZ")})
    assert page.status_code == 400 and "unsupported file type" in page.content.decode()
    settings.FORGE_DATA_MAX_UPLOAD_BYTES = 100
    big = client.post(
        f"/data/{dataset.pk}/upload/",
        {"file": upload_file("big.jsonl", jsonl_bytes(EN * 10))},
        HTTP_ACCEPT="application/json",
    )
    assert big.status_code == 413 and "upload limit" in big.json()["detail"]
    assert files_under(data_dir) == [] and not Job.objects.exists()


def test_upload_needs_the_csrf_token_in_a_browser_session(personas, data_dir):
    dataset = DatasetFactory(project=personas.project)
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.data_engineer)
    response = client.post(
        f"/data/{dataset.pk}/upload/", {"file": upload_file("a.jsonl", jsonl_bytes(EN))}
    )
    assert response.status_code == 403  # S5
    assert files_under(data_dir) == [] and not Job.objects.exists()


def test_forge_setup_demo_registers_the_sample_corpus(db, data_dir, monkeypatch):
    monkeypatch.setenv("FORGE_ADMIN_PASSWORD", "a-long-chosen-password")
    call_command("forge_setup", "--demo")
    dataset = Dataset.objects.get(project__slug="demo")
    job = Job.objects.get(kind="data.ingest")
    assert job.spec == {
        "dataset_id": dataset.pk,
        "source": "sample",
        "upload": "",
        "filename": "",
        "path": "",
        "text_field": "text",
        "records": "",
        "prompt_field": "",
        "response_field": "",
        "system_field": "",
    }
    assert run_job(job).state == "succeeded"
    assert DatasetVersion.objects.get(dataset=dataset).documents == 1038


def test_the_generic_job_form_leaves_data_kinds_to_the_data_pages(personas):
    body = login(personas.data_engineer).get("/jobs/new/").content.decode()
    assert 'value="demo.count"' in body and 'value="data.' not in body
    kinds = login(personas.viewer).get("/api/v1/job-kinds/")
    assert "data.clean" in kinds.content.decode()  # the API lists them
