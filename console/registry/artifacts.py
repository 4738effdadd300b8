"""Where model versions live (FORGE_MODELS_DIR/job-<job>), what may be copied into
one, and the checks on a folder against its manifest.

A version's folder is named after the job that wrote it (like the data app's
artifacts): two jobs never race for a name, and a job run again after its worker died
finds its first attempt's complete folder. Writes go through ``atomic_dir``: the folder
appears whole or not at all.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings

from console.data.engine.storage import LocalStorage

# Never opened, never copied (RELIABILITY.md S10): safetensors only.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
LINEAGE_FILE = "forge_model.json"
SUMS_FILE = "SHA256SUMS"


def model_storage() -> LocalStorage:
    return LocalStorage(Path(settings.FORGE_MODELS_DIR))


def model_key(job_id: int) -> str:
    return f"job-{job_id}"


def is_pickle(path: Path) -> bool:
    return path.name.lower().endswith(PICKLE_SUFFIXES)


def unsafe_files(folder: Path) -> list[str]:
    """Problems that forbid copying ``folder``: symlinks, pickle files, odd entries. The
    files are looked at by name and type only, never opened."""
    problems = []
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            problems.append(f"{rel}: a symbolic link (refused)")
        elif is_pickle(path):
            problems.append(f"{rel}: a pickle file (refused: safetensors only, never unpickled)")
        elif not path.is_file() and not path.is_dir():
            problems.append(f"{rel}: not a regular file")
    return problems


def sha256_file(path: Path, chunk: int = 4 * 1024 * 1024) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def manifest_of(folder: Path) -> list[dict[str, Any]]:
    """[{"path", "bytes", "sha256"}] of every file in ``folder`` (the engine's
    ``file_manifest`` when it is installed, the same thing here otherwise)."""
    try:
        from gpu_agent.models import file_manifest
    except ImportError:
        folder = Path(folder)
        return [
            {
                "path": p.relative_to(folder).as_posix(),
                "bytes": p.stat().st_size,
                "sha256": sha256_file(p),
            }
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()
        ]
    return file_manifest(folder)


def manifest_problems(folder: Path, manifest: list[dict[str, Any]]) -> list[str]:
    """What differs between ``folder`` and its recorded manifest (empty: it matches)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"the model folder {folder} is missing"]
    try:
        from gpu_agent.models import verify_manifest
    except ImportError:
        problems = []
        recorded = {f["path"] for f in manifest}
        for entry in manifest:
            path = folder / entry["path"]
            if not path.is_file() or path.is_symlink():
                problems.append(f"{entry['path']}: missing")
            elif path.stat().st_size != entry["bytes"]:
                problems.append(f"{entry['path']}: size differs from the manifest")
            elif sha256_file(path) != entry["sha256"]:
                problems.append(f"{entry['path']}: sha256 mismatch (tampered or corrupted)")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if (path.is_file() or path.is_symlink()) and rel not in recorded:
                problems.append(f"{rel}: not in the manifest")
        return problems
    return list(verify_manifest(folder, manifest))


def sums_text(manifest: list[dict[str, Any]]) -> str:
    """A SHA256SUMS file (``sha256sum -c`` reads it)."""
    return "".join(f"{f['sha256']}  {f['path']}\n" for f in manifest)
