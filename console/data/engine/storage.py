"""Where dataset artifacts live: one small interface, a local-filesystem backend.

Keys are relative POSIX paths (``datasets/12/v3``). ``LocalStorage`` maps them under
its root (``FORGE_DATA_DIR``) and refuses anything that could leave it.

Immutability and "no partial version": a version is written inside
``atomic_dir(key)``, which yields a fresh temporary directory next to the final
place. On success it is renamed into place in one ``rename(2)``; on any exception
(an ``InputError`` half-way through an upload, a cancelled job, a crash inside the
block) it is removed together with any parent directories the call created. A
``kill -9`` in the middle leaves a ``.tmp-*`` directory that never became a
version; ``sweep_temp()`` removes those older than a given age.

An S3-compatible backend (a setting, later) must provide the same methods:

* ``path(key)``: a local working path. For S3 this is a cache/scratch path; reads
  stream objects with ``open_read`` instead.
* ``open_read(key)``: a binary stream (``GetObject`` body).
* ``atomic_dir(key)``: a local temporary directory; on success, upload every file
  under ``key/`` and write ``key/manifest.json`` *last*, so a version exists only
  once its manifest does (readers must check for it); on failure, delete whatever
  was uploaded under the key.
* ``exists(key)`` (``HeadObject`` on ``key/manifest.json`` or the object itself),
  ``delete(key)`` (delete every object under the prefix), ``size(key)`` (sum of
  object sizes under the prefix).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

TEMP_PREFIX = ".tmp-"


class StorageError(ValueError):
    """A bad key or an operation the storage refuses (an existing version, say)."""


class Storage(Protocol):
    def path(self, key: str) -> Path: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def atomic_dir(self, key: str) -> contextlib.AbstractContextManager[Path]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def size(self, key: str) -> int: ...


def check_key(key: str) -> PurePosixPath:
    """A storage key as a relative POSIX path, or StorageError."""
    if not isinstance(key, str) or not key:
        raise StorageError("storage key must be a non-empty string")
    if "\x00" in key or "\\" in key:
        raise StorageError(f"storage key {key!r} contains a NUL byte or a backslash")
    pure = PurePosixPath(key)
    if pure.is_absolute():
        raise StorageError(f"storage key {key!r} must be relative")
    if any(part in ("..", ".") for part in key.split("/")) or "" in key.split("/"):
        raise StorageError(f"storage key {key!r} must not contain '.', '..' or empty parts")
    if any(part.startswith(TEMP_PREFIX) for part in pure.parts):
        raise StorageError(f"storage key {key!r} must not start a part with {TEMP_PREFIX!r}")
    return pure


class LocalStorage:
    """Artifacts under ``root`` on the local filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        pure = check_key(key)
        path = self.root.joinpath(*pure.parts)
        # A symlink planted inside the root must not lead out of it.
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise StorageError(f"storage key {key!r} resolves outside the storage root")
        return path

    def open_read(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int:
        path = self.path(key)
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

    @contextlib.contextmanager
    def atomic_dir(self, key: str) -> Iterator[Path]:
        """Yield an empty temporary directory; rename it to ``key`` when the block
        succeeds, remove it (and parents this call created) when it raises."""
        final = self.path(key)
        if final.exists():
            raise StorageError(f"{key!r} already exists; versions are immutable")
        created: list[Path] = []
        parent = final.parent
        while not parent.exists():
            created.append(parent)
            parent = parent.parent
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        try:
            yield tmp
            if final.exists():
                raise StorageError(f"{key!r} appeared while it was being written")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for directory in created:  # innermost first
                with contextlib.suppress(OSError):
                    directory.rmdir()  # only if still empty
            raise

    def sweep_temp(self, older_than_s: float = 24 * 3600) -> list[Path]:
        """Remove ``.tmp-*`` directories left by a killed process; returns them."""
        removed = []
        cutoff = time.time() - older_than_s
        if not self.root.exists():
            return removed
        for tmp in self.root.rglob(f"{TEMP_PREFIX}*"):
            if tmp.is_dir() and not tmp.is_symlink() and tmp.stat().st_mtime < cutoff:
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
        return removed
