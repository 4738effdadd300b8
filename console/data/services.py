"""Data writes: datasets, the jobs that make versions, tokenizers and corpora, and the
registration of what those jobs made.

The browser, the API and the demo loader all come here. A request never makes an
artifact itself: it submits a job (``data.ingest``, ``data.clean``,
``data.tokenizer_train``, ``data.tokenize``) whose handler (``console.data.jobs``)
writes the files, all or nothing, under a key named after the job. The row that
registers them is created by ``data_job_left_active``, a ``job_left_active`` effect
(settings.LIFECYCLE_EFFECTS) that runs inside the transaction moving the job to
succeeded: a version exists if and only if its job succeeded. A failed or cancelled
job's files (and its upload) are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from console.audit.services import audit_record
from console.core.errors import FieldErrors, Forbidden, InvalidInput
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.data.artifacts import (
    INCOMING,
    UPLOADS,
    data_storage,
    incoming_dir,
    output_key,
    upload_key,
)
from console.data.engine.chat import ChatMapping, iter_records
from console.data.engine.chat_template import (
    TemplateError,
    read_template,
    render_sample,
    write_template,
)
from console.data.engine.clean import PipelineError, validate_pipeline
from console.data.engine.readers import (
    InputError,
    detect_format,
    detect_path_format,
    iter_documents,
    resolve_server_path,
)
from console.data.engine.versions import read_manifest
from console.data.models import (
    Dataset,
    DatasetKind,
    DatasetVersion,
    Origin,
    TokenizedCorpus,
    Tokenizer,
)
from console.data.uploads import StagedUpload
from console.jobs.models import ACTIVE_STATES, Job, JobState
from console.jobs.services import job_create
from console.projects.models import Project
from gpu_agent.spec import (
    DataCleanSpec,
    DataIngestSpec,
    DataTokenizerTrainSpec,
    DataTokenizeSpec,
)

log = logging.getLogger(__name__)

DATA_KINDS = frozenset(
    {DataIngestSpec.KIND, DataCleanSpec.KIND, DataTokenizerTrainSpec.KIND, DataTokenizeSpec.KIND}
)
SAMPLE_DIR = Path(settings.BASE_DIR) / "data" / "sample"
SAMPLE_FILES = ("en.jsonl", "zh.jsonl")
SAMPLE_NAME = "Sample corpus (English and Chinese)"
# Uploads up to this size are read through (first document) before a job is queued, so
# that a wrong file gets its error at once; a tar.gz must be read whole to be checked.
PRECHECK_TAR_BYTES = 64 * 1024 * 1024


class PipelineInvalid(InvalidInput):
    """A cleaning pipeline that cannot run; ``errors`` maps a step's index (or
    ``"pipeline"``) to ``{field: [messages]}``."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]) -> None:
        super().__init__("The cleaning pipeline is invalid.")
        self.errors = errors


def _require_write(actor: Actor) -> None:
    if not has_cap(actor, Cap.DATA_WRITE):
        raise Forbidden("This needs the 'data.write' permission.")


