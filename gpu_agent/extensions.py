"""Compiled ops (torch C++ extensions) of the jobs an agent runs: built per install,
never waited on forever.

DeepSpeed compiles some ops on first use with torch's ``cpp_extension.load``: on a
CPU run its shared-memory communication op ``deepspeed_shm_comm``, with ZeRO's CPU
offload ``cpu_adam``. torch builds each op in ``$TORCH_EXTENSIONS_DIR/<op>/`` (by
default ``~/.cache/torch_extensions/py<ver>_<accel>/<op>/``, shared by every install
of the user, whose build files name each venv's include paths, so two installs
rebuild each other's op). The agent points TORCH_EXTENSIONS_DIR of every job at a
folder of its own install (``extensions_dir``): ``<venv>/torch_extensions`` when the
agent runs from a writable venv (`make install` prebuilds the CPU op there), else
``<work dir>/torch_extensions``; FORGE_TORCH_EXTENSIONS_DIR (or ``--extensions-dir``)
chooses another.

A build holds ``<op>/lock``, a file torch creates with O_CREAT|O_EXCL and keeps open
(the descriptor torch's FileBaton keeps) until the build ends and the file is removed;
other processes wait while the file exists. A process killed mid-build (a cancel, a
timeout, the OOM killer) leaves the file, and every later load waits forever.

The rule for a stale lock: the lock file exists, and no process on this host has it
open, now and again ``settle`` seconds later, with the file unchanged (same inode and
mtime). A live builder always has it open (torch opens it to create it and closes it
only just before removing it, so the second look rules out that instant). Processes
are seen through /proc: those of other users are seen only by root, and those of
another PID namespace (a container sharing this folder) not at all; the folder is
this install's, written by the agent's user, so neither should build there.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gpu_agent.extensions")

LOCK_NAME = "lock"
ENV_DIR = "FORGE_TORCH_EXTENSIONS_DIR"
# The op DeepSpeed compiles on a CPU run (deepspeed.comm.torch.build_shm_op).
CPU_OPS = ("ShareMemCommBuilder",)


@dataclass(frozen=True)
class BuildLock:
    op: str  # the build folder's name: the op (with torch's _v<n> when rebuilt)
    path: Path
    age: float  # seconds since the lock file was made
    holders: tuple[int, ...]  # pids that have it open (a live build); empty: stale

    def describe(self) -> str:
        if self.holders:
            who = ", ".join(str(p) for p in self.holders)
            state = f"held by pid {who} for {self.age:.0f} s"
        else:
            state = f"left {self.age:.0f} s ago by a process that is gone"
        return f"the build lock of {self.op} in {self.path.parent.parent} ({state})"


def default_dir(work_dir: str | Path) -> Path:
    """This install's extensions folder (see the module docstring)."""
    chosen = os.environ.get(ENV_DIR, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    prefix = Path(sys.prefix)
    if sys.prefix != sys.base_prefix and os.access(prefix, os.W_OK):
        return prefix / "torch_extensions"
    return Path(work_dir) / "torch_extensions"


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def lock_holders(path: Path) -> tuple[int, ...]:
    """The pids of the processes on this host that have ``path`` open."""
    target = _stat(path)
    if target is None:
        return ()
    me = os.getpid()
    holders = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:  # gone, or another user's (see the module docstring)
            continue
        with fds:
            for fd in fds:
                try:
                    st = os.stat(fd.path)  # follows the link to the open file
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                    holders.append(int(entry.name))
                    break
    return tuple(holders)


def build_locks(root: str | Path) -> list[BuildLock]:
    """Every build lock under ``root`` (``<root>/<op>/lock``), live or stale."""
    locks = []
    now = time.time()
    with contextlib.suppress(OSError):
        for lock in sorted(Path(root).glob(f"*/{LOCK_NAME}")):
            st = _stat(lock)
            if st is None:
                continue
            locks.append(
                BuildLock(
                    op=lock.parent.name,
                    path=lock,
                    age=max(0.0, now - st.st_mtime),
                    holders=lock_holders(lock),
                )
            )
    return locks


def clear_stale_locks(root: str | Path, *, settle: float = 1.0) -> list[BuildLock]:
    """Remove the stale build locks under ``root``; returns those removed (each logged)."""
    cleared = []
    for lock in build_locks(root):
        if lock.holders:
            continue
        first = _stat(lock.path)
        time.sleep(settle)
        again = _stat(lock.path)
        if first is None or again is None:
            continue  # released meanwhile
        same = (first.st_ino, first.st_mtime_ns) == (again.st_ino, again.st_mtime_ns)
        if not same or lock_holders(lock.path):
            continue
        try:
            lock.path.unlink()
        except FileNotFoundError:
            continue
        log.warning("cleared a stale build lock: %s", lock.describe())
        cleared.append(lock)
    return cleared


def built(root: str | Path, op: str) -> bool:
    """Whether ``op``'s library is in ``root`` (torch then only checks it is current)."""
    return (Path(root) / op / f"{op}.so").is_file()


def prebuild(root: str | Path, *, timeout: float = 1800.0) -> tuple[bool, str]:
    """Build DeepSpeed's CPU ops into ``root`` now (in a child process, so that a hang
    or a crash of the compiler costs this process nothing); stale locks first.
    Returns (ok, the build's last output line or the error)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    clear_stale_locks(root)
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(root), "DS_ACCELERATOR": "cpu"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gpu_agent.extensions", "_build"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, f"not built within {timeout:.0f} s"
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else ""
    return proc.returncode == 0, last


def _build_cpu_ops() -> int:
    """In the child: load (build if needed) every CPU op; 0 when all were built."""
    from deepspeed.accelerator import get_accelerator

    failed = 0
    for name in CPU_OPS:
        builder = get_accelerator().create_op_builder(name)
        if builder is None or not builder.is_compatible():
            print(f"{name}: not used on this machine", flush=True)
            continue
        try:
            builder.load(verbose=False)
        except Exception as exc:
            print(f"{builder.NAME}: build failed: {exc}", file=sys.stderr, flush=True)
            failed += 1
        else:
            print(f"{builder.NAME}: built in {os.environ['TORCH_EXTENSIONS_DIR']}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gpu_agent.extensions",
        description="Build DeepSpeed's CPU ops into this install's extensions folder, "
        "clearing stale build locks first.",
    )
    parser.add_argument("command", choices=["prebuild", "clear-stale", "_build"])
    parser.add_argument("--dir", type=Path, default=None, help="default: this install's")
    parser.add_argument("--work-dir", type=Path, default=Path("~/.forge-agent").expanduser())
    args = parser.parse_args(argv)
    if args.command == "_build":
        return _build_cpu_ops()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = args.dir or default_dir(args.work_dir)
    if args.command == "clear-stale":
        clear_stale_locks(root)
        return 0
    ok, last = prebuild(root)
    print(f"{'built' if ok else 'NOT built'}: {last}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
