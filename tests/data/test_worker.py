"""Data jobs on a real Celery worker process (the queue ``pipelines``, as run_stack
starts it): an API upload is ingested, cleaned and tokenized with live progress, and a
cancelled job leaves no version behind."""

from __future__ import annotations

import pytest

from console.data.models import DatasetVersion, TokenizedCorpus, Tokenizer
from console.jobs.models import Job
from console.jobs.services import job_cancel
from tests.data.helpers import EN, SAMPLE, ZH, files_under, jsonl_bytes, upload_file
from tests.factories import DatasetFactory
from tests.processes import CeleryWorker, broker_purge, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("data_dir"),
]


@pytest.fixture
def worker(data_dir, monkeypatch, tmp_path, settings):
    """A worker that consumes the console's queues, with this test's data settings."""
    from workers.queues import CONSOLE_QUEUES

    assert "pipelines" in CONSOLE_QUEUES  # run_stack's worker consumes the data jobs' queue
    monkeypatch.setenv("FORGE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FORGE_DATA_IMPORT_ROOT", str(settings.FORGE_DATA_IMPORT_ROOT))
    broker_purge()
    with CeleryWorker(tmp_path / "worker.log", queues=",".join(CONSOLE_QUEUES)) as proc:
        yield proc


def _done(job_id: int, worker) -> Job:
    def finished():
        job = Job.objects.get(pk=job_id)
        return job if job.is_terminal else None

    job = wait_for(finished, timeout=120, interval=0.2, what=f"job {job_id}\n{worker.log()}")
    assert job.state == "succeeded", (job.error, job.log_tail, worker.log())
    return job


def test_upload_clean_tokenize_on_a_real_worker(personas, api, data_dir, worker):
    dataset = DatasetFactory(project=personas.project)
    client = api(personas.data_engineer)
    sample = (SAMPLE / "en.jsonl").read_bytes() + (SAMPLE / "zh.jsonl").read_bytes()
    response = client.post(
        f"/api/v1/datasets/{dataset.pk}/upload/",
        {"file": upload_file("sample.jsonl", sample)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    job = _done(response.json()["id"], worker)
    assert job.queue == "pipelines" and job.progress == 100
    assert "wrote 1,038 documents" in job.log_tail
    v1 = DatasetVersion.objects.get(dataset=dataset)
    assert files_under(data_dir / "uploads") == []  # consumed

    response = client.post(
        f"/api/v1/dataset-versions/{v1.pk}/clean/",
        {
            "steps": [
                {"rule": "normalize_whitespace"},
                {"rule": "mask_email"},
                {"rule": "exact_dedup"},
                {"rule": "near_dedup", "params": {"threshold": 0.8}},
            ]
        },
        format="json",
    )
    _done(response.json()["id"], worker)
    v2 = DatasetVersion.objects.get(dataset=dataset, number=2)
    assert v2.parent == v1 and v2.documents < v1.documents
    assert v2.report["dedup"][0]["duplicates"] > 0  # the sample plants duplicates

    response = client.post(
        "/api/v1/tokenizers/", {"version": v2.pk, "vocab_size": 500}, format="json"
    )
    _done(response.json()["id"], worker)
    tokenizer = Tokenizer.objects.get()
    response = client.post(
        "/api/v1/corpora/",
        {"version": v2.pk, "tokenizer": tokenizer.pk, "seq_len": 128},
        format="json",
    )
    _done(response.json()["id"], worker)
    corpus = TokenizedCorpus.objects.get()
    assert corpus.total_tokens > 100_000 and corpus.shards >= 1


def test_cancel_on_a_real_worker_leaves_no_version(personas, api, data_dir, worker, settings):
    """An input big enough (150 MB, a few seconds of reading) that the job is still
    running when it is cancelled; registered as a server path, so no upload is held."""
    dataset = DatasetFactory(project=personas.project)
    block = jsonl_bytes([t * 40 for t in EN + ZH]) * 100
    with (settings.FORGE_DATA_IMPORT_ROOT / "big.jsonl").open("wb") as f:
        while f.tell() < 150_000_000:
            f.write(block)
    response = api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset.pk}/import/", {"path": "big.jsonl"}, format="json"
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    # Cancel as soon as a worker runs it (a fast machine reads 150 MB in a second or two,
    # so waiting for its first progress report could see it already finished).
    job = wait_for(
        lambda: (
            j if ((j := Job.objects.get(pk=job_id)).state == "running" or j.is_terminal) else None
        ),
        timeout=60,
        interval=0.02,
        what="the ingest to start",
    )
    assert job.state == "running", (job.state, job.error, worker.log())
    job_cancel(actor=personas.data_engineer, job_id=job_id)
    wait_for(
        lambda: "stopped: job is now cancelled" in Job.objects.get(pk=job_id).log_tail,
        timeout=60,
        what=f"the worker to stop the job\n{worker.log()}",
    )
    assert Job.objects.get(pk=job_id).state == "cancelled"
    assert not DatasetVersion.objects.exists()
    wait_for(lambda: files_under(data_dir) == [], timeout=10, what=str(files_under(data_dir)))