def _check_text_field(value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 100:
        raise FieldErrors(
            {"text_field": ["Give the JSONL key or Parquet column (1 to 100 characters)."]}
        )
    return value


# ------------------------------------------------------------------ datasets


@transaction.atomic
def dataset_create(
    *,
    actor: Actor,
    project: Project,
    name: str,
    description: str = "",
    text_field: str = "text",
    kind: str = DatasetKind.TEXT,
    columns: dict[str, str] | None = None,
) -> Dataset:
    """A dataset of ``kind``: pretraining text (read from ``text_field``), or chat or
    preference records for fine-tuning (``columns``: a chat file's prompt, response and
    optional system columns; none: the file has ``messages``)."""
    _require_write(actor)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    columns = _check_columns(errors, kind, columns)
    if not 1 <= len(name) <= 100:
        errors["name"] = ["Give the dataset a name (1 to 100 characters)."]
    elif Dataset.objects.filter(project=project, name=name).exists():
        errors["name"] = [f"{project.name} already has a dataset named {name!r}."]
    try:
        text_field = _check_text_field(text_field)
    except FieldErrors as exc:
        errors.update(exc.errors)
    if len(description or "") > 5000:
        errors["description"] = ["At most 5,000 characters."]
    if errors:
        raise FieldErrors(errors)
    user = cast("User | None", actor if getattr(actor, "is_authenticated", False) else None)
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                project=project,
                name=name,
                description=description or "",
                text_field=text_field,
                kind=kind,
                columns=columns,
                created_by=user,
            )
    except IntegrityError:  # created at the same moment by someone else
        raise FieldErrors(
            {"name": [f"{project.name} already has a dataset named {name!r}."]}
        ) from None
    audit_record(
        action="data.dataset.create",
        actor=actor,
        obj=dataset,
        after={"name": name, "text_field": text_field, "kind": kind, "columns": columns},
    )
    return dataset


def _check_columns(
    errors: dict[str, list[str]], kind: str, columns: dict[str, str] | None
) -> dict[str, str]:
    if kind not in DatasetKind.values:
        errors["kind"] = [f"One of: {', '.join(DatasetKind.values)}."]
        return {}
    if not columns:
        return {}
    if kind != DatasetKind.CHAT or not isinstance(columns, dict):
        errors["columns"] = ["Prompt and response columns are for chat datasets only."]
        return {}
    clean = {k: str(v or "").strip() for k, v in columns.items() if str(v or "").strip()}
    unknown = set(clean) - {"prompt", "response", "system"}
    if unknown:
        errors["columns"] = [f"Unknown column role(s): {', '.join(sorted(unknown))}."]
    elif clean and not ({"prompt", "response"} <= set(clean)):
        errors["columns"] = ["Name both the prompt and the response column."]
    elif any(len(v) > 100 or "\x00" in v for v in clean.values()):
        errors["columns"] = ["Column names are 1 to 100 characters."]
    return clean


def _ingest_params(dataset: Dataset) -> dict[str, str]:
    """A record dataset's part of its ingest spec."""
    if dataset.kind == DatasetKind.TEXT:
        return {}
    columns = dataset.columns or {}
    return {
        "records": dataset.kind,
        "prompt_field": columns.get("prompt", ""),
        "response_field": columns.get("response", ""),
        "system_field": columns.get("system", ""),
    }


def _mapping(dataset: Dataset) -> ChatMapping | None:
    columns = dataset.columns or {}
    if dataset.kind != DatasetKind.CHAT or not columns.get("prompt"):
        return None
    return ChatMapping(
        prompt=columns["prompt"], response=columns["response"], system=columns.get("system")
    )


def _refuse_records(version: DatasetVersion, what: str) -> None:
    """Cleaning, tokenizer training and packing read pretraining text."""
    kind = version.dataset.kind
    if kind != DatasetKind.TEXT:
        raise InvalidInput(
            f"{version} holds {kind} records for fine-tuning, not pretraining text: {what} "
            "reads text datasets. Its personal data was masked, every turn, when it was "
            "ingested."
        )


def _precheck(
    path: Path, fmt: str, *, name: str, text_field: str, dataset: Dataset | None = None
) -> None:
    """Read the first document (record), so a file that cannot be a dataset is refused
    now."""
    if dataset is not None and dataset.kind != DatasetKind.TEXT:
        if fmt != "jsonl":
            raise InputError(
                f"{name}: a {dataset.kind} dataset takes one .jsonl file, one record per line"
            )
        records = iter_records(
            path, kind=dataset.kind, mapping=_mapping(dataset), display_name=name
        )
        try:
            next(records)
        finally:
            records.close()
        return
    if fmt == "dir" or (fmt == "tar.gz" and path.stat().st_size > PRECHECK_TAR_BYTES):
        return
    docs = iter_documents(path, fmt=fmt, text_field=text_field, display_name=name)
    try:
        next(docs)
    finally:
        docs.close()


