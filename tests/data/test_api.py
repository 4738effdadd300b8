"""The data REST API: the permission matrix, streamed uploads and what they refuse,
and the whole flow (upload, clean, tokenizer, corpus) through the API alone."""

from __future__ import annotations

import pytest
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

from console.audit.models import AuditEvent
from console.data.models import DatasetVersion, Origin, TokenizedCorpus, Tokenizer
from console.jobs.models import Job
from tests.data.helpers import EN, ZH, files_under, jsonl_bytes, run_job, upload_file
from tests.factories import DatasetFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

ROLES = ["viewer", "data_engineer", "ml_engineer", "reviewer", "admin", "outsider"]
MEMBERS = set(ROLES) - {"outsider"}
WRITERS = {"data_engineer", "ml_engineer", "admin"}


@pytest.fixture
def world(personas):
    """A dataset with a version and a tokenizer in alpha (files need not exist to be read
    through the API)."""
    dataset = DatasetFactory(project=personas.project, name="rulings")
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        origin=Origin.UPLOAD,
        storage_key="datasets/1/versions/job-1",
        sha256="a" * 64,
        bytes=10,
        documents=2,
    )
    tokenizer = Tokenizer.objects.create(
        project=personas.project,
        name="bpe",
        version=version,
        vocab_size_requested=500,
        vocab_size=480,
        storage_key="tokenizers/job-2",
        sha256="b" * 64,
    )
    corpus = TokenizedCorpus.objects.create(
        project=personas.project,
        version=version,
        tokenizer=tokenizer,
        seq_len=64,
        dtype="uint16",
        val_fraction=0.1,
        total_tokens=100,
        train_tokens=90,
        val_tokens=10,
        sequences=2,
        shards=2,
        storage_key="corpora/job-3",
    )
    return {"dataset": dataset, "version": version, "tokenizer": tokenizer, "corpus": corpus}


READS = [
    "/api/v1/datasets/",
    "/api/v1/datasets/{dataset}/",
    "/api/v1/dataset-versions/",
    "/api/v1/dataset-versions/?dataset={dataset}",
    "/api/v1/dataset-versions/{version}/",
    "/api/v1/cleaning-rules/",
    "/api/v1/tokenizers/",
    "/api/v1/tokenizers/{tokenizer}/",
    "/api/v1/corpora/",
    "/api/v1/corpora/{corpus}/",
]


def _fmt(path: str, world) -> str:
    return path.format(**{k: v.pk for k, v in world.items()})


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", READS)
def test_read_matrix(personas, api, world, role, path):
    response = api(personas.by_role()[role]).get(_fmt(path, world))
    if role in MEMBERS:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403


WRITES = [
    ("/api/v1/datasets/", {"project": "alpha", "name": "new one"}, 201),
    ("/api/v1/dataset-versions/{version}/clean/", {"steps": [{"rule": "mask_email"}]}, 201),
    ("/api/v1/tokenizers/", {"version": "{version}", "vocab_size": 300}, 201),
    ("/api/v1/corpora/", {"version": "{version}", "tokenizer": "{tokenizer}"}, 201),
    ("/api/v1/datasets/{dataset}/import/", {"path": "nothing-here"}, 400),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "body", "ok"), WRITES)
def test_write_matrix(personas, api, world, role, path, body, ok):
    body = {
        k: int(_fmt(v, world)) if isinstance(v, str) and v.startswith("{") else v
        for k, v in body.items()
    }
    user = personas.by_role()[role]
    response = api(user).post(_fmt(path, world), body, format="json")
    if role in WRITERS:
        assert response.status_code == ok, response.content
    else:
        assert response.status_code == 403
        if role != "outsider":
            assert AuditEvent.objects.filter(action="access.denied", actor=user).exists()


