from __future__ import annotations

import pytest
from django.db import transaction

from console.metrics.services import metric_series_append
from console.runs import services
from tests.runs.conftest import CPU_RUN, make_corpus

pytestmark = [pytest.mark.django_db]

ROLES = ["viewer", "data_engineer", "ml_engineer", "reviewer", "admin", "outsider"]
MEMBERS = set(ROLES) - {"outsider"}
LAUNCHERS = {"ml_engineer", "admin"}


@pytest.fixture
def run(personas, corpus):
    return services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )


@pytest.mark.parametrize("role", ROLES)
def test_read_permission_matrix(personas, api, run, role):
    client = api(personas.by_role()[role])
    for url in ("/api/v1/runs/", f"/api/v1/runs/{run.pk}/", "/api/v1/presets/"):
        response = client.get(url)
        expected = 200 if role in MEMBERS else 403
        assert response.status_code == expected, (url, response.content)
    if role in MEMBERS:
        listed = client.get("/api/v1/runs/").json()
        ids = [r["id"] for r in listed.get("results", listed)]
        assert ids == [run.pk]


@pytest.mark.parametrize("role", ROLES)
def test_launch_permission_matrix(personas, api, corpus, role):
    client = api(personas.by_role()[role])
    response = client.post(
        "/api/v1/runs/", {"project": "alpha", "corpus": corpus.pk, **CPU_RUN}, format="json"
    )
    assert response.status_code == (201 if role in LAUNCHERS else 403), response.content
    if role in LAUNCHERS:
        body = response.json()
        assert body["state"] == "queued" and body["checkpoints"] == []
        assert body["spec"]["model"]["vocab_size"] == 480


def test_another_team_sees_nothing(personas, api, run):
    client = api(personas.stranger)
    assert client.get(f"/api/v1/runs/{run.pk}/").status_code == 404
    listed = client.get("/api/v1/runs/").json()
    assert listed.get("results", listed) == []
    response = client.post(
        "/api/v1/runs/", {"project": "beta", "corpus": run.corpus_id, **CPU_RUN}, format="json"
    )
    assert response.status_code == 400 and "corpus" in response.json()


def test_bad_launch_answers_field_errors(personas, api, corpus):
    client = api(personas.ml_engineer)
    payload = {"project": "alpha", "corpus": corpus.pk, **CPU_RUN}
    response = client.post("/api/v1/runs/", {**payload, "preset": "nope"}, format="json")
    assert response.status_code == 400 and "unknown preset" in response.json()["preset"][0]
    response = client.post(
        "/api/v1/runs/",
        {**payload, "deepspeed": {"train_micro_batch_size_per_gpu": 7}},
        format="json",
    )
    assert response.status_code == 400
    assert "train_micro_batch_size_per_gpu" in response.json()["deepspeed_json"][0]