def dataset_upload(
    *, actor: Actor, dataset: Dataset, upload: StagedUpload, text_field: str | None = None
) -> Job:
    """Queue the ingest of a file the upload handler staged on disk. The file is moved
    under uploads/ for the job, or removed when it is refused."""
    moved: Path | None = None
    try:
        _require_write(actor)
        text_field = _check_text_field(text_field or dataset.text_field)
        try:
            fmt = detect_format(upload.name)
            if upload.size == 0:
                raise InputError(f"{upload.name}: the file is empty")
            _precheck(upload.path, fmt, name=upload.name, text_field=text_field, dataset=dataset)
        except InputError as exc:
            raise FieldErrors({"file": [str(exc)]}) from None
        storage = data_storage()
        key = upload_key(uuid.uuid4().hex, upload.name)
        target = storage.path(key)
        target.parent.mkdir(parents=True)
        os.replace(upload.path, target)
        moved = target
        with transaction.atomic():
            job = job_create(
                actor=actor,
                project=dataset.project,
                kind=DataIngestSpec.KIND,
                params={
                    "dataset_id": dataset.pk,
                    "source": "upload",
                    "upload": key,
                    "filename": upload.name[:1000],
                    "text_field": text_field,
                    **_ingest_params(dataset),
                },
                name=f"Ingest {upload.name} into {dataset.name}"[:200],
            )
            audit_record(
                action="data.upload",
                actor=actor,
                obj=dataset,
                after={
                    "file": upload.name,
                    "format": fmt,
                    "bytes": upload.size,
                    "sha256": upload.sha256,
                    "job": job.pk,
                },
            )
        moved = None
        return job
    finally:
        upload.path.unlink(missing_ok=True)
        if moved is not None:
            shutil.rmtree(moved.parent, ignore_errors=True)


def dataset_import(
    *, actor: Actor, dataset: Dataset, path: str, text_field: str | None = None
) -> Job:
    """Queue the ingest of a file or folder under FORGE_DATA_IMPORT_ROOT."""
    _require_write(actor)
    text_field = _check_text_field(text_field or dataset.text_field)
    root = settings.FORGE_DATA_IMPORT_ROOT
    if root is None:
        raise FieldErrors(
            {"path": ["Server paths are off: an administrator sets FORGE_DATA_IMPORT_ROOT."]}
        )
    try:
        resolved = resolve_server_path(path, Path(root))
        fmt = detect_path_format(resolved)
        _precheck(resolved, fmt, name=resolved.name, text_field=text_field, dataset=dataset)
    except InputError as exc:
        raise FieldErrors({"path": [str(exc)]}) from None
    relative = resolved.relative_to(Path(root).resolve()).as_posix()
    job = job_create(
        actor=actor,
        project=dataset.project,
        kind=DataIngestSpec.KIND,
        params={
            "dataset_id": dataset.pk,
            "source": "server",
            "path": relative or ".",
            "text_field": text_field,
            **_ingest_params(dataset),
        },
        name=f"Import {relative or '(the import root)'} into {dataset.name}"[:200],
    )
    return job


@transaction.atomic
def dataset_sample_load(*, actor: Actor, project: Project) -> Dataset | None:
    """The shipped sample corpus as a dataset of ``project``, ingested by a job (the
    demo). Idempotent: None when the project already has it."""
    if Dataset.objects.filter(project=project, name=SAMPLE_NAME).exists():
        return None
    dataset = dataset_create(
        actor=actor,
        project=project,
        name=SAMPLE_NAME,
        description="About a thousand fictional documents in English and Simplified Chinese "
        "(CC0), with planted duplicates, PII and noise for the cleaning rules to find.",
    )
    job_create(
        actor=actor,
        project=project,
        kind=DataIngestSpec.KIND,
        params={"dataset_id": dataset.pk, "source": "sample"},
        name=f"Ingest the sample corpus into {dataset.name}"[:200],
    )
    return dataset


