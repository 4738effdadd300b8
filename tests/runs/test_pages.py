from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.db import transaction

from console.jobs.models import Job
from console.metrics.services import metric_series_append
from console.runs import services
from console.runs.models import Run
from tests.runs.conftest import CPU_RUN, make_corpus

pytestmark = [pytest.mark.django_db]
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def run(personas, corpus):
    return services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )


def test_list_full_and_partial(client, personas, run):
    client.force_login(personas.viewer)
    page = client.get("/runs/")
    assert page.status_code == 200 and b"<html" in page.content
    assert run.name.encode() in page.content and b'href="/runs/"' in page.content
    part = client.get("/runs/", **HX)
    assert part.status_code == 200 and b"<html" not in part.content
    assert run.name.encode() in part.content


def test_detail_full_and_partial(client, personas, run):
    client.force_login(personas.viewer)
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200 and b'id="job-metrics"' in page.content
    assert b"train_micro_batch_size_per_gpu" in page.content
    part = client.get(f"/runs/{run.pk}/", **HX)
    assert part.status_code == 200 and b"<html" not in part.content
    assert b'id="job-status"' in part.content and b"hx-get" in part.content
    client.force_login(personas.stranger)
    assert client.get(f"/runs/{run.pk}/").status_code == 404


def test_new_form_needs_training_write(client, personas, corpus):
    client.force_login(personas.data_engineer)
    assert client.get("/runs/new/").status_code == 403
    client.force_login(personas.ml_engineer)
    page = client.get("/runs/new/")
    assert page.status_code == 200 and b"deepseek-7b" in page.content


def test_new_form_shows_json_errors_inline_and_launches(client, personas, corpus):
    client.force_login(personas.ml_engineer)
    form = {
        "corpus": corpus.pk,
        "checkpoint_every": 5,
        "zero_stage": 2,
        "max_restarts": 2,
        **CPU_RUN,
    }
    bad = client.post("/runs/new/", {**form, "deepspeed_json": "{oops"})
    assert bad.status_code == 400 and b"Not valid JSON" in bad.content
    cannot = client.post("/runs/new/", {**form, "gpus_per_node": 1})
    assert cannot.status_code == 400 and b"no free capacity" in cannot.content
    assert not Run.objects.exists()
    ok = client.post("/runs/new/", form)
    assert ok.status_code == 302
    run = Run.objects.get()
    assert ok["Location"] == f"/runs/{run.pk}/"


