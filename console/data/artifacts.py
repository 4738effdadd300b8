"""Where the data app keeps its files under FORGE_DATA_DIR, and how it names them.

    uploads/.incoming/<uuid>.part          an upload while it streams in
    uploads/<uuid>/<file name>             an upload waiting for its ingest job
    datasets/<dataset>/versions/job-<job>  a dataset version (documents.jsonl, manifest.json)
    tokenizers/job-<job>                   a tokenizer (Hugging Face files)
    corpora/job-<job>                      packed token shards (index.json, *.bin)

Outputs are named by the job that writes them, so two jobs never race for a name and
a job that runs again (after a worker died) finds what its first attempt finished.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from console.data.engine.storage import LocalStorage

UPLOADS = "uploads"
INCOMING = ".incoming"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def data_storage() -> LocalStorage:
    """The storage backend (the local filesystem under FORGE_DATA_DIR)."""
    return LocalStorage(Path(settings.FORGE_DATA_DIR))


def version_key(dataset_id: int, job_id: int) -> str:
    return f"datasets/{dataset_id}/versions/job-{job_id}"


def tokenizer_key(job_id: int) -> str:
    return f"tokenizers/job-{job_id}"


def corpus_key(job_id: int) -> str:
    return f"corpora/job-{job_id}"


def output_key(kind: str, spec: dict, job_id: int) -> str | None:
    """The storage key a data job writes to (None for kinds that write nothing)."""
    if kind in ("data.ingest", "data.clean"):
        dataset_id = spec.get("dataset_id")
        if kind == "data.clean":
            from console.data.models import DatasetVersion

            dataset_id = (
                DatasetVersion.objects.filter(pk=spec.get("version_id"))
                .values_list("dataset_id", flat=True)
                .first()
            )
        return version_key(dataset_id, job_id) if isinstance(dataset_id, int) else None
    if kind == "data.tokenizer_train":
        return tokenizer_key(job_id)
    if kind == "data.tokenize":
        return corpus_key(job_id)
    return None


def safe_filename(name: str) -> str:
    """A file name fit for disk: letters, digits, '.', '-', '_', at most 120 characters,
    extension kept (``my data (1).tar.gz`` -> ``my_data_1_.tar.gz``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    safe = _UNSAFE.sub("_", base).lstrip(".")[-120:].lstrip(".")
    return safe or "upload"


def upload_key(upload_id: str, filename: str) -> str:
    return f"{UPLOADS}/{upload_id}/{safe_filename(filename)}"


def incoming_dir() -> Path:
    path = Path(settings.FORGE_DATA_DIR) / UPLOADS / INCOMING
    path.mkdir(parents=True, exist_ok=True)
    return path
