"""Issue 14, item 6 (second half): API answers and pages show members storage-relative
paths and a failure's message; the traceback stays on the job's log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.core.redact import error_message, failure_parts, storage_relative
from console.jobs import services as job_services
from console.jobs.models import Job, JobState
from console.registry.models import ModelVersion
from console.runs.models import Checkpoint
from tests.factories import JobFactory
from tests.fleet.conftest import Stream, make_node  # noqa: F401 - a fixture
from tests.policies.conftest import launch
from tests.runs.conftest import corpus, data_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _traceback(root: Path) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{root}/runs/7/train.py", line 3, in <module>\n'
        "    main()\n"
        f"ValueError: cannot read {root}/corpora/job-3/train.bin"
    )


def _no_server_paths(text: str, settings) -> None:
    for root in (settings.FORGE_DATA_DIR, settings.FORGE_RUNS_DIR, settings.FORGE_MODELS_DIR):
        assert str(root) not in text
        assert str(Path(root).resolve()) not in text


# ------------------------------------------------------------------ failures


def test_a_crashed_ranks_traceback_goes_to_the_log_and_the_error_is_its_message(
    settings,
    data_dir,  # noqa: F811 - the fixture
    personas,
    make_node,  # noqa: F811 - the fixture
    api,
    client,
):
    _, agent = make_node("gpu-a")
    job = job_services.job_submit(
        actor=personas.ml_engineer, project=personas.project, kind="demo.node", params={}
    )
    job_services.job_schedule(job_id=job.pk)
    s = Stream(job.pk)
    reason = f"exit code 1: {_traceback(data_dir)}"
    batch = [s.status("running"), s.status("failed", exit_code=1, reason=reason)]
    assert agent.post("/api/agent/v1/ingest", {"records": batch}, format="json").status_code == 200
    job = Job.objects.get(pk=job.pk)
    assert job.state == JobState.FAILED
    assert "Traceback" not in job.error and "\n" not in job.error
    assert job.error == f"exit code 1: ValueError: cannot read {data_dir}/corpora/job-3/train.bin"
    assert _traceback(data_dir) in job.log_tail  # the whole traceback, on the log

    body = api(personas.viewer).get(f"/api/v1/jobs/{job.pk}/")
    answer = body.json()
    assert answer["error"] == "exit code 1: ValueError: cannot read corpora/job-3/train.bin"
    assert "Traceback" in answer["log_tail"]
    _no_server_paths(body.content.decode(), settings)
    listed = api(personas.viewer).get("/api/v1/jobs/?state=failed").json()["results"]
    assert [j["error"] for j in listed] == [answer["error"]]

    client.force_login(personas.viewer)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    alert = page.split('class="alert alert-error"', 1)[1].split("</div>", 1)[0]
    assert "Traceback" not in alert and "ValueError: cannot read corpora/job-3" in alert
    assert "Traceback (most recent call last)" in page  # the log keeps it
    _no_server_paths(page, settings)


def test_an_error_stored_with_a_traceback_is_shown_as_its_message(settings, personas, api, client):
    job = JobFactory(
        project=personas.project,
        state=JobState.FAILED,
        error=f"unexpected error: {_traceback(settings.FORGE_DATA_DIR)}",
    )
    body = api(personas.viewer).get(f"/api/v1/jobs/{job.pk}/")
    assert (
        body.json()["error"] == "unexpected error: ValueError: cannot read corpora/job-3/train.bin"
    )
    assert "Traceback" not in body.content.decode()
    _no_server_paths(body.content.decode(), settings)
    client.force_login(personas.viewer)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Traceback" not in page
    _no_server_paths(page, settings)


# ------------------------------------------------------------------ paths


def test_run_dataset_and_model_answers_carry_no_server_path(
    settings,
    data_dir,  # noqa: F811 - the fixture
    personas,
    corpus,  # noqa: F811 - the fixture
    api,
    client,
):
    run = launch(personas.ml_engineer, personas.project, corpus)
    run.refresh_from_db()
    spec = json.dumps(run.job.spec)
    assert str(data_dir) in spec, "the stored spec has the server's paths (what the agent gets)"
    step_dir = Path(settings.FORGE_RUNS_DIR) / str(run.pk) / "step_2"
    Checkpoint.objects.create(run=run, step=2, tag="step_2", dir=str(step_dir))
    version = ModelVersion.objects.create(
        project=personas.project,
        name="tiny",
        number=1,
        run=run,
        step=2,
        folder="models/tiny-v1",
        files=[{"path": "config.json", "bytes": 2, "sha256": "c" * 64}],
        lineage={"run": run.pk, "checkpoint_dir": str(step_dir)},
    )
    client_api = api(personas.viewer)
    detail = client_api.get(f"/api/v1/runs/{run.pk}/").json()
    assert detail["spec"]["data"]["corpus_dir"] == corpus.storage_key
    assert detail["spec"]["checkpoint"]["dir"] == f"runs/{run.pk}"
    assert detail["checkpoints"][0]["dir"] == f"runs/{run.pk}/step_2"
    urls = [
        "/api/v1/runs/",
        f"/api/v1/runs/{run.pk}/",
        f"/api/v1/jobs/{run.job_id}/",
        "/api/v1/jobs/",
        "/api/v1/datasets/",
        f"/api/v1/datasets/{corpus.version.dataset_id}/",
        f"/api/v1/dataset-versions/{corpus.version_id}/",
        f"/api/v1/tokenizers/{corpus.tokenizer_id}/",
        f"/api/v1/corpora/{corpus.pk}/",
        "/api/v1/models/",
        f"/api/v1/models/{version.pk}/",
    ]
    for url in urls:
        response = client_api.get(url)
        assert response.status_code == 200, url
        _no_server_paths(response.content.decode(), settings)
    lineage = client_api.get(f"/api/v1/models/{version.pk}/").json()["lineage"]
    assert lineage["checkpoint_dir"] == f"runs/{run.pk}/step_2"

    client.force_login(personas.viewer)
    for url in (f"/runs/{run.pk}/", f"/jobs/{run.job_id}/"):
        page = client.get(url)
        assert page.status_code == 200, url
        _no_server_paths(page.content.decode(), settings)


def test_the_agent_still_gets_the_storage_roots(
    settings,
    data_dir,  # noqa: F811 - the fixture
    make_node,  # noqa: F811 - the fixture
):
    _, agent = make_node("gpu-a", register=False)
    reply = agent.post(
        "/api/agent/v1/register",
        {"name": "gpu-a", "agent_version": "test", "inventory": {"gpus": []}},
        format="json",
    )
    assert reply.status_code == 200, reply.content
    assert str(data_dir) in reply.json()["storage_roots"]


def test_storage_relative_names_each_root(settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "scratch" / "runs"
    settings.FORGE_MODELS_DIR = tmp_path / "data" / "models"
    settings.FORGE_DATA_IMPORT_ROOT = tmp_path / "imports"
    t = str(tmp_path)
    assert storage_relative(f"{t}/data/corpora/c1") == "corpora/c1"
    assert storage_relative(f"{t}/data") == "."
    assert storage_relative(f"{t}/scratch/runs/4/step_2") == "runs/4/step_2"
    assert storage_relative(f"{t}/data/models/m/v1") == "models/m/v1"
    assert storage_relative(f"{t}/imports/a.jsonl") == "imports/a.jsonl"
    assert storage_relative(f"read {t}/data/x.bin: no") == "read x.bin: no"
    assert storage_relative(f"'{t}/data/x', '{t}/data'") == "'x', '.'"
    # a sibling whose name starts like a root is not inside it
    assert storage_relative(f"{t}/data2/x") == f"{t}/data2/x"
    assert storage_relative("/etc/passwd") == "/etc/passwd"


def test_failure_parts_keep_what_preceded_the_traceback():
    assert failure_parts("exit code 3") == ("exit code 3", "")
    text = "node b: exit code 1: Traceback (most recent call last):\n  File x\n…\nOSError: gone\n"
    message, trace = failure_parts(text)
    assert message == "node b: exit code 1: OSError: gone" and trace == text
    chained = (
        "Traceback (most recent call last):\n  File a\nKeyError: 1\n\nDuring handling of the "
        "above exception, another exception occurred:\n\nTraceback (most recent call last):\n"
        "  File b\nRuntimeError: while handling"
    )
    assert error_message(chained) == "RuntimeError: while handling"
    assert error_message("") == ""
