"""Runs launched jobs as subprocesses and turns what they print into spool records.

Each attempt gets a folder ``<work_dir>/jobs/<job>-<attempt>/`` holding
``launch.json`` (the LaunchSpec as a dict, its ``checkpoint`` included),
``stdout.log`` and ``stderr.log`` (the job writes there directly), ``lock``,
``wrapper.pid`` and, once it ended, ``exit_code``.

The process tree is ``gpu_agent.wrap`` (leader of a new session, so the job is a
process group of its own and outlives the agent) -> the kind's command. The
wrapper holds an flock on ``lock`` while it lives (the agent takes the lock
before starting it and passes it down, so there is no moment when a started job
is not locked) and writes ``exit_code`` when the command ends.

One monitor thread tails every job's two files from the offsets kept in the
spool. The records made from a piece of output and the new offsets are one spool
transaction, so after an agent restart (R6) tailing resumes at exactly the next
byte: nothing lost, nothing twice. A job is over when its lock is free; its
outcome comes from ``exit_code``: 0 succeeded; stopped on request cancelled;
otherwise failed with the exit code and the first traceback a process of the job
left in ``errors/`` (else the last stderr line), or interrupted (the console
requeues it) when the kind says that exit is worth a new attempt. A lock that is free
with no ``exit_code`` after a restart means the process died while no agent
watched: failed, "lost: agent restarted and the process was gone".

Compiled ops (gpu_agent/extensions.py): every job gets TORCH_EXTENSIONS_DIR, this
install's extensions folder, and stale build locks there are cleared (with a line
in the agent's log and the job's) before a job starts. A job that gives no first
record (a metric or progress line) within ``startup_timeout`` seconds is stuck
before its first step: the agent reads its processes' Python stacks
(gpu_agent/stacks.py), sends them as a "stacks" record, and stops it, failed with
"stuck before the first step: waiting on …" (the build lock it waits on, else the
frame its main process is in). ``capture_stacks`` does the same reading on demand
(the console asks when a running job stalls) without stopping anything.

Output lines: a stdout line starting with STDOUT_MARKER carries a JSON object
``{"type": "metric", "step": int, "values": {name: number}}`` or
``{"type": "progress", "percent": number, "message": str, "checkpoint": dict|null}``;
a malformed one is kept as a log line; every other line is a "log" record
``{"stream", "line"}``, cut at LOG_LINE_CAP bytes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gpu_agent
from gpu_agent import extensions, shm, stacks, wrap
from gpu_agent.kinds import KINDS, Kind
from gpu_agent.roots import outside as paths_outside
from gpu_agent.spec import (
    LOG_LINE_CAP,
    MARKER_LINE_CAP,
    METRIC_NAME_MAX,
    STATUS_REASON_CHARS,
    STDOUT_MARKER,
    LaunchSpec,
    SpecError,
    spec_from_dict,
)
from gpu_agent.spool import ACCEPTED, JobRow, Spool

log = logging.getLogger("gpu_agent.supervisor")

COMMAND_FILE = "command.json"  # the job's argv and the environment its kind added
SHM_SWEEP_S = 300.0  # seconds between sweeps of leftover DeepSpeed shared memory
READ_CHUNK = 1 << 20  # bytes read per file per tick (a chatty job catches up over ticks)
# Never handed to a job (the last ones are there when `make run` starts the agent
# with the console's environment): a job is user code.
SECRET_ENV = (
    "FORGE_NODE_TOKEN",
    "FORGE_SECRET_KEY",
    "FORGE_ADMIN_PASSWORD",
    "DATABASE_URL",
    "REDIS_URL",
)
LOST_REASON = "lost: agent restarted and the process was gone"
# A stop whose reason starts with this reports "interrupted": the console requeues the
# job (it resumes from its checkpoint) instead of cancelling it.
INTERRUPTED_PREFIX = "interrupted:"
# A stop whose reason starts with this reports "failed" (the start-up limit ran out).
STUCK_PREFIX = "stuck before the first step:"
FIRST_RECORD_TYPES = ("metric", "progress")

MARKER_BYTES = STDOUT_MARKER.encode()

Item = tuple[str, dict[str, Any]]


@dataclass
class _Job:
    job_id: int
    attempt: int
    dir: Path
    pgid: int | None
    proc: subprocess.Popen | None  # None when re-attached after a restart
    stdout_offset: int = 0
    stderr_offset: int = 0
    stop_requested_at: float | None = None
    stop_reason: str = ""
    killed: bool = False
    reattached: bool = False
    kind: str = ""
    started_at: float = field(default_factory=time.time)
    first_record: bool = False  # a metric or progress record came: past the start-up
    # Whether records are expected from this node (only rank 0 reports): the start-up
    # limit holds a multi-node attempt's first node only.
    reports: bool = True
    capturing: bool = False  # a stacks capture is under way

    @property
    def key(self) -> tuple[int, int]:
        return (self.job_id, self.attempt)


@dataclass
class _Read:
    items: list[Item] = field(default_factory=list)
    stdout_offset: int = 0
    stderr_offset: int = 0


def lock_held(job_dir: Path) -> bool:
    """True while the job's wrapper is alive (it holds an flock on job_dir/lock)."""
    try:
        fd = os.open(job_dir / wrap.LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # closing also drops the lock if we took it
    return False


def _clean_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_marker(payload: str) -> list[Item] | None:
    """The records a marker line's JSON stands for, or None when it is malformed."""
    try:
        obj = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if kind == "metric":
        step, values = obj.get("step"), obj.get("values")
        if isinstance(step, bool) or not isinstance(step, int) or not isinstance(values, dict):
            return None
        good: dict[str, float] = {}
        bad: list[str] = []
        for name, raw in values.items():
            number = _clean_number(raw)
            if number is None:
                return None
            if math.isfinite(number) and 0 < len(name) <= METRIC_NAME_MAX:
                good[name] = number
            else:
                bad.append(f"{name[: METRIC_NAME_MAX + 1]}={number}")
        items: list[Item] = []
        if good:
            items.append(("metric", {"step": step, "values": good}))
        if bad:  # NaN/inf are not JSON, odd names are refused: say so in the log instead
            line = f"metric values not recorded at step {step} (not finite, or bad name): "
            items.append(
                ("log", {"stream": "stdout", "line": (line + ", ".join(bad))[:LOG_LINE_CAP]})
            )
        return items
    if kind == "progress":
        percent = _clean_number(obj.get("percent"))
        message = obj.get("message", "")
        checkpoint = obj.get("checkpoint")
        if percent is None or not math.isfinite(percent) or not isinstance(message, str):
            return None
        if checkpoint is not None and not isinstance(checkpoint, dict):
            return None
        if checkpoint is not None:
            try:
                json.dumps(checkpoint, allow_nan=False)
            except ValueError:
                return None
        return [
            (
                "progress",
                {
                    "percent": min(100.0, max(0.0, percent)),
                    "message": message[:LOG_LINE_CAP],
                    "checkpoint": checkpoint,
                },
            )
        ]
    return None


def line_items(stream: str, raw: bytes) -> list[Item]:
    """The records for one output line (without its newline)."""
    if stream == "stdout" and raw.startswith(MARKER_BYTES) and len(raw) <= MARKER_LINE_CAP:
        items = parse_marker(raw[len(MARKER_BYTES) :].decode("utf-8", "replace"))
        if items is not None:
            return items
    if len(raw) > LOG_LINE_CAP:
        cut = len(raw) - LOG_LINE_CAP
        text = raw[:LOG_LINE_CAP].decode("utf-8", "replace") + f" …[{cut} bytes cut]"
    else:
        text = raw.decode("utf-8", "replace")
    text = text.rstrip("\r")
    return [("log", {"stream": stream, "line": text})]


def read_lines(path: Path, offset: int, *, final: bool) -> tuple[list[bytes], int]:
    """Complete lines of ``path`` from ``offset`` on, and the offset after them.

    An unfinished last line stays unread, unless it is longer than MARKER_LINE_CAP (then it
    is taken as it is) or ``final`` (the writer is gone: everything is read)."""
    lines: list[bytes] = []
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return lines, offset
    with f:
        while True:
            f.seek(offset)
            chunk = f.read(READ_CHUNK)
            if not chunk:
                return lines, offset
            *complete, rest = chunk.split(b"\n")
            lines.extend(complete)
            offset += len(chunk) - len(rest)
            at_eof = len(chunk) < READ_CHUNK
            if rest and (len(rest) > MARKER_LINE_CAP or (final and at_eof)):
                lines.append(rest)
                offset += len(rest)
            if not final or at_eof:
                return lines, offset


def last_line(path: Path) -> str:
    """The last non-empty line of a file (for a failure's reason)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - LOG_LINE_CAP))
            tail = f.read()
    except OSError:
        return ""
    for raw in reversed(tail.splitlines()):
        text = raw.decode("utf-8", "replace").strip()
        if text:
            return text[:500]
    return ""


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Supervisor:
    def __init__(
        self,
        spool: Spool,
        work_dir: str | Path,
        *,
        grace: float = 10.0,
        poll_interval: float = 0.2,
        kinds: dict[str, Kind] | None = None,
        extensions_dir: str | Path | None = None,
        startup_timeout: float | None = None,
        roots: tuple[Path, ...] = (),
    ) -> None:
        self.spool = spool
        # The folders a job's spec may name (gpu_agent.roots): the work dir, and the
        # storage the node's configuration or the console's registration reply names.
        self.roots: tuple[Path, ...] = (Path(work_dir), *roots)
        self.jobs_dir = Path(work_dir) / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        # This install's torch extensions folder (TORCH_EXTENSIONS_DIR of every job).
        self.extensions_dir = Path(extensions_dir) if extensions_dir is not None else None
        # Seconds a job may run before its first metric or progress record (None: no limit).
        self.startup_timeout = startup_timeout or None
        self.grace = grace
        self.poll_interval = poll_interval
        self.kinds = KINDS if kinds is None else kinds
        self._jobs: dict[tuple[int, int], _Job] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # DeepSpeed's CPU buffers in /dev/shm outlive their run (gpu_agent.shm): swept
        # at start, after every attempt and every SHM_SWEEP_S, on a thread of its own.
        self._sweep_now = threading.Event()
        self._sweeper: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Supervisor:
        """Re-attach to what the spool says is running, then start monitoring."""
        for row in self.spool.active_jobs():
            try:
                self._reattach(row)
            except Exception:
                log.exception("job %s attempt %s: cannot re-attach", row.job_id, row.attempt)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()
        self._sweep_now.set()
        self._sweeper = threading.Thread(target=self._sweep_shm, name="shm-sweeper", daemon=True)
        self._sweeper.start()
        return self

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop watching (running jobs keep running; a restarted agent re-attaches)."""
        self._stop.set()
        self._sweep_now.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sweeper is not None:
            self._sweeper.join(timeout)
            self._sweeper = None
        with contextlib.suppress(Exception):
            self.tick()  # what they printed up to now goes into the spool

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.tick()
            except Exception:
                log.exception("supervisor tick failed")

    def _sweep_shm(self) -> None:
        while not self._stop.is_set():
            self._sweep_now.wait(SHM_SWEEP_S)
            self._sweep_now.clear()
            if self._stop.is_set():
                return
            try:
                removed = shm.sweep()
            except Exception:
                log.exception("shared memory sweep failed")
                continue
            if removed:
                log.info(
                    "removed %d DeepSpeed buffer(s) no process uses from %s: %s",
                    len(removed),
                    shm.SHM_DIR,
                    ", ".join(path.name for path in removed),
                )

    def running(self) -> list[dict[str, int]]:
        with self._lock:
            return [{"job": j.job_id, "attempt": j.attempt} for j in self._jobs.values()]

    def job_dir(self, job_id: int, attempt: int) -> Path:
        return self.jobs_dir / f"{job_id}-{attempt}"

    # ------------------------------------------------------------ launch and stop

    def launch(self, launch: LaunchSpec) -> None:
        """Start an attempt the spool has accepted (claim_launch); returns at once."""
        with self._lock:
            for job in list(self._jobs.values()):
                if job.job_id == launch.job_id and job.attempt < launch.attempt:
                    self.stop(job.job_id, job.attempt, f"superseded by attempt {launch.attempt}")
            self._launch(launch)

    def _fail_now(self, launch: LaunchSpec, reason: str) -> None:
        log.error("job %s attempt %s failed: %s", launch.job_id, launch.attempt, reason)
        self.spool.job_ended(
            launch.job_id, launch.attempt, outcome="failed", exit_code=None, reason=reason
        )

    def _launch(self, launch: LaunchSpec) -> None:
        kind = self.kinds.get(launch.kind)
        if kind is None:
            known = ", ".join(sorted(self.kinds)) or "none"
            self._fail_now(launch, f"unknown job kind {launch.kind!r} (this agent runs: {known})")
            return
        if kind.validate is not None:
            try:
                kind.validate(launch.spec)
            except SpecError as exc:
                self._fail_now(launch, f"invalid spec: {exc}")
                return
        if kind.paths is not None:
            problems = paths_outside(kind.paths(launch.spec), self.roots)
            if problems:
                self._fail_now(launch, "refused: " + "; ".join(problems))
                return
        job_dir = self.job_dir(launch.job_id, launch.attempt)
        if job_dir.exists():  # left by an earlier spool; never mix two runs' files
            job_dir.rename(job_dir.with_name(f"{job_dir.name}.stale-{time.time_ns()}"))
        job_dir.mkdir(parents=True)
        self._clear_stale_build_locks(launch, job_dir)
        spec_path = job_dir / "launch.json"
        spec_path.write_text(json.dumps(asdict(launch), indent=2))
        try:
            argv = kind.argv(launch, spec_path)
            kind_env = kind.env(launch) if kind.env is not None else {}
        except Exception as exc:
            self._fail_now(launch, f"cannot build the command: {exc}")
            return
        # What exactly ran, for an operator reproducing it (and for the shared memory
        # its DeepSpeed ranks name after the master port).
        (job_dir / COMMAND_FILE).write_text(json.dumps({"argv": argv, "env": kind_env}, indent=2))
        lock_fd = os.open(job_dir / wrap.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with (
                open(job_dir / "stdout.log", "ab") as out,
                open(job_dir / "stderr.log", "ab") as err,
            ):
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gpu_agent.wrap",
                        "--dir",
                        str(job_dir),
                        "--lock-fd",
                        str(lock_fd),
                        "--",
                        *argv,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=job_dir,
                    env={**self._env(launch, job_dir, spec_path), **kind_env},
                    start_new_session=True,
                    pass_fds=(lock_fd,),
                )
        except OSError as exc:
            self._fail_now(launch, f"cannot start the job: {exc}")
            return
        finally:
            os.close(lock_fd)  # the wrapper holds the lock now
        self.spool.job_started(
            launch.job_id, launch.attempt, pid=proc.pid, pgid=proc.pid, work_dir=str(job_dir)
        )
        self._jobs[(launch.job_id, launch.attempt)] = _Job(
            job_id=launch.job_id,
            attempt=launch.attempt,
            dir=job_dir,
            pgid=proc.pid,
            proc=proc,
            kind=launch.kind,
            reports=launch.rendezvous is None or launch.rendezvous.node_rank == 0,
        )
        log.info(
            "job %s attempt %s (%s) started: pid %s, GPUs %s, %s",
            launch.job_id,
            launch.attempt,
            launch.kind,
            proc.pid,
            launch.gpus or "none",
            job_dir,
        )

    def _clear_stale_build_locks(self, launch: LaunchSpec, job_dir: Path) -> None:
        """Before a job starts: a build lock no process holds would stop it forever."""
        if self.extensions_dir is None:
            return
        for lock in extensions.clear_stale_locks(self.extensions_dir):
            note = f"forge: cleared a stale build lock before starting: {lock.describe()}"
            log.warning("job %s attempt %s: %s", launch.job_id, launch.attempt, note)
            with open(job_dir / "stdout.log", "ab") as out:
                out.write(note.encode() + b"\n")

    def _env(self, launch: LaunchSpec, job_dir: Path, spec_path: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        package_root = str(Path(gpu_agent.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        env.update(
            {
                "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in launch.gpus),
                "FORGE_JOB_ID": str(launch.job_id),
                "FORGE_ATTEMPT": str(launch.attempt),
                "FORGE_SPEC": str(spec_path),
                "FORGE_JOB_DIR": str(job_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.extensions_dir is not None:
            env["TORCH_EXTENSIONS_DIR"] = str(self.extensions_dir)
        return env

    def stop(self, job_id: int, attempt: int, reason: str = "stopped by console") -> bool:
        """SIGTERM to the job's process group now, SIGKILL after the grace period.
        Returns at once; False when this agent runs no such job."""
        with self._lock:
            job = self._jobs.get((job_id, attempt))
            if job is None:
                return False
            if job.stop_requested_at is not None:
                return True
            self.spool.job_stop_requested(job_id, attempt, reason)
            job.stop_requested_at, job.stop_reason = time.time(), reason
            log.info("job %s attempt %s: stopping (%s)", job_id, attempt, reason)
            self._signal(job, signal.SIGTERM)
            return True

    def _signal(self, job: _Job, signum: int) -> None:
        # Only while the wrapper lives (lock held): then the group id is surely the job's.
        if not job.pgid:  # re-attached before it had recorded its pid
            job.pgid = _read_int(job.dir / wrap.PID_FILE)
        if job.pgid and lock_held(job.dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pgid, signum)

    # ------------------------------------------------------------ re-attach

    def _reattach(self, row: JobRow) -> None:
        job_dir = Path(row.work_dir) if row.work_dir else self.job_dir(row.job_id, row.attempt)
        if row.state == ACCEPTED:
            pid_file = job_dir / wrap.PID_FILE
            if not pid_file.exists() and not lock_held(job_dir):
                # accepted, but the agent stopped before starting it: start it now
                log.info(
                    "job %s attempt %s: starting (accepted before a restart)",
                    row.job_id,
                    row.attempt,
                )
                self._launch(spec_from_dict(LaunchSpec, row.launch))
                return
            # started, but the agent stopped before it recorded so
            pid = _read_int(pid_file)
            self.spool.job_started(
                row.job_id, row.attempt, pid=pid or 0, pgid=pid or 0, work_dir=str(job_dir)
            )
            row.pgid = pid
        job = _Job(
            job_id=row.job_id,
            attempt=row.attempt,
            dir=job_dir,
            pgid=row.pgid,
            proc=None,
            stdout_offset=row.stdout_offset,
            stderr_offset=row.stderr_offset,
            stop_requested_at=row.stop_requested_at,
            stop_reason=row.stop_reason or "",
            reattached=True,
            kind=str((row.launch or {}).get("kind", "")),
            started_at=row.started_at or time.time(),
            first_record=_has_marker(job_dir / "stdout.log", row.stdout_offset),
            reports=not ((row.launch or {}).get("rendezvous") or {}).get("node_rank"),
        )
        with self._lock:
            self._jobs[job.key] = job
        alive = lock_held(job_dir)
        log.info(
            "job %s attempt %s: re-attached (%s)",
            row.job_id,
            row.attempt,
            "running" if alive else "ended while the agent was down",
        )

    # ------------------------------------------------------------ monitoring

    def tick(self) -> None:
        """One pass over every job: new output into the spool, stop escalation, endings."""
        with self._lock:
            for job in list(self._jobs.values()):
                try:
                    if self._tick_job(job):
                        del self._jobs[job.key]
                except Exception:
                    log.exception("job %s attempt %s: monitoring failed", *job.key)

    def _read(self, job: _Job, *, final: bool) -> _Read:
        out_lines, out_off = read_lines(job.dir / "stdout.log", job.stdout_offset, final=final)
        err_lines, err_off = read_lines(job.dir / "stderr.log", job.stderr_offset, final=final)
        read = _Read(stdout_offset=out_off, stderr_offset=err_off)
        for raw in out_lines:
            read.items.extend(line_items("stdout", raw))
        for raw in err_lines:
            read.items.extend(line_items("stderr", raw))
        return read

    def _tick_job(self, job: _Job) -> bool:
        """Returns True when the job is over (and its final status is spooled)."""
        alive = lock_held(job.dir)
        if not alive and job.proc is not None and job.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.proc.wait(timeout=2)  # the lock goes a moment before the exit status
        if alive:
            read = self._read(job, final=False)
            if read.items or (read.stdout_offset, read.stderr_offset) != (
                job.stdout_offset,
                job.stderr_offset,
            ):
                self.spool.job_output(
                    job.job_id,
                    job.attempt,
                    read.items,
                    stdout_offset=read.stdout_offset,
                    stderr_offset=read.stderr_offset,
                )
                job.stdout_offset, job.stderr_offset = read.stdout_offset, read.stderr_offset
                if not job.first_record:
                    job.first_record = any(t in FIRST_RECORD_TYPES for t, _ in read.items)
            if (
                self.startup_timeout is not None
                and job.reports
                and not job.first_record
                and not job.capturing
                and job.stop_requested_at is None
                and time.time() - job.started_at >= self.startup_timeout
            ):
                self._start_capture(job, stuck=True)
            if (
                job.stop_requested_at is not None
                and not job.killed
                and time.time() - job.stop_requested_at >= self.grace
            ):
                log.warning(
                    "job %s attempt %s still running %.0f s after SIGTERM: SIGKILL",
                    *job.key,
                    self.grace,
                )
                self._signal(job, signal.SIGKILL)
                job.killed = True
            return False
        read = self._read(job, final=True)
        outcome, exit_code, reason = self._outcome(job)
        self.spool.job_ended(
            job.job_id,
            job.attempt,
            outcome=outcome,
            exit_code=exit_code,
            reason=reason,
            items=read.items,
            stdout_offset=read.stdout_offset,
            stderr_offset=read.stderr_offset,
        )
        log.info("job %s attempt %s %s%s", *job.key, outcome, f": {reason}" if reason else "")
        self._sweep_now.set()
        return True

    # ------------------------------------------------------------ stacks

    def capture_stacks(self, job_id: int, attempt: int, reason: str) -> bool:
        """Read the Python stacks of a running job's processes and send them as a
        "stacks" record (in a thread: returns at once). False when this agent runs no
        such job, or is reading its stacks already."""
        with self._lock:
            job = self._jobs.get((job_id, attempt))
            if job is None or job.capturing or not lock_held(job.dir):
                return False
            self._start_capture(job, reason=reason)
            return True

    def _start_capture(self, job: _Job, *, stuck: bool = False, reason: str = "") -> None:
        job.capturing = True
        threading.Thread(
            target=self._capture,
            args=(job, stuck, reason),
            name=f"stacks-{job.job_id}-{job.attempt}",
            daemon=True,
        ).start()

    def _capture(self, job: _Job, stuck: bool, reason: str) -> None:
        try:
            if not job.pgid:
                job.pgid = _read_int(job.dir / wrap.PID_FILE)
            taken = stacks.capture(job.dir, job.pgid) if job.pgid else []
            if stuck:
                reason = self._stuck_reason(taken)
            log.warning("job %s attempt %s: %d stack(s) read (%s)", *job.key, len(taken), reason)
            with self._lock:
                if job.key in self._jobs and lock_held(job.dir):
                    self.spool.job_output(
                        job.job_id,
                        job.attempt,
                        [("stacks", stacks.record(reason, taken))],
                        stdout_offset=job.stdout_offset,
                        stderr_offset=job.stderr_offset,
                    )
                    if stuck:
                        self.stop(job.job_id, job.attempt, reason)
        except Exception:
            log.exception("job %s attempt %s: reading the stacks failed", *job.key)
            if stuck:  # stop it all the same: the limit is the limit
                self.stop(
                    job.job_id,
                    job.attempt,
                    f"{STUCK_PREFIX} no first record after {self.startup_timeout:g} s",
                )
        finally:
            job.capturing = False

    def _stuck_reason(self, taken: list[stacks.ProcessStack]) -> str:
        """ "stuck before the first step: waiting on <what>; ...": the build lock, when a
        process of the job waits on one (its stack is in torch's FileBaton) or a stale one
        is there; else the frame the first rank (or process) is in."""
        limit = f"no first record after {self.startup_timeout:g} s"
        locks = extensions.build_locks(self.extensions_dir) if self.extensions_dir else []
        waiting = any("file_baton" in stack.text for stack in taken)
        stale = [lock for lock in locks if not lock.holders]
        what = ""
        if locks and (waiting or stale):
            what = "; ".join(lock.describe() for lock in (locks if waiting else stale))
            if stale and self.extensions_dir is not None:
                extensions.clear_stale_locks(self.extensions_dir)  # the next attempt starts
        else:
            for stack in taken:
                frame = stacks.innermost(stack)
                if frame:
                    what = f"{frame} in {stack.label} (pid {stack.pid})"
                    break
        return f"{STUCK_PREFIX} waiting on {what or 'something no stack showed'}; {limit}"[:1000]

    def _outcome(self, job: _Job) -> tuple[str, int | None, str]:
        code = wrap.read_exit_code(job.dir)
        if code == 0:
            return "succeeded", 0, ""
        if job.stop_requested_at is not None:
            reason = job.stop_reason or "stopped"
            if reason.startswith(INTERRUPTED_PREFIX):
                return "interrupted", code, reason
            if reason.startswith(STUCK_PREFIX):
                return "failed", code, reason
            return "cancelled", code, reason
        if code is None:
            if job.proc is not None:
                how = job.proc.returncode
                what = f"killed by {_signal_name(-how)}" if how and how < 0 else f"exit {how}"
                return "failed", None, f"lost: the job's wrapper process died ({what})"
            return "failed", None, LOST_REASON
        what = f"killed by {_signal_name(-code)}" if code < 0 else f"exit code {code}"
        first = first_error(job.dir)
        last = last_line(job.dir / "stderr.log")
        reason = f"{what}: {first or last}" if first or last else what
        kind = self.kinds.get(job.kind)
        if kind is not None and kind.retry is not None and kind.retry(code):
            return "interrupted", code, reason  # the console runs a new attempt
        return "failed", code, reason


# A traceback kept in a status reason: under the console's cut, with room for "exit code N: ".
ERROR_REASON_CHARS = STATUS_REASON_CHARS - 200


def first_error(job_dir: Path) -> str:
    """The traceback the job's first failing process left in ``errors/`` (a training
    rank writes ``errors/rank-<n>.txt`` as it dies), its head and tail kept within
    ERROR_REASON_CHARS; empty when there is none."""
    try:
        files = sorted(
            (p for p in (job_dir / "errors").glob("*.txt") if p.is_file()),
            key=lambda p: (p.stat().st_mtime_ns, p.name),
        )
        text = files[0].read_text(errors="replace").strip() if files else ""
    except OSError:
        return ""
    if len(text) <= ERROR_REASON_CHARS:
        return text
    head, _, _rest = text.partition("\n")
    return f"{head}\n…\n{text[-(ERROR_REASON_CHARS - len(head) - 3) :]}"


def _has_marker(path: Path, upto: int) -> bool:
    """Whether the first ``upto`` bytes of a job's stdout hold a marker line (a record
    the job reported): tells a re-attached job whether it passed its start-up."""
    needle = b"\n" + MARKER_BYTES
    try:
        with open(path, "rb") as f:
            if f.read(len(MARKER_BYTES)) == MARKER_BYTES:
                return True
            f.seek(0)
            tail, done = b"", 0
            while done < upto:
                chunk = f.read(min(READ_CHUNK, upto - done))
                if not chunk:
                    return False
                if needle in tail + chunk:
                    return True
                tail, done = chunk[-len(needle) :], done + len(chunk)
    except OSError:
        return False
    return False


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
