"""The Python stacks of a job's processes, so that a hang can be read without a shell
on the node.

The agent reads them when a job gives no first record within its start-up limit,
and when the console says the job stalled (its stalled-metrics alert fired). For
every Python process of the job's process group but the wrapper (the launcher and
each rank) it runs ``py-spy dump --pid`` (py-spy reads the process's memory; it
needs ptrace rights over it: the agent's user, with no Yama restriction, or
CAP_SYS_PTRACE). Where py-spy is missing or cannot attach, it falls back to
faulthandler: job entry points call ``register_faulthandler()``, which makes
SIGUSR1 write every thread's stack to ``$FORGE_JOB_DIR/stacks/<pid>.txt``; the agent
signals only processes that registered so (SIGUSR1 would end any other) and reads
what was added.

The result travels as a "stacks" record: ``{"reason": str, "processes": [{"pid",
"label", "method", "text"}]}``.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from gpu_agent.spec import STACKS_MAX_PROCESSES, STACKS_REASON_CHARS, STACKS_TEXT_CHARS

log = logging.getLogger("gpu_agent.stacks")

FOLDER = "stacks"  # under the job's folder: faulthandler's files
_registered: list[TextIO] = []


def register_faulthandler() -> Path | None:
    """In a job's process: SIGUSR1 writes all threads' stacks to
    ``$FORGE_JOB_DIR/stacks/<pid>.txt`` (nothing without FORGE_JOB_DIR)."""
    job_dir = os.environ.get("FORGE_JOB_DIR")
    if not job_dir:
        return None
    folder = Path(job_dir) / FOLDER
    try:
        folder.mkdir(exist_ok=True)
        path = folder / f"{os.getpid()}.txt"
        f = open(path, "a")  # noqa: SIM115 - open for the process's life
    except OSError:
        return None
    faulthandler.register(signal.SIGUSR1, file=f, all_threads=True)
    _registered.append(f)
    return path


@dataclass
class ProcessStack:
    pid: int
    label: str  # "rank 0 (local 0)", "launcher", "python"
    method: str  # "py-spy", "faulthandler" or "none"
    text: str
    rank: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "rank"}


def group_pids(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def _is_python(pid: int, cmd: list[str]) -> bool:
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        exe = os.path.basename(cmd[0]) if cmd else ""
    return exe.startswith("python")


def _label(pid: int, cmd: list[str]) -> tuple[str, int | None]:
    if "gpu_agent.wrap" in cmd:
        return "wrapper", None
    if any(part.startswith("deepspeed.launcher") for part in cmd):
        return "launcher", None
    env = _environ(pid)
    rank = env.get("RANK", "")
    if rank.isdigit():
        return f"rank {rank} (local {env.get('LOCAL_RANK', '?')})", int(rank)
    module = cmd[cmd.index("-m") + 1] if "-m" in cmd[:-1] else ""
    return (module or "python"), None


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def dump_py_spy(pid: int, *, timeout: float = 20.0) -> tuple[str | None, str]:
    """(the stack, "") or (None, why not)."""
    exe = py_spy()
    if exe is None:
        return None, "py-spy is not installed"
    try:
        proc = subprocess.run(
            [exe, "dump", "--pid", str(pid)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"py-spy took over {timeout:.0f} s"
    except OSError as exc:
        return None, f"py-spy: {exc}"
    if proc.returncode != 0 or "Thread " not in proc.stdout:
        error = (proc.stderr.strip().splitlines() or ["no output"])[0]
        return None, f"py-spy: {error}"
    return proc.stdout, ""


def dump_faulthandler(job_dir: Path, pid: int, *, timeout: float = 5.0) -> tuple[str | None, str]:
    """SIGUSR1 to a process that registered faulthandler, and what it wrote."""
    path = Path(job_dir) / FOLDER / f"{pid}.txt"
    try:
        before = path.stat().st_size
    except OSError:
        return None, "no faulthandler registration"
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError as exc:
        return None, f"cannot signal it: {exc}"
    deadline = time.monotonic() + timeout
    size = before
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = path.stat().st_size
        if now > before and now == size:  # written, and no longer growing
            break
        size = now
    if size <= before:
        return None, f"no stack written within {timeout:.0f} s"
    with open(path, "rb") as f:
        f.seek(before)
        return f.read().decode(errors="replace"), ""


def capture(job_dir: Path, pgid: int) -> list[ProcessStack]:
    """The stacks of every Python process of the job but its wrapper: ranks first."""
    found = []
    for pid in group_pids(pgid):
        cmd = _cmdline(pid)
        if pid == pgid or not _is_python(pid, cmd):
            continue
        label, rank = _label(pid, cmd)
        if label == "wrapper":
            continue
        found.append((pid, label, rank))
    found.sort(key=lambda p: (p[2] is None, p[2] if p[2] is not None else 0, p[0]))
    out = []
    for pid, label, rank in found[:STACKS_MAX_PROCESSES]:
        text, why = dump_py_spy(pid)
        method = "py-spy"
        if text is None:
            text, why2 = dump_faulthandler(job_dir, pid)
            method = "faulthandler"
            if text is None:
                text, method = f"(no stack: {why}; {why2})", "none"
        if len(text) > STACKS_TEXT_CHARS:
            text = text[: STACKS_TEXT_CHARS // 2] + "\n…[cut]…\n" + text[-STACKS_TEXT_CHARS // 2 :]
        out.append(ProcessStack(pid=pid, label=label, method=method, text=text, rank=rank))
    return out


_PY_SPY_THREAD = re.compile(r"^Thread (\d+)")
_PY_SPY_FRAME = re.compile(r"^\s+(\S.*\(.*\))\s*$")
_FH_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.*)$')


def innermost(stack: ProcessStack) -> str:
    """The frame the process's main thread is in ("" when unknown)."""
    lines = stack.text.splitlines()
    if stack.method == "py-spy":
        threads: dict[int, str] = {}
        current = None
        for line in lines:
            head = _PY_SPY_THREAD.match(line)
            if head:
                current = int(head.group(1))
                continue
            frame = _PY_SPY_FRAME.match(line)
            if current is not None and frame and current not in threads:
                threads[current] = frame.group(1)
        return threads.get(stack.pid) or next(iter(threads.values()), "")
    if stack.method == "faulthandler":
        taking = False
        for line in lines:
            if line.startswith(("Current thread", "Thread ")):
                taking = line.startswith("Current thread")
                continue
            frame = _FH_FRAME.match(line)
            if taking and frame:
                path, number, func = frame.groups()
                return f"{func} ({_short(path)}:{number})"
    return ""


def _short(path: str) -> str:
    for marker in ("site-packages/", "gpu_agent/"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail if marker == "site-packages/" else marker + tail
    return path


def record(reason: str, stacks: list[ProcessStack]) -> dict[str, Any]:
    """The data of a "stacks" record."""
    return {"reason": reason[:STACKS_REASON_CHARS], "processes": [s.as_dict() for s in stacks]}