# ------------------------------------------------------------------ cleaning, tokenizers


def version_clean(*, actor: Actor, version: DatasetVersion, steps: Any, workers: int = 1) -> Job:
    _require_write(actor)
    _refuse_records(version, "the cleaning pipeline")
    try:
        steps = validate_pipeline(steps)
    except PipelineError as exc:
        raise PipelineInvalid(exc.errors) from None
    rules = f"{len(steps)} rule{'s' if len(steps) != 1 else ''}"
    return job_create(
        actor=actor,
        project=version.dataset.project,
        kind=DataCleanSpec.KIND,
        params={"version_id": version.pk, "steps": steps, "workers": workers},
        name=f"Clean {version} ({rules})"[:200],
    )


def tokenizer_train(
    *,
    actor: Actor,
    version: DatasetVersion,
    name: str = "",
    vocab_size: int = 52_000,
    min_frequency: int = 2,
    max_documents: int | None = None,
) -> Job:
    _require_write(actor)
    _refuse_records(version, "tokenizer training")
    name = (name or "").strip() or f"{version} BPE {vocab_size:,}"
    return job_create(
        actor=actor,
        project=version.dataset.project,
        kind=DataTokenizerTrainSpec.KIND,
        params={
            "version_id": version.pk,
            "name": name[:100],
            "vocab_size": vocab_size,
            "min_frequency": min_frequency,
            "max_documents": max_documents,
        },
        name=f"Train tokenizer {name}"[:200],
    )


def corpus_tokenize(
    *,
    actor: Actor,
    version: DatasetVersion,
    tokenizer: Tokenizer,
    seq_len: int = 2048,
    val_fraction: float = 0.01,
    seed: int = 0,
    add_bos: bool = False,
) -> Job:
    _require_write(actor)
    _refuse_records(version, "packing into token shards")
    if tokenizer.project_id != version.dataset.project_id:
        raise FieldErrors({"tokenizer": ["The tokenizer belongs to another project."]})
    return job_create(
        actor=actor,
        project=version.dataset.project,
        kind=DataTokenizeSpec.KIND,
        params={
            "version_id": version.pk,
            "tokenizer_id": tokenizer.pk,
            "seq_len": seq_len,
            "val_fraction": val_fraction,
            "seed": seed,
            "add_bos": add_bos,
        },
        name=f"Tokenize {version} with {tokenizer.name}"[:200],
    )


# ---------------------------------------------- registration (a job_left_active effect)


def data_job_left_active(job_id: int) -> None:
    """A job_left_active effect (settings.LIFECYCLE_EFFECTS), inside the transaction that
    moves a job out of running: register a succeeded data job's output; remove a failed or
    cancelled one's files."""
    job = Job.objects.filter(pk=job_id).select_related("requested_by").first()
    if job is None or job.kind not in DATA_KINDS:
        return
    if job.state == JobState.SUCCEEDED:
        REGISTER[job.kind](job)
        _discard_upload_on_commit(job)
    elif job.state in (JobState.FAILED, JobState.CANCELLED):
        key = cast("str", output_key(job.kind, job.spec, job.pk))  # a data kind: never None
        transaction.on_commit(lambda: _discard(key))
        _discard_upload_on_commit(job)


def _discard(key: str | None) -> None:
    if key:
        try:
            data_storage().delete(key)
        except (OSError, ValueError):
            log.exception("could not remove %s", key)


def _discard_upload_on_commit(job: Job) -> None:
    key = job.spec.get("upload") if job.kind == DataIngestSpec.KIND else None
    parts = key.split("/") if isinstance(key, str) else []
    if job.spec.get("source") == "upload" and len(parts) == 3 and parts[0] == UPLOADS:
        transaction.on_commit(lambda: _discard(f"{UPLOADS}/{parts[1]}"))


def _actor(job: Job) -> Any:
    return job.requested_by or f"job {job.pk}"