@pytest.mark.parametrize("path", [p for p in READS if "?" not in p])
def test_without_credentials_is_401(api, world, path):
    response = api().get(_fmt(path, world))
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_other_teams_data_is_invisible(personas, api, world):
    """S3: a member of beta sees none of alpha's data, by list or by id."""
    client = api(personas.stranger)
    for path in ("/api/v1/datasets/", "/api/v1/dataset-versions/", "/api/v1/tokenizers/"):
        assert client.get(path).json()["results"] == []
    for path in READS[1:]:
        if "{" in path and "?" not in path:
            assert client.get(_fmt(path, world)).status_code == 404, path
    upload = client.post(
        f"/api/v1/datasets/{world['dataset'].pk}/upload/",
        {"file": upload_file("a.jsonl", jsonl_bytes(EN))},
        format="multipart",
    )
    assert upload.status_code == 404
    clean = client.post(
        f"/api/v1/dataset-versions/{world['version'].pk}/clean/",
        {"steps": [{"rule": "mask_email"}]},
        format="json",
    )
    assert clean.status_code == 404
    tok = client.post("/api/v1/tokenizers/", {"version": world["version"].pk}, format="json")
    assert tok.status_code == 400 and "version" in tok.json()
    created = client.post("/api/v1/datasets/", {"project": "alpha", "name": "x"}, format="json")
    assert created.status_code == 400 and "project" in created.json()
    assert not Job.objects.exists()


# ------------------------------------------------------------------ uploads


@pytest.fixture
def no_django_upload_handlers(monkeypatch):
    """Django's own handlers (memory, /tmp) must never see a dataset upload."""

    def refuse(*args, **kwargs):
        raise AssertionError("a dataset upload went through Django's default handlers")

    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        monkeypatch.setattr(handler, "receive_data_chunk", refuse)


def test_upload_is_streamed_to_disk_and_ingested(
    personas, api, data_dir, no_django_upload_handlers, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory(project=personas.project)
    content = jsonl_bytes((EN + ZH) * 3000)  # a few MiB: several 1 MiB chunks
    assert len(content) > 3 * 1024 * 1024
    response = api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset.pk}/upload/",
        {"file": upload_file("big.jsonl", content)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "data.ingest" and job.queue == "pipelines"
    staged = data_dir / job.spec["upload"]
    assert staged.read_bytes() == content
    assert files_under(data_dir / "uploads" / ".incoming") == []
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(job).state == "succeeded", job.error
    version = DatasetVersion.objects.get(dataset=dataset)
    assert version.documents == len(EN + ZH) * 3000
    assert files_under(data_dir / "uploads") == []


def test_upload_over_the_limit_is_413_and_leaves_nothing(personas, api, data_dir, settings):
    settings.FORGE_DATA_MAX_UPLOAD_BYTES = 1000
    dataset = DatasetFactory(project=personas.project)
    response = api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset.pk}/upload/",
        {"file": upload_file("big.jsonl", jsonl_bytes(EN * 40))},
        format="multipart",
    )
    assert response.status_code == 413
    assert "FORGE_DATA_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert files_under(data_dir) == [] and not Job.objects.exists()


def test_upload_with_a_length_over_the_limit_is_refused_unread(personas, api, data_dir, settings):
    settings.FORGE_DATA_MAX_UPLOAD_BYTES = 10
    dataset = DatasetFactory(project=personas.project)
    content = b"x" * (2 * 1024 * 1024)
    response = api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset.pk}/upload/",
        {"file": upload_file("big.txt", content)},
        format="multipart",
    )
    assert response.status_code == 413
    assert files_under(data_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", b"\xff\xfe not utf-8\n", "UTF-8"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type"),
        ("empty.txt", b"", "empty"),
    ],
)
def test_bad_upload_is_400_with_the_reason_and_leaves_nothing(
    personas, api, data_dir, name, content, message
):
    dataset = DatasetFactory(project=personas.project)
    response = api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset.pk}/upload/",
        {"file": upload_file(name, content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert message.lower() in response.json()["file"][0].lower()
    assert files_under(data_dir) == [] and not Job.objects.exists()


def test_upload_without_a_file_is_400(personas, api):
    dataset = DatasetFactory(project=personas.project)
    response = api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset.pk}/upload/", {"text_field": "x"}, format="multipart"
    )
    assert response.status_code == 400 and "file" in response.json()


