"""Shared memory that DeepSpeed's CPU runs leave behind.

On a CPU run (DS_ACCELERATOR=cpu) every rank of DeepSpeed's ``deepspeed_shm_comm``
op creates ``/dev/shm/deepspeed_allreduce_buffer_<uid>_<master addr>_<master
port>_<rank>`` (about 66 MB), maps it, and never unlinks it: the file outlives the
run. A node that runs many CPU jobs fills its tmpfs, and then the kernel's OOM
killer ends whatever runs next (seen: 15 GB after six test-suite runs).

The agent sweeps after every attempt and now and then: it removes the buffers of
its own user that no live process holds open or maps. A rank creates its buffer with
``shm_open`` (the descriptor exists as soon as the file does), writes 66 MB into it,
then maps it and keeps the descriptor for its lifetime; its peers open it by name, and
would wait forever for one removed before they looked. A buffer is therefore in use
from its creation to its creator's exit, and never removed while so: a sweep is safe
while other jobs run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SHM_DIR = Path("/dev/shm")  # noqa: S108 - where DeepSpeed puts them; we only remove
PREFIX = "deepspeed_allreduce_buffer_"


def _candidates(shm_dir: Path, uid: int) -> list[Path]:
    try:
        return sorted(shm_dir.glob(f"{PREFIX}{uid}_*"))
    except OSError:
        return []


def paths_in_use(proc: Path = Path("/proc")) -> set[str]:
    """Every file path that a process this user can see holds open or has mapped."""
    found: set[str] = set()
    try:
        pids = [entry for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            for fd in (pid / "fd").iterdir():
                with contextlib.suppress(OSError):
                    found.add(os.readlink(fd).removesuffix(" (deleted)"))
        except OSError:  # gone, or another user's process
            continue
        try:
            with open(pid / "maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    index = line.find("/")
                    if index != -1:
                        found.add(line[index:].rstrip("\n").removesuffix(" (deleted)"))
        except OSError:
            continue
    return found


def sweep(
    shm_dir: Path = SHM_DIR,
    *,
    uid: int | None = None,
    proc: Path = Path("/proc"),
) -> list[Path]:
    """Remove this user's DeepSpeed buffers that no process uses; returns what went."""
    uid = os.getuid() if uid is None else uid
    candidates = _candidates(shm_dir, uid)
    if not candidates:
        return []
    in_use = paths_in_use(proc)
    removed = []
    for path in candidates:
        if str(path) in in_use:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
