"""The data job kinds and their handlers, run by a Celery worker (queue ``pipelines``).

Each handler reloads its rows, checks them against the job's project (the generic
jobs API accepts these kinds too), and writes its output inside
``Storage.atomic_dir(key)`` under a key named after the job: the output appears whole
or not at all. Progress goes to the job every second; a cancelled job (or a worker
shutting down) stops the engine at its next check and leaves nothing behind. Bad
input fails the job at once with the reader's message (R10: no retry).

The handler returns a small result; the rows (DatasetVersion, Tokenizer,
TokenizedCorpus) are made by ``services.data_job_left_active`` in the transaction
that marks the job succeeded. A job run again after its worker died finds its first
attempt's complete output under the same key and registers that.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse

from console.core.roles import Cap
from console.data.artifacts import (
    UPLOADS,
    corpus_key,
    data_storage,
    tokenizer_key,
    version_key,
)
from console.data.engine.chat import ChatMapping, iter_records, mask_record_pii, record_texts
from console.data.engine.clean import PipelineError, run_pipeline
from console.data.engine.readers import (
    InputError,
    detect_format,
    detect_path_format,
    iter_documents,
    resolve_server_path,
)
from console.data.engine.rules.base import utf8_len
from console.data.engine.storage import LocalStorage, StorageError
from console.data.engine.versions import (
    DOCUMENTS,
    VersionWriter,
    file_sha256,
    read_manifest,
    write_version,
)
from console.data.models import Dataset, DatasetVersion, Tokenizer
from console.data.services import SAMPLE_DIR, SAMPLE_FILES
from console.jobs import kinds
from console.jobs.execution import JobFailed, JobInterrupted, run_with_heartbeat
from console.jobs.kinds import JobContext
from console.jobs.models import TERMINAL_STATES, Job
from gpu_agent.spec import DataCleanSpec, DataIngestSpec, DataTokenizerTrainSpec, DataTokenizeSpec
from workers.queues import Queue

REPORT_EVERY_S = 1.0
EXAMPLE_CHARS = 400
MAX_EXAMPLE_DOCS = 200


class _Stopped(Exception):
    """Raised inside the engine's thread when the job's thread tells it to stop."""


class _EngineRun:
    """Runs one engine call in a thread of its own while the job's thread reports.

    The engine's callbacks (``progress``, ``should_stop``) only record figures and read
    a flag: they may be called from threads other than the job's (``tokenizers`` calls
    from its own), where the job's database connection does not exist. The job's
    thread sends the latest figures every second through ``ctx.progress``, which is
    also the jobs core's heartbeat and its cancel check: however long an engine phase
    runs without a callback (a tar.gz header scan, BPE merges), the job is not taken
    for lost. When ``ctx.progress`` raises JobInterrupted (the job was cancelled, or the
    worker is stopping), the engine is told to stop, waited for, and the exception goes
    on, out of the caller's ``atomic_dir``, which removes the partial output."""

    def __init__(self, ctx: JobContext, *, end: float = 97.0) -> None:
        self.ctx = ctx
        self.end = end
        self.fraction = 0.0
        self.message = ""
        self._stop = threading.Event()

    # Called by the engine, from any thread.
    def progress(self, fraction: float, message: str = "") -> None:
        self.fraction, self.message = fraction, message
        if self._stop.is_set():
            raise _Stopped

    def should_stop(self) -> bool:
        return self._stop.is_set()

    # Called by the job's thread.
    def run(self, work, message: str, *, storage: LocalStorage, key: str) -> Any:
        self.message = message
        return run_with_heartbeat(
            self.ctx,
            work,
            self._report,
            every=REPORT_EVERY_S or 0.02,
            stop=self._stop,
            # The engine may have finished just before the cancel was seen.
            on_stopped=lambda: _discard_if_ended(self.ctx, storage, key),
        )

    def _report(self) -> tuple[float, str]:
        return self.end * max(0.0, min(1.0, self.fraction)), self.message


def _job(ctx: JobContext) -> Job:
    return Job.objects.get(pk=ctx.job_id)


def _storage_path(storage: LocalStorage, key: str) -> Path:
    try:
        return storage.path(key)
    except StorageError as exc:
        raise JobFailed(str(exc)) from None