def test_tensorboard_zip(client, personas, run, tmp_path):
    client.force_login(personas.viewer)
    assert client.get(f"/runs/{run.pk}/tensorboard.zip").status_code == 404
    folder = tmp_path / "forge-data" / "runs" / str(run.pk) / "tensorboard"
    folder.mkdir(parents=True)
    (folder / "events.out.tfevents.1").write_bytes(b"event-bytes")
    response = client.get(f"/runs/{run.pk}/tensorboard.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read(f"run-{run.pk}/events.out.tfevents.1") == b"event-bytes"


# ------------------------------------------------------------------ run controls

PAUSE, RESUME, CANCEL = "pause", "resume", "cancel"


def set_state(run, state: str, **fields) -> None:
    Job.objects.filter(pk=run.job_id).update(state=state, **fields)


def buttons(content: bytes, run) -> set[str]:
    return {
        a for a in (PAUSE, RESUME, CANCEL) if f'action="/runs/{run.pk}/{a}/"'.encode() in content
    }


@pytest.mark.parametrize(
    ("state", "role", "expected"),
    [
        ("running", "ml_engineer", {PAUSE, CANCEL}),
        ("running", "data_engineer", {PAUSE, CANCEL}),
        ("running", "viewer", set()),
        ("running", "reviewer", set()),
        ("paused", "ml_engineer", {RESUME, CANCEL}),
        ("paused", "viewer", set()),
        ("queued", "admin", {CANCEL}),
        ("succeeded", "ml_engineer", set()),
        ("cancelled", "admin", set()),
    ],
)
def test_control_buttons_by_state_and_role(client, personas, run, state, role, expected):
    set_state(run, state)
    client.force_login(personas.by_role()[role])
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200 and buttons(page.content, run) == expected
    part = client.get(f"/runs/{run.pk}/", **HX)
    assert buttons(part.content, run) == expected
    # an active job's partial keeps polling (slower while paused); a finished one stops
    if state in {"succeeded", "cancelled"}:
        assert b"hx-get" not in part.content
    else:
        delay = "5s" if state == "paused" else "2s"
        assert f'hx-trigger="load delay:{delay}"'.encode() in part.content


def test_requester_without_manage_may_cancel_only(client, personas, run):
    set_state(run, "running", requested_by=personas.viewer)
    client.force_login(personas.viewer)
    assert buttons(client.get(f"/runs/{run.pk}/").content, run) == {CANCEL}
    assert client.post(f"/runs/{run.pk}/pause/", **HX).status_code == 403
    response = client.post(f"/runs/{run.pk}/cancel/", **HX)
    assert response.status_code == 200 and b'data-state="cancelled"' in response.content
    run.job.refresh_from_db()
    assert run.job.state == "cancelled"


def test_pause_then_resume_through_htmx(client, personas, run):
    set_state(run, "running")
    client.force_login(personas.ml_engineer)
    paused = client.post(f"/runs/{run.pk}/pause/", **HX)
    assert paused.status_code == 200 and b"<html" not in paused.content
    assert b'data-state="paused"' in paused.content
    assert buttons(paused.content, run) == {RESUME, CANCEL}
    assert b'hx-trigger="load delay:5s"' in paused.content  # still polled: it is not over
    run.job.refresh_from_db()
    assert run.job.state == "paused"
    resumed = client.post(f"/runs/{run.pk}/resume/", **HX)
    assert resumed.status_code == 200 and b'data-state="queued"' in resumed.content
    run.job.refresh_from_db()
    assert run.job.state == "queued"


def test_refusals_are_shown_inline(client, personas, run):
    client.force_login(personas.ml_engineer)
    conflict = client.post(f"/runs/{run.pk}/pause/", **HX)  # a queued job cannot pause
    assert conflict.status_code == 409
    assert b'data-testid="action-error"' in conflict.content
    assert b"only a running job can be paused" in conflict.content
    assert b'id="job-status"' in conflict.content and b"<html" not in conflict.content
    set_state(run, "running")
    client.force_login(personas.viewer)
    refused = client.post(f"/runs/{run.pk}/pause/", **HX)
    assert refused.status_code == 403 and b"jobs.manage" in refused.content
    assert b'id="job-status"' in refused.content
    run.job.refresh_from_db()
    assert run.job.state == "running"


def test_plain_posts_redirect_with_a_message(client, personas, run):
    set_state(run, "running")
    client.force_login(personas.ml_engineer)
    response = client.post(f"/runs/{run.pk}/pause/", follow=True)
    assert response.redirect_chain == [(f"/runs/{run.pk}/", 302)]
    assert b"paused" in response.content
    again = client.post(f"/runs/{run.pk}/pause/", follow=True)
    assert b"only a running job can be paused" in again.content
    client.force_login(personas.viewer)
    assert client.post(f"/runs/{run.pk}/resume/").status_code == 403
    assert client.get(f"/runs/{run.pk}/pause/").status_code == 405


def test_controls_of_another_teams_run_are_404(client, personas, run):
    set_state(run, "running")
    client.force_login(personas.stranger)  # an ML engineer, of project beta
    for action in (PAUSE, RESUME, CANCEL):
        assert client.post(f"/runs/{run.pk}/{action}/", **HX).status_code == 404
    run.job.refresh_from_db()
    assert run.job.state == "running"


# ------------------------------------------------------------------ compare


def add_points(run, name: str, steps, values, attempt: int = 1) -> None:
    with transaction.atomic():
        metric_series_append({(run.job_id, attempt, name): (list(steps), list(values))})


@pytest.fixture
def two_runs(personas, corpus, run):
    other = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, "name": "second", "micro_batch": 2, "grad_accum": 4},
    )
    add_points(run, "loss", range(1, 11), [5.0 - 0.1 * i for i in range(10)])
    add_points(run, "eval_loss", [5, 10], [4.8, 4.5])
    add_points(other, "loss", range(1, 6), [6.0, 5.5, 5.2, 5.1, 5.0])
    add_points(other, "eval_loss", [5], [5.05])
    return run, other


@pytest.fixture
def theirs(personas, data_dir):
    corpus = make_corpus(personas.other_project, key="corpora/job-9")
    return services.run_create(
        actor=personas.stranger,
        project=personas.other_project,
        corpus=corpus,
        **{**CPU_RUN, "name": "beta-secret"},
    )


def test_list_checkboxes_lead_to_compare(client, personas, two_runs):
    a, b = two_runs
    client.force_login(personas.viewer)
    page = client.get("/runs/")
    assert b'action="/runs/compare/"' in page.content
    for r in (a, b):
        assert f'name="runs" value="{r.pk}"'.encode() in page.content
    # the checkboxes send runs=1&runs=2; the page takes that as well as runs=1,2
    both = client.get("/runs/compare/", {"runs": [a.pk, b.pk]})
    assert both.status_code == 200 and f"run {b.pk} · second".encode() in both.content


def test_compare_page_full_and_partial(client, personas, two_runs):
    a, b = two_runs
    client.force_login(personas.viewer)
    page = client.get(f"/runs/compare/?runs={a.pk},{b.pk}")
    assert page.status_code == 200 and b"<html" in page.content
    html = page.content.decode()
    for metric in ("loss", "eval_loss", "lr", "tokens_per_s"):
        assert f'id="chart-{metric}"' in html
    assert "runs_compare.js" in html and 'id="compare-config"' in html
    assert f"run {a.pk} · {a.name}" in html and f"run {b.pk} · second" in html
    rows = re.findall(r'<tr data-run="(\d+)">(.*?)</tr>', html, re.S)
    assert [int(r[0]) for r in rows] == [a.pk, b.pk]
    first, second = rows[0][1], rows[1][1]
    assert "4.1000" in first and "4.5000" in first and ">10 <" in first  # last, best, step
    assert "5.0000" in second and "5.0500" in second and "2 \N{MULTIPLICATION SIGN} 4" in second
    assert "CPU \N{MULTIPLICATION SIGN} 1" in first and "<code>tiny</code>" in first
    # active runs: the table refreshes itself; the htmx partial is the table only
    assert 'hx-trigger="load delay:5s"' in html
    part = client.get(f"/runs/compare/?runs={a.pk},{b.pk}", **HX)
    assert part.status_code == 200 and b"<html" not in part.content
    assert b'id="compare-table"' in part.content and b"chart-loss" not in part.content
    set_state(a, "succeeded")
    set_state(b, "failed")
    done = client.get(f"/runs/compare/?runs={a.pk},{b.pk}", **HX)
    assert b"hx-get" not in done.content


