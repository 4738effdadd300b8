"""The registry's REST API: visibility per project, permissions, the jobs it queues,
clear 400s, and the zip download with SHA256SUMS (refused when tampered)."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from console.jobs.models import Job
from console.registry.models import ModelVersion
from tests.registry.conftest import ckpt_root, make_run, register, run_job

pytestmark = pytest.mark.django_db


def test_register_through_the_api(api, run, personas):
    response = api(personas.ml_engineer).post(
        "/api/v1/models/", {"run": run.pk, "step": 6, "name": "tiny-lm"}, format="json"
    )
    assert response.status_code == 201, response.json()
    job = run_job(Job.objects.get(pk=response.json()["id"]))
    assert job.state == "succeeded", job.error
    version = ModelVersion.objects.get(job=job)
    listed = api(personas.viewer).get("/api/v1/models/").json()
    assert [v["id"] for v in listed["results"]] == [version.pk]
    detail = api(personas.viewer).get(f"/api/v1/models/{version.pk}/").json()
    assert detail["status"] == "draft" and detail["lineage"]["run"] == run.pk
    assert {f["path"] for f in detail["files"]} >= {"config.json", "model.safetensors"}
    assert detail["evaluations"] == [] and detail["children"] == []


def test_register_errors_are_clear(api, run, personas):
    client = api(personas.ml_engineer)
    bad = client.post("/api/v1/models/", {"run": run.pk, "step": 5, "name": "x"}, format="json")
    assert bad.status_code == 400 and "no complete checkpoint at step 5" in bad.json()["step"][0]
    (ckpt_root(run) / "step_6" / "hf" / "pytorch_model.bin").write_bytes(b"x")
    bad = client.post("/api/v1/models/", {"run": run.pk, "step": 6, "name": "x"}, format="json")
    assert bad.status_code == 400 and "pickle" in bad.json()["step"][0]
    assert not Job.objects.exists()


def test_permissions_and_other_team(api, run, personas):
    payload = {"run": run.pk, "step": 6, "name": "x"}
    assert api(personas.viewer).post("/api/v1/models/", payload, format="json").status_code == 403
    assert api(None).get("/api/v1/models/").status_code in (401, 403)
    # another team's ML engineer: the run does not exist for them
    assert api(personas.stranger).post("/api/v1/models/", payload, format="json").status_code == 404
    version = register(run, personas.ml_engineer)
    stranger = api(personas.stranger)
    assert stranger.get("/api/v1/models/").json()["results"] == []
    for path in ("", "download/"):
        assert stranger.get(f"/api/v1/models/{version.pk}/{path}").status_code == 404
    for path in ("evaluate/", "quantize/"):
        body = {"method": "w8a16"} if path == "quantize/" else {}
        assert (
            stranger.post(f"/api/v1/models/{version.pk}/{path}", body, format="json").status_code
            == 404
        )
        assert (
            api(personas.viewer)
            .post(f"/api/v1/models/{version.pk}/{path}", body, format="json")
            .status_code
            == 403
        )
    assert api(personas.outsider).get(f"/api/v1/models/{version.pk}/").status_code == 403


def test_evaluate_and_quantize_queue_jobs(api, run, personas):
    version = register(run, personas.ml_engineer)
    client = api(personas.ml_engineer)
    response = client.post(
        f"/api/v1/models/{version.pk}/evaluate/",
        {"kind": "generation", "prompts": ["Hello"], "temperature": 0.5},
        format="json",
    )
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "model.evaluate" and job.spec["prompts"] == ["Hello"]
    assert job.spec["top_p"] == 0.92 and job.spec["repetition_penalty"] == 1.2
    bad = client.post(
        f"/api/v1/models/{version.pk}/evaluate/", {"kind": "generation"}, format="json"
    )
    assert bad.status_code == 400 and "prompts" in bad.json()
    response = client.post(
        f"/api/v1/models/{version.pk}/quantize/", {"method": "w8a16"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Job.objects.get(pk=response.json()["id"]).spec["method"] == "w8a16"
    bad = client.post(f"/api/v1/models/{version.pk}/quantize/", {"method": "int3"}, format="json")
    assert bad.status_code == 400


def test_download_zip_with_sums_and_tamper_refused(api, run, personas, dirs):
    version = register(run, personas.ml_engineer)
    response = api(personas.viewer).get(f"/api/v1/models/{version.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    prefix = f"tiny-lm-v{version.number}/"
    sums = archive.read(prefix + "SHA256SUMS").decode().splitlines()
    assert len(sums) == len(version.files)
    for line in sums:
        digest, path = line.split("  ", 1)
        assert hashlib.sha256(archive.read(prefix + path)).hexdigest() == digest
    target = dirs["models"] / version.folder / "config.json"
    target.write_text(target.read_text().replace("{", "{ ", 1))
    refused = api(personas.viewer).get(f"/api/v1/models/{version.pk}/download/")
    assert refused.status_code == 409 and "config.json" in refused.json()["detail"]


def test_another_projects_run_is_invisible_in_the_list(api, run, personas, dirs, random_hf):
    register(run, personas.ml_engineer)
    assert api(personas.stranger).get("/api/v1/models/?project=alpha").json()["results"] == []
    assert api(personas.admin).get("/api/v1/models/").json()["count"] == 1
    assert make_run  # (the helper is shared with the slow tests)