def _version(ctx: JobContext, version_id: int) -> DatasetVersion:
    version = (
        DatasetVersion.objects.select_related("dataset")
        .filter(pk=version_id, dataset__project_id=_job(ctx).project_id)
        .first()
    )
    if version is None:
        raise JobFailed(f"dataset version {version_id} does not exist in this job's project")
    return version


def _discard_if_ended(ctx: JobContext, storage: LocalStorage, key: str) -> None:
    """Remove the output of a job that was cancelled (or failed) meanwhile; keep that of
    a job handed back to the queue (its next attempt registers it)."""
    state = Job.objects.filter(pk=ctx.job_id).values_list("state", flat=True).first()
    if state in TERMINAL_STATES or state is None:
        storage.delete(key)


def _finish(ctx: JobContext, storage: LocalStorage, key: str, result: dict[str, Any]) -> dict:
    """The output is in place: one last check that the job still runs (a job cancelled
    while it was being written must not leave it behind), then the result."""
    try:
        ctx.progress(99, "registering the output")
    except JobInterrupted:
        _discard_if_ended(ctx, storage, key)
        raise
    return {
        **result,
        "storage_key": key,
        "output_url": reverse("data:job_output", args=[ctx.job_id]),
    }


def _version_result(storage: LocalStorage, key: str) -> dict[str, Any]:
    manifest = read_manifest(storage.path(key))
    return {k: manifest[k] for k in ("documents", "bytes", "sha256")}


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


# ------------------------------------------------------------------ data.ingest


def _counted(docs: Iterator[str], run: _EngineRun, total_bytes: int) -> Iterator[str]:
    size = 0
    for count, doc in enumerate(docs, start=1):
        size += utf8_len(doc)
        yield doc
        run.progress(size / total_bytes if total_bytes else 0.0, f"{count:,} documents read")


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _ingest_source(spec: DataIngestSpec, storage: LocalStorage) -> tuple[Iterator[str], dict, Path]:
    """(documents, source description for the manifest, input path) of an ingest. The
    documents are a lazy stream: nothing is read until it is iterated."""
    if spec.source == "upload":
        if not spec.upload.startswith(f"{UPLOADS}/"):
            raise JobFailed("an upload's key must be under uploads/")
        path = _storage_path(storage, spec.upload)
        if not path.is_file():
            raise JobFailed(f"{spec.filename}: the uploaded file is gone; upload it again")
        fmt = detect_format(spec.filename)
        docs: Iterator[str] = iter_documents(
            path, fmt=fmt, text_field=spec.text_field, display_name=spec.filename
        )
        source: dict[str, Any] = {"kind": "upload", "filename": spec.filename, "format": fmt}
        return docs, {**source, "text_field": spec.text_field}, path
    if spec.source == "server":
        root = settings.FORGE_DATA_IMPORT_ROOT
        if root is None:
            raise JobFailed("server paths are off (FORGE_DATA_IMPORT_ROOT is not set)")
        path = resolve_server_path(spec.path, Path(root))
        fmt = detect_path_format(path)
        docs = iter_documents(path, fmt=fmt, text_field=spec.text_field, display_name=spec.path)
        source = {"kind": "server", "path": spec.path, "format": fmt}
        return docs, {**source, "text_field": spec.text_field}, path
    files = [SAMPLE_DIR / name for name in SAMPLE_FILES]
    docs = itertools.chain.from_iterable(
        iter_documents(f, fmt="jsonl", display_name=f"sample/{f.name}") for f in files
    )
    source = {"kind": "sample", "files": list(SAMPLE_FILES), "format": "jsonl"}
    return docs, source, SAMPLE_DIR


