from __future__ import annotations

import io
import zipfile

import pytest

from console.runs import services
from console.runs.models import Run
from tests.runs.conftest import CPU_RUN

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
    form = {"corpus": corpus.pk, "checkpoint_every": 5, "zero_stage": 2, **CPU_RUN}
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
