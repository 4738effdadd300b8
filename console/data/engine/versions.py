"""The on-disk form of a dataset version: whatever came in, it is normalized to

    <version>/documents.jsonl   one {"text": ...} object per line, UTF-8, in order
    <version>/manifest.json     {"format", "documents", "bytes", "text_bytes",
                                 "sha256", "language_mix", "created_at", ...extra}

``bytes`` and ``sha256`` are of ``documents.jsonl`` exactly; ``text_bytes`` is the
UTF-8 size of the texts alone. Lineage (source file, parent version, the pipeline
that produced it) goes into ``extra`` and lands in the manifest as given. Write a
version inside ``Storage.atomic_dir`` so a failure leaves nothing behind, which
``create_version`` does:

    stats = create_version(storage, key, iter_documents(upload, fmt=fmt, limits=limits))
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from console.data.engine.langid import MixEstimator
from console.data.engine.storage import Storage

FORMAT = "forge.dataset.v1"
DOCUMENTS = "documents.jsonl"
MANIFEST = "manifest.json"
_WRITE_BUFFER = 4 * 1024 * 1024


@dataclass
class VersionStats:
    documents: int
    bytes: int
    sha256: str
    language_mix: dict[str, float]
    text_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VersionWriter:
    """Append documents one at a time; ``close()`` writes the manifest. For callers
    that produce documents in a loop of their own (the cleaning pipeline)."""

    def __init__(self, out_dir: Path, *, extra: dict[str, Any] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.extra = dict(extra or {})
        self._f = (self.out_dir / DOCUMENTS).open("wb", buffering=_WRITE_BUFFER)
        self._sha = hashlib.sha256()
        self._mix = MixEstimator()
        self.documents = 0
        self.bytes = 0
        self.text_bytes = 0

    def add(self, text: str) -> int:
        """Append one document; returns the UTF-8 size of its text."""
        line = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8") + b"\n"
        self._f.write(line)
        self._sha.update(line)
        self.documents += 1
        self.bytes += len(line)
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        self.text_bytes += size
        self._mix.add(text)
        return size

    def add_record(self, record: dict[str, Any], texts: list[str]) -> int:
        """Append one fine-tuning record (engine.chat) as its line; ``texts`` are its
        texts (counted and language-estimated together). Returns their UTF-8 size."""
        line = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
        self._f.write(line)
        self._sha.update(line)
        self.documents += 1
        self.bytes += len(line)
        joined = "\n".join(texts)
        size = len(joined) if joined.isascii() else len(joined.encode("utf-8"))
        self.text_bytes += size
        self._mix.add(joined)
        return size

    def close(self) -> VersionStats:
        self._f.close()
        stats = VersionStats(
            documents=self.documents,
            bytes=self.bytes,
            sha256=self._sha.hexdigest(),
            language_mix=self._mix.result(),
            text_bytes=self.text_bytes,
            extra=self.extra,
        )
        manifest = {
            "format": FORMAT,
            "documents": stats.documents,
            "bytes": stats.bytes,
            "text_bytes": stats.text_bytes,
            "sha256": stats.sha256,
            "language_mix": stats.language_mix,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **self.extra,
        }
        tmp = self.out_dir / (MANIFEST + ".part")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(self.out_dir / MANIFEST)
        return stats

    def abort(self) -> None:
        self._f.close()


def write_version(
    docs: Iterable[str],
    out_dir: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    extra: dict[str, Any] | None = None,
    progress_every: int = 10_000,
) -> VersionStats:
    """Write ``docs`` as a version into ``out_dir`` (created if missing). ``progress``
    is called with (documents, text bytes) so far every ``progress_every`` documents.
    An exception from ``docs`` (an InputError) propagates; the caller's atomic_dir
    then removes the half-written directory."""
    writer = VersionWriter(out_dir, extra=extra)
    try:
        for text in docs:
            writer.add(text)
            if progress is not None and writer.documents % progress_every == 0:
                progress(writer.documents, writer.text_bytes)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def create_version(
    storage: Storage,
    key: str,
    docs: Iterable[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> VersionStats:
    """Write ``docs`` as the version ``key`` of ``storage``, all or nothing: any error
    (an InputError from a reader, a full disk) leaves no directory and no file."""
    with storage.atomic_dir(key) as tmp:
        return write_version(docs, tmp, progress=progress, extra=extra)


def read_manifest(version_dir: Path) -> dict[str, Any]:
    return json.loads((Path(version_dir) / MANIFEST).read_text(encoding="utf-8"))


def read_version(version_dir: Path) -> Iterator[str]:
    """Stream the documents of a version, in order."""
    with (Path(version_dir) / DOCUMENTS).open("rb") as f:
        for line in f:
            yield json.loads(line)["text"]


def read_version_lines(version_dir: Path) -> Iterator[tuple[str, int]]:
    """Documents with the size of their line in documents.jsonl (for progress)."""
    with (Path(version_dir) / DOCUMENTS).open("rb") as f:
        for line in f:
            yield json.loads(line)["text"], len(line)


def count_bytes(version_dir: Path) -> int:
    """Size of documents.jsonl, the figure progress is measured against."""
    return (Path(version_dir) / DOCUMENTS).stat().st_size


def file_sha256(path: Path, chunk: int = 1024 * 1024) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_version(version_dir: Path) -> bool:
    """True when documents.jsonl still matches the manifest's size and sha256."""
    manifest = read_manifest(version_dir)
    path = Path(version_dir) / DOCUMENTS
    return path.stat().st_size == manifest["bytes"] and file_sha256(path) == manifest["sha256"]