def _record_source(spec: DataIngestSpec) -> tuple[Iterator[dict], dict, Path]:
    """(records, source description, input path) of a chat or preference ingest: one
    JSONL file, uploaded or under FORGE_DATA_IMPORT_ROOT, read lazily."""
    if spec.source == "upload":
        if not spec.upload.startswith(f"{UPLOADS}/"):
            raise JobFailed("an upload's key must be under uploads/")
        path = _storage_path(data_storage(), spec.upload)
        if not path.is_file():
            raise JobFailed(f"{spec.filename}: the uploaded file is gone; upload it again")
        name = spec.filename
        source: dict[str, Any] = {"kind": "upload", "filename": spec.filename}
    elif spec.source == "server":
        root = settings.FORGE_DATA_IMPORT_ROOT
        if root is None:
            raise JobFailed("server paths are off (FORGE_DATA_IMPORT_ROOT is not set)")
        path = resolve_server_path(spec.path, Path(root))
        name = spec.path
        source = {"kind": "server", "path": spec.path}
    else:
        raise JobFailed(f"{spec.records} records come from an upload or a server path")
    if not path.is_file() or detect_format(path.name) != "jsonl":
        raise JobFailed(f"{name}: {spec.records} records are read from one .jsonl file")
    mapping = None
    if spec.prompt_field:
        mapping = ChatMapping(
            prompt=spec.prompt_field,
            response=spec.response_field,
            system=spec.system_field or None,
        )
    records = iter_records(path, kind=spec.records, mapping=mapping, display_name=name)
    columns = {"prompt": spec.prompt_field, "response": spec.response_field}
    source.update(format="jsonl", records=spec.records)
    if mapping is not None:
        source["columns"] = {
            **columns,
            **({"system": spec.system_field} if spec.system_field else {}),
        }
    return records, source, path


def _write_records(
    records: Iterator[dict], out_dir: Path, run: _EngineRun, size: int, extra: dict
) -> Any:
    """Write fine-tuning records as a version, every text PII-masked by the data
    pipeline's detectors on the way in (counts per PII type in the manifest)."""
    masked: dict[str, int] = {}
    writer = VersionWriter(out_dir, extra=extra)
    read = 0
    try:
        for count, raw in enumerate(records, start=1):
            try:
                record, found = mask_record_pii(raw)
            except ValueError as exc:
                raise JobFailed(f"record {count}: {exc}") from None
            for pii_type, hits in found.items():
                masked[pii_type] = masked.get(pii_type, 0) + hits
            read += writer.add_record(record, record_texts(record))
            run.progress(read / size if size else 0.0, f"{count:,} records read")
    except BaseException:
        writer.abort()
        raise
    writer.extra["source"]["pii_masked"] = masked
    return writer.close()


def run_ingest(ctx: JobContext, spec: DataIngestSpec) -> dict:
    dataset = Dataset.objects.filter(pk=spec.dataset_id, project_id=_job(ctx).project_id).first()
    if dataset is None:
        raise JobFailed(f"dataset {spec.dataset_id} does not exist in this job's project")
    storage = data_storage()
    key = version_key(dataset.pk, ctx.job_id)
    if storage.exists(key):
        ctx.log("an earlier attempt wrote the whole version; registering it")
        return _finish(ctx, storage, key, _version_result(storage, key))
    run = _EngineRun(ctx)
    if spec.records:
        return _run_record_ingest(ctx, spec, dataset, storage, key, run)
    try:
        docs, source, path = _ingest_source(spec, storage)
        if spec.source == "sample":
            size = sum((SAMPLE_DIR / name).stat().st_size for name in SAMPLE_FILES)
        else:
            size = _tree_bytes(path)
        source["bytes"] = size
        ctx.log(f"reading {source['kind']} input ({source['format']}, {_mb(size)})")

        def work():
            if path.is_file():
                source["sha256"] = file_sha256(path)
            with storage.atomic_dir(key) as tmp:
                return write_version(
                    _counted(docs, run, size),
                    tmp,
                    extra={"source": source, "dataset": dataset.pk, "job": ctx.job_id},
                )

        stats = run.run(work, "reading", storage=storage, key=key)
    except InputError as exc:
        raise JobFailed(str(exc)) from None
    ctx.log(f"wrote {stats.documents:,} documents ({_mb(stats.bytes)}), sha256 {stats.sha256}")
    return _finish(ctx, storage, key, _version_result(storage, key))