def test_a_deepspeed_config_naming_paths_is_refused(personas, api, corpus):
    """Forge builds every path of a run; a config naming one (an NVMe offload folder, a
    monitor's output) is refused with the key named, and no run is stored (S14)."""
    from console.runs.models import Run

    client = api(personas.ml_engineer)
    payload = {"project": "alpha", "corpus": corpus.pk, **CPU_RUN}
    response = client.post(
        "/api/v1/runs/",
        {
            **payload,
            "deepspeed": {
                "zero_optimization": {
                    "stage": 2,
                    "offload_optimizer": {"device": "nvme", "nvme_path": "/root"},
                },
                "tensorboard": {"enabled": True, "output_path": "/etc/cron.d"},
            },
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    problems = " ".join(response.json()["deepspeed_json"])
    assert "zero_optimization.offload_optimizer.nvme_path names a file or folder" in problems
    assert "tensorboard.output_path" in problems
    assert not Run.objects.exists()
    # The refusal is audited with who, where and what.
    from console.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="run.create_refused")
    assert event.actor == personas.ml_engineer and event.project_id == personas.project.pk
    assert "zero_optimization.offload_optimizer.nvme_path" in " ".join(
        event.after["errors"]["deepspeed_json"]
    )


def test_detail_lists_checkpoints(personas, api, run):
    # as the fleet's ingest does when the job's stream announces a checkpoint
    services.run_checkpoint_announced(run.job_id, {"step": 5, "tag": "step_5", "dir": "/r/step_5"})
    body = api(personas.viewer).get(f"/api/v1/runs/{run.pk}/").json()
    assert [c["step"] for c in body["checkpoints"]] == [5]
    assert body["deepspeed"]["train_micro_batch_size_per_gpu"] == 4


def test_presets_table(personas, api):
    response = api(personas.viewer).get("/api/v1/presets/?gpus_per_node=2&vocab_size=52000")
    presets = {p["name"]: p for p in response.json()}
    assert 6.8e9 < presets["deepseek-7b"]["params"] < 7.0e9
    assert len(presets["tiny"]["memory"]) == 7
    assert api(personas.viewer).get("/api/v1/presets/?nodes=0").status_code == 400


def add_points(run, name: str, steps, values, attempt: int = 1) -> None:
    with transaction.atomic():
        metric_series_append({(run.job_id, attempt, name): (list(steps), list(values))})


@pytest.mark.parametrize("role", ROLES)
def test_compare_permission_matrix(personas, api, run, role):
    response = api(personas.by_role()[role]).get(f"/api/v1/runs/compare/?runs={run.pk}")
    assert response.status_code == (200 if role in MEMBERS else 403), response.content
    if role in MEMBERS:
        assert [r["id"] for r in response.json()] == [run.pk]


def test_compare_rows(personas, api, run, corpus):
    other = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, "name": "b", "grad_accum": 4},
    )
    add_points(run, "loss", [1, 2, 3], [3.0, 2.5, 2.25])
    add_points(run, "eval_loss", [2, 3], [2.75, 2.6])
    # a resumed attempt re-reports step 3: the last value stored counts
    add_points(run, "loss", [3], [2.2], attempt=2)
    response = api(personas.viewer).get(f"/api/v1/runs/compare/?runs={other.pk},{run.pk}")
    assert response.status_code == 200
    second, first = response.json()
    assert (second["id"], first["id"]) == (other.pk, run.pk)  # the order asked for
    assert first["label"] == f"run {run.pk} · {run.name}"
    assert first["latest_step"] == 3 and first["last_loss"] == 2.2
    assert first["best_eval_loss"] == 2.6
    assert first["gpus_per_node"] == 0 and first["nodes"] == 1
    assert first["micro_batch"] == 4 and first["grad_accum"] == 2
    assert first["preset"] == "tiny" and first["params"] == run.params
    assert first["corpus"] == run.corpus_id and first["state"] == "queued"
    assert first["lr"] == run.spec["optimizer"]["lr"]
    assert second["grad_accum"] == 4
    assert second["latest_step"] is None and second["last_loss"] is None
    assert second["best_eval_loss"] is None


def test_compare_hides_another_teams_runs(personas, api, run, data_dir):
    theirs = services.run_create(
        actor=personas.stranger,
        project=personas.other_project,
        corpus=make_corpus(personas.other_project, key="corpora/job-9"),
        **CPU_RUN,
    )
    client = api(personas.viewer)
    assert client.get(f"/api/v1/runs/compare/?runs={theirs.pk}").status_code == 404
    mixed = client.get(f"/api/v1/runs/compare/?runs={run.pk},{theirs.pk}")
    assert [r["id"] for r in mixed.json()] == [run.pk]
    assert api(personas.stranger).get(f"/api/v1/runs/compare/?runs={run.pk}").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["", "?runs=", "?runs=a,b", "?runs=0", "?runs=" + ",".join(str(i) for i in range(1, 12))],
)
def test_compare_bad_input(personas, api, run, query):
    response = api(personas.viewer).get(f"/api/v1/runs/compare/{query}")
    assert response.status_code == 400 and response.json()["runs"], response.content
