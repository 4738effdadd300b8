"""Shared memory that DeepSpeed's CPU runs leave behind.

On a CPU run (DS_ACCELERATOR=cpu) every rank of DeepSpeed's ``deepspeed_shm_comm``
op creates ``/dev/shm/deepspeed_allreduce_buffer_<uid>_<master addr>_<master
port>_<rank>`` (about 66 MB), maps it, and never unlinks it: the file outlives the
run. A node that runs many CPU jobs fills its tmpfs, and then the kernel's OOM
killer ends whatever runs next (seen: 15 GB after six test-suite runs).

The agent sweeps after every attempt and now and then: it removes the buffers of
its own user that no live process maps any more and that were not touched in the
same one second later (a rank creates its file, sizes it and maps it within
microseconds; looking twice keeps even that moment safe: a peer rank opens the
file by name and would wait forever for one removed before it looked). A buffer a
live rank maps is never removed, so a sweep is safe while other jobs run.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

SHM_DIR = Path("/dev/shm")  # noqa: S108 - where DeepSpeed puts them; we only remove
PREFIX = "deepspeed_allreduce_buffer_"
SETTLE_S = 1.0


def _candidates(shm_dir: Path, uid: int) -> list[Path]:
    try:
        return sorted(shm_dir.glob(f"{PREFIX}{uid}_*"))
    except OSError:
        return []


def mapped_paths(proc: Path = Path("/proc")) -> set[str]:
    """Every file path that a process this user can see has mapped."""
    found: set[str] = set()
    try:
        pids = [entry for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(pid / "maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    index = line.find("/")
                    if index != -1:
                        found.add(line[index:].rstrip("\n").removesuffix(" (deleted)"))
        except OSError:  # gone, or another user's process
            continue
    return found


def sweep(
    shm_dir: Path = SHM_DIR,
    *,
    uid: int | None = None,
    settle_s: float = SETTLE_S,
    proc: Path = Path("/proc"),
) -> list[Path]:
    """Remove this user's DeepSpeed buffers that nothing maps; returns what went."""
    uid = os.getuid() if uid is None else uid
    in_use = mapped_paths(proc)
    unmapped = [path for path in _candidates(shm_dir, uid) if str(path) not in in_use]
    if not unmapped:
        return []
    time.sleep(settle_s)
    in_use = mapped_paths(proc)
    removed = []
    for path in unmapped:
        if str(path) in in_use:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