def _run_record_ingest(ctx, spec, dataset, storage, key, run) -> dict:
    try:
        records, source, path = _record_source(spec)
        size = path.stat().st_size
        source["bytes"] = size
        ctx.log(f"reading {spec.records} records ({source['kind']}, {_mb(size)})")

        def work():
            source["sha256"] = file_sha256(path)
            extra = {"source": source, "dataset": dataset.pk, "job": ctx.job_id}
            with storage.atomic_dir(key) as tmp:
                return _write_records(records, tmp, run, size, extra)

        stats = run.run(work, "reading", storage=storage, key=key)
    except InputError as exc:
        raise JobFailed(str(exc)) from None
    found = stats.extra["source"]["pii_masked"].items()
    masked = ", ".join(f"{k} x{v}" for k, v in found) or "none"
    ctx.log(
        f"wrote {stats.documents:,} {spec.records} records ({_mb(stats.bytes)}); "
        f"PII masked: {masked}"
    )
    return _finish(ctx, storage, key, _version_result(storage, key))


# ------------------------------------------------------------------ data.clean


def _example_texts(report: dict, src: Path) -> dict[str, str]:
    """The texts of the documents the report's duplicate-cluster examples name (the
    first characters of each), read in one pass over the source version."""
    wanted: set[int] = set()
    for entry in report.get("dedup", []):
        for example in entry.get("examples", []):
            wanted.add(example["kept"])
            wanted.update(d["index"] for d in example["duplicates"])
    wanted = set(sorted(wanted)[:MAX_EXAMPLE_DOCS])
    if not wanted:
        return {}
    last = max(wanted)
    texts: dict[str, str] = {}
    with (src / DOCUMENTS).open("rb") as f:
        for index, line in enumerate(f):
            if index in wanted:
                texts[str(index)] = json.loads(line)["text"][:EXAMPLE_CHARS]
            if index >= last:
                break
    return texts


