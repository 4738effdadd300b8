"""The data app's services and job handlers, run in this process through the jobs
core's real path (schedule, dispatch, claim, execute, transition, hook)."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
import zipfile

import pytest

from console.audit.models import AuditEvent
from console.core.errors import Forbidden
from console.data import jobs as data_jobs
from console.data import services
from console.data.models import Dataset, DatasetVersion, Origin, TokenizedCorpus, Tokenizer
from console.jobs import services as job_services
from console.jobs.execution import JobContext
from console.jobs.models import Job, JobState
from gpu_agent.data import PackedShards
from tests.data.helpers import EN, ZH, files_under, jsonl_bytes, run_job, staged
from tests.factories import DatasetFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

PIPELINE = [
    {"rule": "normalize_whitespace", "params": {}},
    {"rule": "length_filter", "params": {"min_chars": 20}},
    {"rule": "mask_email", "params": {}},
    {"rule": "mask_phone", "params": {}},
    {"rule": "mask_credit_card", "params": {}},
    {"rule": "exact_dedup", "params": {}},
]


@pytest.fixture
def dataset(personas):
    return services.dataset_create(
        actor=personas.data_engineer, project=personas.project, name="filings"
    )


def ingest(personas, dataset, data_dir, texts=EN + ZH, name="docs.jsonl", **kwargs):
    job = services.dataset_upload(
        actor=personas.data_engineer,
        dataset=dataset,
        upload=staged(data_dir, name, jsonl_bytes(texts)),
        **kwargs,
    )
    return run_job(job)


# ------------------------------------------------------------------ datasets


def test_dataset_create_is_audited_and_names_are_unique_per_project(personas):
    dataset = services.dataset_create(
        actor=personas.data_engineer, project=personas.project, name="web crawl"
    )
    event = AuditEvent.objects.get(action="data.dataset.create")
    assert event.object_id == str(dataset.pk) and event.project_id == personas.project.pk
    with pytest.raises(services.FieldErrors) as err:
        services.dataset_create(actor=personas.admin, project=personas.project, name="web crawl")
    assert "name" in err.value.errors
    other = services.dataset_create(
        actor=personas.admin, project=personas.other_project, name="web crawl"
    )
    assert other.pk != dataset.pk


@pytest.mark.parametrize("who", ["viewer", "reviewer", "outsider"])
def test_only_data_writers_create(personas, who):
    with pytest.raises(Forbidden):
        services.dataset_create(actor=getattr(personas, who), project=personas.project, name="nope")
    assert not Dataset.objects.exists()


# ------------------------------------------------------------------ ingest


def test_upload_becomes_version_1_when_its_job_succeeds(
    personas, dataset, data_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = ingest(personas, dataset, data_dir)
    assert job.state == JobState.SUCCEEDED, job.error
    version = DatasetVersion.objects.get(dataset=dataset)
    assert version.number == 1 and version.origin == Origin.UPLOAD and version.job == job
    assert version.documents == len(EN + ZH) and version.parent is None
    assert version.source["filename"] == "docs.jsonl" and version.source["format"] == "jsonl"
    folder = data_dir / version.storage_key
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"] == version.sha256 and manifest["bytes"] == version.bytes
    assert set(version.language_mix) >= {"en", "zh"}
    # The upload was consumed: only the version's files remain.
    assert files_under(data_dir / "uploads") == []
    assert job.result["output_url"] == f"/data/jobs/{job.pk}/output/"
    event = AuditEvent.objects.get(action="data.version.create")
    assert event.actor == personas.data_engineer and event.after["job"] == job.pk
    assert AuditEvent.objects.filter(action="data.upload", object_id=str(dataset.pk)).exists()


def test_jsonl_text_field_is_configurable(personas, dataset, data_dir):
    content = jsonl_bytes(EN, field="body")
    job = services.dataset_upload(
        actor=personas.data_engineer,
        dataset=dataset,
        upload=staged(data_dir, "bodies.jsonl", content),
        text_field="body",
    )
    assert run_job(job).state == JobState.SUCCEEDED
    assert DatasetVersion.objects.get(dataset=dataset).documents == len(EN)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _parquet(texts: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"text": texts}), buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "documents"),
    [
        ("book.txt", b"A whole book in one file.\n\nWith two paragraphs.", 1),
        ("rows.parquet", _parquet(EN), len(EN)),
        ("texts.zip", _zip({"a.txt": b"first text", "dir/b.jsonl": jsonl_bytes(ZH)}), 3),
        ("texts.tar.gz", _targz({"a.txt": b"first text", "b.md": b"second"}), 2),
    ],
)
def test_every_format_ingests(personas, dataset, data_dir, name, content, documents):
    job = services.dataset_upload(
        actor=personas.data_engineer, dataset=dataset, upload=staged(data_dir, name, content)
    )
    assert run_job(job).state == JobState.SUCCEEDED, job.error
    assert DatasetVersion.objects.get(dataset=dataset).documents == documents


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"", "empty"),
        ("latin1.txt", "café crème".encode("latin-1"), "UTF-8"),
        ("binary.jsonl", b"\x7fELF\x02\x01\x01\x00" + bytes(200), "binary"),
        ("no-field.jsonl", b'{"body": "text"}\n', '"text"'),
        ("broken.jsonl", b"{not json\n", "JSON"),
        ("slip.zip", _zip({"../evil.txt": b"x"}), "zip slip"),
        ("abs.tar.gz", _targz({"/etc/evil.txt": b"x"}), "absolute"),
        ("notes.docx", b"PK\x03\x04", "unsupported"),
    ],
)
def test_bad_upload_is_refused_at_once_and_leaves_nothing(
    personas, dataset, data_dir, name, content, message
):
    with pytest.raises(services.FieldErrors) as err:
        services.dataset_upload(
            actor=personas.data_engineer,
            dataset=dataset,
            upload=staged(data_dir, name, content),
        )
    assert message.lower() in err.value.errors["file"][0].lower(), err.value.errors
    assert files_under(data_dir) == []
    assert not Job.objects.exists() and not DatasetVersion.objects.exists()


def test_bad_line_deep_in_a_file_fails_the_job_with_the_line_and_leaves_nothing(
    personas, dataset, data_dir, django_capture_on_commit_callbacks
):
    content = jsonl_bytes(EN) + b"this line is not JSON\n" + jsonl_bytes(ZH)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.dataset_upload(
            actor=personas.data_engineer,
            dataset=dataset,
            upload=staged(data_dir, "late.jsonl", content),
        )
        job = run_job(job)
    assert job.state == JobState.FAILED and job.attempt == 1  # R10: no retry
    assert "late.jsonl" in job.error and f"line {len(EN) + 1}" in job.error
    assert not DatasetVersion.objects.exists()
    assert files_under(data_dir) == []


def test_rerun_after_a_lost_worker_registers_the_first_attempts_output_once(
    personas, dataset, data_dir
):
    """R1: the first attempt wrote the version and died before the job was marked
    succeeded; the next attempt finds the complete output and registers it, once."""
    from console.jobs.execution import JobContext, job_claim
    from gpu_agent.spec import DataIngestSpec, spec_from_dict

    job = services.dataset_upload(
        actor=personas.data_engineer,
        dataset=dataset,
        upload=staged(data_dir, "docs.jsonl", jsonl_bytes(EN)),
    )
    job_services.job_schedule(job_id=job.pk)
    job = job_claim(job_id=job.pk, attempt=1)
    data_jobs.run_ingest(JobContext(job), spec_from_dict(DataIngestSpec, job.spec))
    assert not DatasetVersion.objects.exists()  # the worker "died" here
    job_services.job_requeue(job_id=job.pk, attempt=1, reason="worker lost")
    job = run_job(Job.objects.get(pk=job.pk))
    assert job.state == JobState.SUCCEEDED and job.attempt == 2
    assert "an earlier attempt wrote the whole version" in job.log_tail
    assert DatasetVersion.objects.get(dataset=dataset).documents == len(EN)


def test_ingest_refuses_a_dataset_of_another_project(personas, data_dir):
    """The generic jobs API refuses data kinds; the handler checks the project anyway."""
    theirs = DatasetFactory(project=personas.other_project)
    job = job_services.job_create(
        actor=personas.data_engineer,
        project=personas.project,
        kind="data.ingest",
        params={"dataset_id": theirs.pk, "source": "sample"},
    )
    job = run_job(job)
    assert job.state == JobState.FAILED and "not exist in this job's project" in job.error
    assert not DatasetVersion.objects.exists()


# ------------------------------------------------------------------ server paths and the sample


def test_server_path_under_the_root_is_imported(personas, dataset, data_dir, settings):
    folder = settings.FORGE_DATA_IMPORT_ROOT / "rulings"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(jsonl_bytes(EN))
    (folder / "b.txt").write_text("一份判决书的正文。", encoding="utf-8")
    job = services.dataset_import(actor=personas.data_engineer, dataset=dataset, path="rulings")
    assert run_job(job).state == JobState.SUCCEEDED, job.error
    version = DatasetVersion.objects.get(dataset=dataset)
    assert version.origin == Origin.SERVER and version.documents == len(EN) + 1
    assert version.source["path"] == "rulings"


@pytest.mark.parametrize(
    "path", ["../etc", "%2e%2e/etc", "%252e%252e/etc", "/etc/passwd", "file:///etc/passwd", "x\\y"]
)
def test_server_paths_outside_the_root_are_refused(personas, dataset, path):
    with pytest.raises(services.FieldErrors) as err:
        services.dataset_import(actor=personas.data_engineer, dataset=dataset, path=path)
    assert err.value.errors["path"]
    assert not Job.objects.exists()


def test_server_paths_are_off_without_an_import_root(personas, dataset, settings):
    settings.FORGE_DATA_IMPORT_ROOT = None
    with pytest.raises(services.FieldErrors) as err:
        services.dataset_import(actor=personas.data_engineer, dataset=dataset, path="x")
    assert "FORGE_DATA_IMPORT_ROOT" in err.value.errors["path"][0]


def test_sample_corpus_loads_once_and_ingests(personas):
    dataset = services.dataset_sample_load(actor=personas.admin, project=personas.project)
    assert services.dataset_sample_load(actor=personas.admin, project=personas.project) is None
    job = Job.objects.get(kind="data.ingest")
    assert run_job(job).state == JobState.SUCCEEDED, job.error
    version = dataset.versions.get()
    assert version.origin == Origin.SAMPLE and version.documents == 504 + 534
    assert version.language_mix["en"] > 0.3 and version.language_mix["zh"] > 0.3


# ------------------------------------------------------------------ cleaning


def test_clean_makes_a_child_version_with_lineage_and_report(personas, dataset, data_dir):
    ingest(personas, dataset, data_dir)
    v1 = DatasetVersion.objects.get(dataset=dataset)
    job = services.version_clean(actor=personas.data_engineer, version=v1, steps=PIPELINE)
    job = run_job(job)
    assert job.state == JobState.SUCCEEDED, job.error
    v2 = DatasetVersion.objects.get(dataset=dataset, number=2)
    assert v2.parent == v1 and v2.origin == Origin.CLEAN
    assert [s["rule"] for s in v2.pipeline] == [s["rule"] for s in PIPELINE]
    assert v2.pipeline[1]["params"] == {"min_chars": 20, "max_chars": 1_000_000}  # filled in
    report = v2.report
    assert report["documents_in"] == v1.documents
    assert report["documents_out"] == v2.documents == v1.documents - 1  # the duplicate
    assert (
        report["pii"]["email"] >= 2 and report["pii"]["credit_card"] == 2
    )  # the text says it twice
    assert report["dedup"][0]["duplicates"] == 1
    kept = str(report["dedup"][0]["examples"][0]["kept"])
    assert report["examples_text"][kept].startswith("The court dismissed")
    text = (data_dir / v2.storage_key / "documents.jsonl").read_text()
    assert "****-****-****-1111" in text and "jane.doe@example.org" not in text
    assert "本院认为" in text  # Chinese survives
    assert (
        v1.sha256
        == json.loads((data_dir / v2.storage_key / "manifest.json").read_text())["parent"]["sha256"]
    )


def test_invalid_pipeline_is_refused_with_errors_per_step(personas, dataset, data_dir):
    ingest(personas, dataset, data_dir)
    v1 = DatasetVersion.objects.get(dataset=dataset)
    steps = [
        {"rule": "mask_email", "params": {}},
        {"rule": "length_filter", "params": {"min_chars": -1}},
        {"rule": "no_such_rule"},
    ]
    with pytest.raises(services.PipelineInvalid) as err:
        services.version_clean(actor=personas.data_engineer, version=v1, steps=steps)
    assert set(err.value.errors) == {"1", "2"}
    assert "min_chars" in err.value.errors["1"]
    assert not Job.objects.filter(kind="data.clean").exists()


# ------------------------------------------------------------------ tokenizer and shards


def test_tokenizer_then_corpus_readable_by_the_trainers_loader(personas, dataset, data_dir):
    ingest(personas, dataset, data_dir, texts=(EN + ZH) * 20)
    version = DatasetVersion.objects.get(dataset=dataset)
    job = run_job(
        services.tokenizer_train(actor=personas.data_engineer, version=version, vocab_size=400)
    )
    assert job.state == JobState.SUCCEEDED, job.error
    tokenizer = Tokenizer.objects.get()
    assert tokenizer.vocab_size_requested == 400 and 260 <= tokenizer.vocab_size <= 400
    assert tokenizer.special_tokens == {"<bos>": 0, "<eos>": 1, "<pad>": 2, "<unk>": 3}
    assert tokenizer.bytes_per_token and tokenizer.stats["stats"]["samples"]
    assert tokenizer.project == personas.project
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(data_dir / tokenizer.storage_key))
    assert hf.decode(hf.encode("机器学习 court")) == "机器学习 court"

    job = run_job(
        services.corpus_tokenize(
            actor=personas.data_engineer,
            version=version,
            tokenizer=tokenizer,
            seq_len=64,
            val_fraction=0.2,
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error
    corpus = TokenizedCorpus.objects.get()
    assert corpus.total_tokens == corpus.train_tokens + corpus.val_tokens > 0
    assert corpus.dtype == "uint16" and corpus.shards >= 1
    train = PackedShards(data_dir / corpus.storage_key, "train", verify=True)
    item = train[0]
    assert len(item["input_ids"]) == 64 and set(item) == {"input_ids", "attention_mask", "labels"}
    assert AuditEvent.objects.filter(action="data.corpus.create").count() == 1


def test_tokenize_refuses_a_tokenizer_of_another_project(personas, dataset, data_dir):
    ingest(personas, dataset, data_dir)
    version = DatasetVersion.objects.get(dataset=dataset)
    run_job(services.tokenizer_train(actor=personas.admin, version=version, vocab_size=300))
    tokenizer = Tokenizer.objects.get()
    theirs = DatasetFactory(project=personas.other_project)
    other_version = DatasetVersion.objects.create(
        dataset=theirs,
        number=1,
        origin=Origin.UPLOAD,
        storage_key="datasets/x/versions/job-0",
        sha256="0" * 64,
        bytes=1,
        documents=1,
    )
    with pytest.raises(services.FieldErrors) as err:
        services.corpus_tokenize(actor=personas.admin, version=other_version, tokenizer=tokenizer)
    assert "tokenizer" in err.value.errors


# ------------------------------------------------------------------ housekeeping


def test_sweep_removes_uploads_no_job_will_read(personas, dataset, data_dir):
    import os
    import time

    job = services.dataset_upload(
        actor=personas.data_engineer,
        dataset=dataset,
        upload=staged(data_dir, "docs.jsonl", jsonl_bytes(EN)),
    )
    orphan = data_dir / "uploads" / "deadbeef"
    orphan.mkdir(parents=True)
    (orphan / "x.jsonl").write_bytes(b"{}")
    part = data_dir / "uploads" / ".incoming" / "old.part"
    part.write_bytes(b"x")
    old = time.time() - 3 * 24 * 3600
    for path in (orphan, part, data_dir / job.spec["upload"].rsplit("/", 1)[0]):
        os.utime(path, (old, old))
    report = services.data_sweep()
    assert report["uploads"] == 1 and report["parts"] == 1
    assert not orphan.exists() and not part.exists()
    assert (data_dir / job.spec["upload"]).is_file()  # its job is still queued


def _cancel_while_the_engine_runs(monkeypatch, actor, module, name) -> None:
    """Make ``module.name`` (an engine call, run in the job's engine thread) wait until
    the job's own thread has seen the job cancelled and told the engine to stop; the
    real engine then runs and must notice (``should_stop`` or its progress callback)."""
    runs = []
    real_run = data_jobs._EngineRun.run

    def run(self, *args, **kwargs):
        runs.append(self)
        return real_run(self, *args, **kwargs)

    started = threading.Event()
    real_engine = getattr(module, name)

    def engine(*args, **kwargs):
        started.set()
        deadline = time.monotonic() + 20
        while not runs[-1].should_stop():
            assert time.monotonic() < deadline, "the engine was never told to stop"
            time.sleep(0.01)
        return real_engine(*args, **kwargs)

    cancelled = []
    real_progress = JobContext.progress

    def progress(self, *args, **kwargs):
        if started.is_set() and not cancelled:
            cancelled.append(job_services.job_cancel(actor=actor, job_id=self.job_id))
        return real_progress(self, *args, **kwargs)

    monkeypatch.setattr(data_jobs._EngineRun, "run", run)
    monkeypatch.setattr(module, name, engine)
    monkeypatch.setattr(JobContext, "progress", progress)
    monkeypatch.setattr(data_jobs, "REPORT_EVERY_S", 0.0)


@pytest.mark.parametrize("kind", ["ingest", "clean", "tokenizer", "tokenize"])
def test_cancel_stops_the_engine_and_leaves_no_output(
    personas, dataset, data_dir, monkeypatch, kind, django_capture_on_commit_callbacks
):
    """Cancelled while the engine runs: the engine stops (should_stop, or its progress
    callback raising) and its half-written output, and an upload, are removed."""
    import console.data.engine.shards
    import console.data.engine.tokenizer

    actor = personas.data_engineer
    if kind != "ingest":
        ingest(personas, dataset, data_dir, texts=(EN + ZH) * 20)
        v1 = DatasetVersion.objects.get(dataset=dataset)
    if kind == "tokenize":
        run_job(services.tokenizer_train(actor=actor, version=v1, vocab_size=300))
    module, name = {
        "ingest": (data_jobs, "write_version"),
        "clean": (data_jobs, "run_pipeline"),
        "tokenizer": (console.data.engine.tokenizer, "train_tokenizer"),
        "tokenize": (console.data.engine.shards, "tokenize_to_shards"),
    }[kind]
    _cancel_while_the_engine_runs(monkeypatch, actor, module, name)
    before = files_under(data_dir)
    with django_capture_on_commit_callbacks(execute=True):
        if kind == "ingest":
            job = services.dataset_upload(
                actor=actor,
                dataset=dataset,
                upload=staged(data_dir, "docs.jsonl", jsonl_bytes(EN + ZH)),
            )
        elif kind == "clean":
            job = services.version_clean(actor=actor, version=v1, steps=PIPELINE)
        elif kind == "tokenizer":
            job = services.tokenizer_train(actor=actor, version=v1, vocab_size=300)
        else:
            job = services.corpus_tokenize(
                actor=actor, version=v1, tokenizer=Tokenizer.objects.get()
            )
        job = run_job(job)
    assert job.state == JobState.CANCELLED, job.error
    assert "stopped: job is now cancelled" in job.log_tail
    assert files_under(data_dir) == before  # nothing new, and the upload is gone
    assert DatasetVersion.objects.count() == (0 if kind == "ingest" else 1)
    assert Tokenizer.objects.count() == (1 if kind == "tokenize" else 0)
    assert not TokenizedCorpus.objects.exists()