def _next_number(dataset_id: int) -> tuple[Dataset, int]:
    dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
    top = dataset.versions.aggregate(top=Max("number"))["top"] or 0
    return dataset, top + 1


def _register_version(job: Job) -> DatasetVersion | None:
    if DatasetVersion.objects.filter(job=job).exists():
        return None
    key = cast("str", output_key(job.kind, job.spec, job.pk))  # a data kind: never None
    folder = data_storage().path(key)
    manifest = read_manifest(folder)
    parent = None
    report = None
    if job.kind == DataCleanSpec.KIND:
        parent = DatasetVersion.objects.get(pk=job.spec["version_id"])
        dataset_id = parent.dataset_id
        origin = Origin.CLEAN
        source: dict[str, Any] = {"parent": parent.pk, "parent_sha256": parent.sha256}
        report_path = folder / "report.json"
        report = json.loads(report_path.read_text("utf-8")) if report_path.is_file() else None
    else:
        dataset_id = job.spec["dataset_id"]
        origin = job.spec["source"]
        source = manifest.get("source") or {}
    dataset, number = _next_number(dataset_id)
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        parent=parent,
        origin=origin,
        source=source,
        pipeline=manifest.get("pipeline") or [],
        job=job,
        storage_key=key,
        sha256=manifest["sha256"],
        bytes=manifest["bytes"],
        text_bytes=manifest.get("text_bytes", 0),
        documents=manifest["documents"],
        language_mix=manifest.get("language_mix") or {},
        report=report,
        created_by=job.requested_by,
    )
    audit_record(
        action="data.version.create",
        actor=_actor(job),
        obj=version,
        project_id=dataset.project_id,
        after={
            "dataset": dataset.name,
            "number": number,
            "parent": parent.pk if parent else None,
            "documents": version.documents,
            "sha256": version.sha256,
            "job": job.pk,
        },
    )
    return version


def _register_tokenizer(job: Job) -> Tokenizer | None:
    if Tokenizer.objects.filter(job=job).exists():
        return None
    from console.data.engine.tokenizer import REPORT_FILE

    key = cast("str", output_key(job.kind, job.spec, job.pk))  # a data kind: never None
    report = json.loads((data_storage().path(key) / REPORT_FILE).read_text("utf-8"))
    version = DatasetVersion.objects.select_related("dataset").get(pk=job.spec["version_id"])
    tokenizer = Tokenizer.objects.create(
        project_id=version.dataset.project_id,
        name=job.spec.get("name") or f"{version} BPE",
        version=version,
        job=job,
        algorithm=report.get("algorithm", "byte-level BPE"),
        vocab_size_requested=report["vocab_size_requested"],
        vocab_size=report["vocab_size"],
        min_frequency=report.get("min_frequency", 2),
        special_tokens=report.get("special_tokens") or {},
        bytes_per_token=(report.get("stats") or {}).get("bytes_per_token"),
        storage_key=key,
        sha256=report.get("tokenizer_sha256", ""),
        stats=report,
        created_by=job.requested_by,
    )
    audit_record(
        action="data.tokenizer.create",
        actor=_actor(job),
        obj=tokenizer,
        after={
            "version": version.pk,
            "vocab_size": tokenizer.vocab_size,
            "sha256": tokenizer.sha256,
            "job": job.pk,
        },
    )
    return tokenizer