def run_clean(ctx: JobContext, spec: DataCleanSpec) -> dict:
    version = _version(ctx, spec.version_id)
    storage = data_storage()
    key = version_key(version.dataset_id, ctx.job_id)
    if storage.exists(key):
        ctx.log("an earlier attempt wrote the whole version; registering it")
        return _finish(ctx, storage, key, _version_result(storage, key))
    src = _storage_path(storage, version.storage_key)
    run = _EngineRun(ctx)
    ctx.log(f"cleaning {version} ({version.documents:,} documents) with {len(spec.steps)} rules")

    def work():
        with storage.atomic_dir(key) as tmp:
            report = run_pipeline(
                src,
                tmp,
                spec.steps,
                workers=spec.workers,
                progress=run.progress,
                should_stop=run.should_stop,
                extra={
                    "dataset": version.dataset_id,
                    "parent_version": version.pk,
                    "job": ctx.job_id,
                },
            )
            report["examples_text"] = _example_texts(report, src)
            (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
            return report

    try:
        report = run.run(work, "cleaning", storage=storage, key=key)
    except PipelineError as exc:
        raise JobFailed(f"invalid pipeline: {exc}") from None
    ctx.log(
        f"kept {report['documents_out']:,} of {report['documents_in']:,} documents "
        f"({_mb(report['bytes_out'])} of {_mb(report['bytes_in'])})"
    )
    return _finish(ctx, storage, key, _version_result(storage, key))


# ------------------------------------------------------------------ data.tokenizer_train


def run_tokenizer_train(ctx: JobContext, spec: DataTokenizerTrainSpec) -> dict:
    from console.data.engine.tokenizer import REPORT_FILE, TokenizerError, train_tokenizer

    version = _version(ctx, spec.version_id)
    storage = data_storage()
    key = tokenizer_key(ctx.job_id)
    if not storage.exists(key):
        src = _storage_path(storage, version.storage_key)
        run = _EngineRun(ctx)
        ctx.log(f"training a byte-level BPE tokenizer (vocab {spec.vocab_size:,}) on {version}")

        def work():
            with storage.atomic_dir(key) as tmp:
                return train_tokenizer(
                    src,
                    tmp,
                    vocab_size=spec.vocab_size,
                    min_frequency=spec.min_frequency,
                    max_documents=spec.max_documents,
                    progress=run.progress,
                )

        try:
            run.run(work, "reading documents", storage=storage, key=key)
        except TokenizerError as exc:
            raise JobFailed(str(exc)) from None
    report = json.loads((storage.path(key) / REPORT_FILE).read_text("utf-8"))
    stats = report.get("stats") or {}
    ctx.log(
        f"vocabulary {report['vocab_size']:,} (asked {report['vocab_size_requested']:,}); "
        f"{stats.get('bytes_per_token')} bytes per token on held-out text"
    )
    result = {
        "vocab_size": report["vocab_size"],
        "vocab_size_requested": report["vocab_size_requested"],
        "bytes_per_token": stats.get("bytes_per_token"),
    }
    return _finish(ctx, storage, key, result)


# ------------------------------------------------------------------ data.tokenize


def run_tokenize(ctx: JobContext, spec: DataTokenizeSpec) -> dict:
    from console.data.engine.shards import (
        INDEX_FILE,
        ShardError,
        index_warnings,
        tokenize_to_shards,
    )

    version = _version(ctx, spec.version_id)
    tokenizer = Tokenizer.objects.filter(
        pk=spec.tokenizer_id, project_id=_job(ctx).project_id
    ).first()
    if tokenizer is None:
        raise JobFailed(f"tokenizer {spec.tokenizer_id} does not exist in this job's project")
    storage = data_storage()
    key = corpus_key(ctx.job_id)
    if not storage.exists(key):
        src = _storage_path(storage, version.storage_key)
        tokenizer_dir = _storage_path(storage, tokenizer.storage_key)
        run = _EngineRun(ctx)
        ctx.log(f"tokenizing {version} with {tokenizer.name} into {spec.seq_len}-token rows")

        def work():
            with storage.atomic_dir(key) as tmp:
                return tokenize_to_shards(
                    src,
                    tokenizer_dir,
                    tmp,
                    seq_len=spec.seq_len,
                    val_fraction=spec.val_fraction,
                    shard_tokens=spec.shard_tokens,
                    seed=spec.seed,
                    add_bos=spec.add_bos,
                    progress=run.progress,
                    should_stop=run.should_stop,
                )

        try:
            run.run(work, "tokenizing", storage=storage, key=key)
        except ShardError as exc:
            raise JobFailed(str(exc)) from None
    index = json.loads((storage.path(key) / INDEX_FILE).read_text("utf-8"))
    totals = index["totals"]
    ctx.log(
        f"{totals['tokens']:,} tokens: {totals['train_tokens']:,} train, "
        f"{totals['val_tokens']:,} validation, in {totals['sequences']:,} sequences"
    )
    result = {k: totals[k] for k in ("tokens", "train_tokens", "val_tokens", "sequences")}
    result["train_sequences"] = index["splits"]["train"]["sequences"]
    result["val_sequences"] = index["splits"]["val"]["sequences"]
    result["warnings"] = index_warnings(index)
    for warning in result["warnings"]:
        ctx.log(f"warning: {warning}")
    return _finish(ctx, storage, key, result)


# ------------------------------------------------------------------ the kinds

# (spec, title, description, handler, where jobs of the kind are created)
_KINDS: list[tuple[type[Any], str, str, Callable[[JobContext, Any], dict[str, Any]], str]] = [
    (
        DataIngestSpec,
        "Data: ingest",
        "Read an upload, a server path or the sample corpus into a new dataset version.",
        run_ingest,
        "POST /api/v1/datasets/<dataset>/upload/ or /import/",
    ),
    (
        DataCleanSpec,
        "Data: clean",
        "Run cleaning, PII-masking and dedup rules over a version into a new version.",
        run_clean,
        "POST /api/v1/dataset-versions/<version>/clean/",
    ),
    (
        DataTokenizerTrainSpec,
        "Data: train tokenizer",
        "Train a byte-level BPE tokenizer (Hugging Face format) on a dataset version.",
        run_tokenizer_train,
        "POST /api/v1/tokenizers/",
    ),
    (
        DataTokenizeSpec,
        "Data: tokenize",
        "Tokenize a version into packed train/validation shards for training.",
        run_tokenize,
        "POST /api/v1/corpora/",
    ),
]
for _spec, _title, _description, _handler, _endpoint in _KINDS:
    kinds.register(
        kinds.JobKind(
            name=_spec.KIND,
            title=_title,
            description=_description,
            spec=_spec,
            queue=Queue.PIPELINES.value,
            submit_cap=Cap.DATA_WRITE,
            handler=_handler,
            service_endpoint=_endpoint,
        )
    )
