"""Where model versions live (FORGE_MODELS_DIR/job-<job>), what may be copied into
one, and the checks on a folder against its manifest.

A version's folder is named after the job that wrote it (like the data app's
artifacts): two jobs never race for a name, and a job run again after its worker died
finds its first attempt's complete folder. Writes go through ``atomic_dir``: the folder
appears whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from console.data.engine.storage import LocalStorage

# The model engine (gpu_agent.models) is imported inside the functions: importing it
# loads torch, which the web processes need not hold. Its PICKLE_SUFFIXES are the files
# never opened, never copied (RELIABILITY.md S10): safetensors only.
LINEAGE_FILE = "forge_model.json"
SUMS_FILE = "SHA256SUMS"


def model_storage() -> LocalStorage:
    return LocalStorage(Path(settings.FORGE_MODELS_DIR))


def model_key(job_id: int) -> str:
    return f"job-{job_id}"


def is_pickle(path: Path) -> bool:
    from gpu_agent.models.folder import PICKLE_SUFFIXES

    return path.name.lower().endswith(PICKLE_SUFFIXES)


def sha256_file(path: Path) -> str:
    from gpu_agent.models.folder import sha256_file

    return sha256_file(path)


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


def manifest_of(folder: Path) -> list[dict[str, Any]]:
    """[{"path", "bytes", "sha256"}] of every file in ``folder`` (the engine's)."""
    from gpu_agent.models.folder import file_manifest

    return file_manifest(folder)


def manifest_problems(folder: Path, manifest: list[dict[str, Any]]) -> list[str]:
    """What differs between ``folder`` and its recorded manifest (empty: it matches)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"the model folder {folder} is missing"]
    from gpu_agent.models.folder import verify_manifest

    return verify_manifest(folder, manifest)


def sums_text(manifest: list[dict[str, Any]]) -> str:
    """A SHA256SUMS file (``sha256sum -c`` reads it)."""
    return "".join(f"{f['sha256']}  {f['path']}\n" for f in manifest)