def test_compare_leaves_out_what_you_cannot_see(client, personas, two_runs, theirs):
    a, _b = two_runs
    client.force_login(personas.viewer)
    mixed = client.get(f"/runs/compare/?runs={a.pk},{theirs.pk}")
    assert mixed.status_code == 200 and b"beta-secret" not in mixed.content
    missing = client.get(f"/runs/compare/?runs={a.pk},999999")
    # another team's run reads exactly like one that does not exist
    left_out = re.compile(rb'data-testid="compare-missing">([^<]*)<')
    assert left_out.search(mixed.content).group(1).replace(str(theirs.pk).encode(), b"N") == (
        left_out.search(missing.content).group(1).replace(b"999999", b"N")
    )
    only = client.get(f"/runs/compare/?runs={theirs.pk}")
    assert only.status_code == 404 and b"beta-secret" not in only.content
    assert client.get("/runs/compare/?runs=999999").status_code == 404
    data = client.get(f"/runs/compare/data.json?runs={theirs.pk}&name=loss")
    assert data.status_code == 404 and b"beta-secret" not in data.content
    data = client.get(f"/runs/compare/data.json?runs={theirs.pk},{a.pk}&name=loss").json()
    assert [r["id"] for r in data["runs"]] == [a.pk]
    client.force_login(personas.outsider)  # no role: refused, as the runs list is
    assert client.get(f"/runs/compare/?runs={a.pk}").status_code == 403
    assert client.get(f"/runs/compare/data.json?runs={a.pk}&name=loss").status_code == 403


BAD_RUNS = [
    ("", "Choose at least one run"),
    ("abc", "positive whole numbers"),
    ("1,x", "positive whole numbers"),
    ("-3", "positive whole numbers"),
    ("1" * 40, "positive whole numbers"),
    (",".join(str(i) for i in range(1, 12)), "at most 10 runs"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_RUNS)
def test_compare_bad_ids(client, personas, run, raw, message):
    client.force_login(personas.viewer)
    page = client.get("/runs/compare/", {"runs": raw})
    assert page.status_code == 400
    assert message.encode() in page.content and b'data-testid="compare-error"' in page.content
    data = client.get("/runs/compare/data.json", {"runs": raw, "name": "loss"})
    assert data.status_code == 400 and message in data.json()["error"]


def test_compare_without_runs_param_explains(client, personas):
    client.force_login(personas.viewer)
    page = client.get("/runs/compare/")
    assert page.status_code == 400 and b"Choose at least one run" in page.content


def test_compare_data_series_and_new_points(client, personas, two_runs):
    a, b = two_runs
    client.force_login(personas.viewer)
    url = f"/runs/compare/data.json?runs={a.pk},{b.pk}&name=loss"
    body = client.get(url).json()
    assert body["name"] == "loss" and body["active"] is True
    assert [r["label"] for r in body["runs"]] == [f"run {a.pk} · {a.name}", f"run {b.pk} · second"]
    assert body["runs"][0]["steps"] == list(range(1, 11)) and len(body["runs"][1]["steps"]) == 5
    add_points(a, "loss", [11, 12], [3.9, 3.8])
    newer = client.get(f"{url}&after=10,5").json()
    assert newer["runs"][0]["steps"] == [11, 12] and newer["runs"][1]["steps"] == []
    none = client.get(f"{url}&after=-1,-1").json()  # -1: everything
    assert len(none["runs"][0]["steps"]) == 12
    for bad in ("&after=1", "&after=a,b", "&max_points=5"):
        assert client.get(url + bad).status_code == 400, bad
    assert client.get(f"/runs/compare/data.json?runs={a.pk}").status_code == 400
    assert client.get(f"/runs/compare/data.json?runs={a.pk}&name=a%20b").status_code == 400


def test_compare_data_downsamples_and_keeps_spikes(client, personas, run):
    steps = list(range(1, 50_001))
    values = [2.0] * len(steps)
    values[31_337] = 99.0  # one spike
    add_points(run, "loss", steps, values)
    client.force_login(personas.viewer)
    body = client.get(f"/runs/compare/data.json?runs={run.pk}&name=loss&max_points=500").json()
    series = body["runs"][0]
    assert series["downsampled"] is True and series["total"] == 50_000
    assert len(series["steps"]) <= 500 and 99.0 in series["values"]