def test_viewer_upload_is_403_and_stores_nothing(personas, api, data_dir):
    dataset = DatasetFactory(project=personas.project)
    response = api(personas.viewer).post(
        f"/api/v1/datasets/{dataset.pk}/upload/",
        {"file": upload_file("a.jsonl", jsonl_bytes(EN))},
        format="multipart",
    )
    assert response.status_code == 403 and files_under(data_dir) == []


# ------------------------------------------------------------------ the rest of the flow


def test_invalid_cleaning_steps_are_400_per_step(personas, api, world):
    response = api(personas.data_engineer).post(
        f"/api/v1/dataset-versions/{world['version'].pk}/clean/",
        {"steps": [{"rule": "mask_email"}, {"rule": "near_dedup", "params": {"threshold": 2}}]},
        format="json",
    )
    assert response.status_code == 400
    assert "threshold" in response.json()["steps"]["1"]


def test_cleaning_rules_are_listed_with_their_fields(personas, api):
    rules = api(personas.viewer).get("/api/v1/cleaning-rules/").json()
    names = [r["name"] for r in rules]
    assert "mask_credit_card" in names and "near_dedup" in names
    near = next(r for r in rules if r["name"] == "near_dedup")
    assert near["kind"] == "dedup" and "threshold" in [f["name"] for f in near["fields"]]


def test_the_whole_flow_through_the_api(personas, api, data_dir):
    client = api(personas.ml_engineer)
    created = client.post(
        "/api/v1/datasets/", {"project": "alpha", "name": "api flow"}, format="json"
    )
    assert created.status_code == 201, created.content
    dataset_id = created.json()["id"]
    job = client.post(
        f"/api/v1/datasets/{dataset_id}/upload/",
        {"file": upload_file("flow.jsonl", jsonl_bytes((EN + ZH) * 10))},
        format="multipart",
    )
    assert run_job(Job.objects.get(pk=job.json()["id"])).state == "succeeded"
    versions = client.get(f"/api/v1/dataset-versions/?dataset={dataset_id}").json()["results"]
    assert [v["number"] for v in versions] == [1]
    v1 = versions[0]["id"]

    job = client.post(
        f"/api/v1/dataset-versions/{v1}/clean/",
        {"steps": [{"rule": "mask_email"}, {"rule": "exact_dedup"}]},
        format="json",
    )
    assert job.status_code == 201, job.content
    assert run_job(Job.objects.get(pk=job.json()["id"])).state == "succeeded"
    v2 = client.get(f"/api/v1/dataset-versions/?dataset={dataset_id}").json()["results"][0]
    assert v2["number"] == 2 and v2["parent"] == v1 and v2["origin"] == "clean"
    detail = client.get(f"/api/v1/dataset-versions/{v2['id']}/").json()
    assert detail["report"]["documents_out"] == len(EN + ZH) - 1  # 10 copies, and one twin

    job = client.post(
        "/api/v1/tokenizers/", {"version": v2["id"], "vocab_size": 300}, format="json"
    )
    assert run_job(Job.objects.get(pk=job.json()["id"])).state == "succeeded"
    tokenizer = client.get("/api/v1/tokenizers/").json()["results"][0]
    assert tokenizer["vocab_size_requested"] == 300 and tokenizer["version"] == v2["id"]
    assert client.get(f"/api/v1/tokenizers/{tokenizer['id']}/").json()["stats"]["stats"]

    job = client.post(
        "/api/v1/corpora/",
        {"version": v1, "tokenizer": tokenizer["id"], "seq_len": 32, "val_fraction": 0.2},
        format="json",
    )
    assert job.status_code == 201, job.content
    assert run_job(Job.objects.get(pk=job.json()["id"])).state == "succeeded"
    corpus = client.get("/api/v1/corpora/").json()["results"][0]
    assert corpus["total_tokens"] > 0 and corpus["seq_len"] == 32
    assert client.get(f"/api/v1/corpora/{corpus['id']}/").json()["index"]["format"] == (
        "forge.packed-shards"
    )