def _register_corpus(job: Job) -> TokenizedCorpus | None:
    if TokenizedCorpus.objects.filter(job=job).exists():
        return None
    from console.data.engine.shards import INDEX_FILE

    key = cast("str", output_key(job.kind, job.spec, job.pk))  # a data kind: never None
    index = json.loads((data_storage().path(key) / INDEX_FILE).read_text("utf-8"))
    version = DatasetVersion.objects.select_related("dataset").get(pk=job.spec["version_id"])
    tokenizer = Tokenizer.objects.get(pk=job.spec["tokenizer_id"])
    totals = index["totals"]
    corpus = TokenizedCorpus.objects.create(
        project_id=version.dataset.project_id,
        version=version,
        tokenizer=tokenizer,
        job=job,
        seq_len=index["seq_len"],
        dtype=index["dtype"],
        val_fraction=index["split"]["val_fraction"],
        seed=index["split"]["seed"],
        add_bos=index.get("add_bos", False),
        total_tokens=totals["tokens"],
        train_tokens=totals["train_tokens"],
        val_tokens=totals["val_tokens"],
        sequences=totals["sequences"],
        padding_tokens=totals.get("padding_tokens", 0),
        shards=sum(len(s["shards"]) for s in index["splits"].values()),
        storage_key=key,
        index=index,
        created_by=job.requested_by,
    )
    audit_record(
        action="data.corpus.create",
        actor=_actor(job),
        obj=corpus,
        after={
            "version": version.pk,
            "tokenizer": tokenizer.pk,
            "tokens": corpus.total_tokens,
            "job": job.pk,
        },
    )
    return corpus


REGISTER = {
    DataIngestSpec.KIND: _register_version,
    DataCleanSpec.KIND: _register_version,
    DataTokenizerTrainSpec.KIND: _register_tokenizer,
    DataTokenizeSpec.KIND: _register_corpus,
}


# ------------------------------------------------------------------ housekeeping


def data_sweep(*, older_than_s: float = 24 * 3600) -> dict[str, int]:
    """Remove what no job will use: temporary directories and partial uploads left by
    a killed process, and uploads whose ingest job ended or never existed (cancelled
    before it ran). Runs hourly on beat."""
    storage = data_storage()
    temp = len(storage.sweep_temp(older_than_s))
    cutoff = time.time() - older_than_s
    parts = 0
    for part in incoming_dir().glob("*.part"):
        if part.stat().st_mtime < cutoff:
            part.unlink(missing_ok=True)
            parts += 1
    in_use = set()
    for spec in Job.objects.filter(kind=DataIngestSpec.KIND, state__in=ACTIVE_STATES).values_list(
        "spec", flat=True
    ):
        key = spec.get("upload") if isinstance(spec, dict) else None
        if isinstance(key, str) and key.count("/") == 2:
            in_use.add(key.split("/")[1])
    uploads = 0
    root = Path(settings.FORGE_DATA_DIR) / UPLOADS
    recent = time.time() - 3600  # an upload's job is queued in the same request
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.name == INCOMING or folder.name in in_use or not folder.is_dir():
            continue
        if folder.stat().st_mtime < recent:
            shutil.rmtree(folder, ignore_errors=True)
            uploads += 1
    return {"temp": temp, "parts": parts, "uploads": uploads}


__all__ = [
    "DATA_KINDS",
    "FieldErrors",
    "PipelineInvalid",
    "corpus_tokenize",
    "data_job_left_active",
    "data_sweep",
    "dataset_create",
    "dataset_import",
    "dataset_sample_load",
    "dataset_upload",
    "tokenizer_train",
    "version_clean",
]


# ------------------------------------------------------------------ chat templates


def tokenizer_set_chat_template(
    *, actor: Actor, tokenizer: Tokenizer, template: Any
) -> dict[str, Any]:
    """Store ``template`` as the tokenizer's chat template (``chat_template.jinja`` in its
    folder) once it renders the sample conversation and marks assistant tokens for the
    loss; returns that rendering. The tokenizer's vocabulary (its tokenizer.json and
    sha256) does not change."""
    _require_write(actor)
    folder = data_storage().path(tokenizer.storage_key)
    try:
        sample = render_sample(folder, template)
    except TemplateError as exc:
        raise FieldErrors({"template": [str(exc)]}) from None
    before = read_template(folder)
    write_template(folder, template)
    audit_record(
        action="data.tokenizer.chat_template",
        actor=actor,
        obj=tokenizer,
        before={"sha256": _text_sha256(before)} if before is not None else None,
        after={"sha256": _text_sha256(template), "trained_tokens": sample["trained"]},
    )
    return sample


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
