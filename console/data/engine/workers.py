"""Worker processes for the cleaning pipeline's map rules.

Not a ``ProcessPoolExecutor``: it sends every result through one pipe that all its
workers share, and the parent keeps a write end of that pipe open. A worker killed
while writing a large result (the OOM killer, ``kill -9``, a node draining) leaves
half a message in the pipe; the executor's manager thread then waits for the rest
forever, no future ever completes, and ``shutdown(wait=True)`` hangs as well
(CPython 3.11 to 3.13). Cleaning chunks are up to 2 MiB, so a worker spends much
of its life in that window: this is how ``test_a_killed_worker_fails_the_run_cleanly``
hung in CI. ``multiprocessing`` also refuses to start children in a daemonic
process (a Celery prefork child), and a spawned child re-imports the parent's
``__main__``.

Here a worker is a plain child process (``python -c`` running ``main`` below,
started with ``subprocess``) with a pipe of its own each way, and the parent keeps
no copy of the worker's ends. So:

* a worker that dies is seen at once (its pipe reads end-of-file, or a write to it
  fails) and the run raises ``WorkerFailed``, a ``BrokenProcessPool``;
* every wait has a deadline: a worker that sends no byte for ``timeout_s`` while
  the parent waits for it (stopped, stuck in a rule) raises ``WorkerFailed`` too;
* it works from any process: pytest, a Celery prefork child (daemonic) or solo
  worker, a thread; nothing of the parent is re-imported, nothing is forked
  without an immediate exec;
* a worker whose parent dies reads end-of-file and exits: no orphans.

Messages are an 8-byte length and a pickle. The parent writes and reads without
blocking, polling with a deadline; a worker reads its tasks on a thread of its own,
so it always drains its input and a parent writing a task while the worker writes a
result cannot deadlock. Results of one worker come back in the order it was given
tasks; ``result(ticket)`` keeps the ones read ahead of the ticket asked for.

    with WorkerPool(4, {0: [(0, step), ...]}) as pool:
        ticket = pool.submit(0, chunk)
        chunk, parts = pool.result(ticket)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import threading
import traceback
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

__all__ = ["WORKER_MODULE", "WorkerFailed", "WorkerPool"]

WORKER_MODULE = "console.data.engine.workers"
_HEADER = 8
_PIPE_SIZE = 1 << 20  # Linux pipes hold 64 KiB by default; 1 MiB is the unprivileged maximum
_READ_SIZE = 1 << 20
_ROOT = Path(__file__).resolve().parents[3]  # the folder holding console/ and gpu_agent/
# Appended to sys.path, not prepended: the worker imports Forge from where the parent
# did (a checkout, an install) and nothing of the standard library is shadowed.
_BOOT = (
    f"import sys; sys.path.append({str(_ROOT)!r}); "
    f"from {WORKER_MODULE} import main; sys.exit(main(sys.argv[1:]))"
)


class WorkerFailed(BrokenProcessPool):
    """A worker process died, stopped answering, or could not start."""


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_HEADER, "little") + data


def _loads(data: bytes | memoryview) -> Any:
    # Only from a pipe between this process and its own parent or child.
    return pickle.loads(data)  # noqa: S301


def _grow_pipe(fd: int) -> None:
    with contextlib.suppress(AttributeError, OSError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)


def _describe(returncode: int | None) -> str:
    if returncode is None:
        return "closed its pipe"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"was killed by {name}"
    return f"exited with code {returncode}"


class _Worker:
    """One child process and the parent's ends of its two pipes (non-blocking)."""

    def __init__(self, number: int) -> None:
        self.number = number
        task_r, self.task_w = os.pipe()  # parent -> worker
        self.result_r, result_w = os.pipe()  # worker -> parent
        try:
            for fd in (self.task_w, self.result_r):
                _grow_pipe(fd)
                os.set_blocking(fd, False)
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(task_r), str(result_w)],
                pass_fds=(task_r, result_w),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            os.close(self.task_w)
            os.close(self.result_r)
            raise
        finally:  # the worker's ends live in the worker only
            os.close(task_r)
            os.close(result_w)
        self._buf = bytearray()
        self._wpoll = select.poll()
        self._wpoll.register(self.task_w, select.POLLOUT)
        self._rpoll = select.poll()
        self._rpoll.register(self.result_r, select.POLLIN)
        self.closed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def failed(self, what: str = "") -> WorkerFailed:
        """The error for a worker that died (no ``what``), or that stopped answering
        (``what`` says how)."""
        if not what:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(1.0)
        state = _describe(self.proc.poll()) if not what or self.proc.poll() is not None else ""
        detail = ", ".join(part for part in (state, what) if part)
        return WorkerFailed(
            f"cleaning worker {self.number} (pid {self.pid}) {detail}; the run is stopped"
        )

    def send(self, data: bytes, timeout_s: float) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.task_w, view[:_READ_SIZE]) :]
            except BlockingIOError:
                if not self._wpoll.poll(timeout_s * 1000):
                    raise self.failed(f"took no input for {timeout_s:g} s") from None
            except (BrokenPipeError, ConnectionResetError):
                raise self.failed() from None

    def receive(self, timeout_s: float) -> Any:
        """The next message; the deadline restarts with every byte that arrives."""
        buf = self._buf
        while True:
            if len(buf) >= _HEADER:
                size = _HEADER + int.from_bytes(buf[:_HEADER], "little")
                if len(buf) >= size:
                    message = _loads(memoryview(buf)[_HEADER:size])
                    del buf[:size]
                    return message
            try:
                data = os.read(self.result_r, _READ_SIZE)
            except BlockingIOError:
                if not self._rpoll.poll(timeout_s * 1000):
                    raise self.failed(
                        f"sent nothing for {timeout_s:g} s (stopped, or stuck in a rule)"
                    ) from None
                continue
            if not data:
                raise self.failed()
            buf += data

    def stop(self, *, kill: bool) -> None:
        """Closing the task pipe tells the worker to exit once its tasks are done;
        ``kill`` does not wait for that."""
        if self.closed:
            return
        self.closed = True
        os.close(self.task_w)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def reap(self, wait_s: float = 5.0) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.result_r >= 0:
            os.close(self.result_r)
            self.result_r = -1


class WorkerPool:
    """``workers`` processes that run the map stages given as ``{stage id: [(step
    index, step dict), ...]}``. Raises ``WorkerFailed`` when one cannot start within
    ``start_timeout_s`` (none is left running then)."""

    def __init__(
        self,
        workers: int,
        stages: dict[int, list[tuple[int, dict[str, Any]]]],
        *,
        timeout_s: float = 600.0,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.timeout_s = timeout_s
        self._workers: list[_Worker] = []
        self._owner: dict[int, _Worker] = {}
        self._done: dict[int, tuple[bool, Any]] = {}
        self._next = 0
        try:
            for number in range(workers):
                self._workers.append(_Worker(number))
            init = _frame(stages)
            for w in self._workers:
                w.send(init, start_timeout_s)
            for w in self._workers:
                ok, payload = w.receive(start_timeout_s)
                if not ok:
                    raise WorkerFailed(
                        f"cleaning worker {w.number} could not build its rules:\n{payload[1]}"
                    )
        except BaseException:
            self.close(kill=True)
            raise

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def submit(self, stage_id: int, chunk: Any) -> int:
        """Send a chunk to the next worker in turn; returns the ticket for ``result``."""
        ticket = self._next
        self._next += 1
        worker = self._workers[ticket % len(self._workers)]
        self._owner[ticket] = worker
        worker.send(_frame((ticket, stage_id, chunk)), self.timeout_s)
        return ticket

    def result(self, ticket: int) -> Any:
        """What the stage returned for the chunk of ``ticket``; a rule's exception in
        the worker is raised here, with the worker's traceback as its cause."""
        worker = self._owner.pop(ticket)
        while ticket not in self._done:
            got, ok, payload = worker.receive(self.timeout_s)
            self._done[got] = (ok, payload)
        ok, payload = self._done.pop(ticket)
        if ok:
            return payload
        blob, text = payload
        try:
            exc = _loads(blob) if blob is not None else None
        except Exception:
            exc = None
        if not isinstance(exc, BaseException):
            exc = RuntimeError(f"a rule failed in cleaning worker {worker.number}:\n{text}")
        raise exc from _RemoteTraceback(text)

    def close(self, *, kill: bool = False) -> None:
        """Stop every worker and wait for it; ``kill`` does not let them finish."""
        for w in self._workers:
            w.stop(kill=kill)
        for w in self._workers:
            w.reap()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(kill=exc_type is not None)


class _RemoteTraceback(Exception):
    def __str__(self) -> str:
        return f"in the worker:\n{self.args[0]}"


# ------------------------------------------------------------------ the worker side


def _read_exact(fd: int, n: int) -> bytes | None:
    parts = []
    while n:
        data = os.read(fd, min(n, _READ_SIZE))
        if not data:
            return None
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def _read_message(fd: int) -> bytes | None:
    header = _read_exact(fd, _HEADER)
    if header is None:
        return None
    return _read_exact(fd, int.from_bytes(header, "little"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pump(fd: int, tasks: queue.SimpleQueue) -> None:
    """Read tasks as they come, so the parent's writes never wait on this worker's
    own (possibly blocked) writes; None on end-of-file."""
    try:
        while (message := _read_message(fd)) is not None:
            tasks.put(message)
    except OSError:
        pass
    tasks.put(None)


def _error(exc: BaseException) -> tuple[bytes | None, str]:
    text = "".join(traceback.format_exception(exc))
    try:
        return pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL), text
    except Exception:
        return None, text


def _serve(task_fd: int, result_fd: int) -> int:
    from console.data.engine.steps import apply_steps, build_rule

    init = _read_message(task_fd)
    if init is None:
        return 0
    try:
        stages = {
            stage_id: [(i, build_rule(step)) for i, step in steps]
            for stage_id, steps in _loads(init).items()
        }
    except Exception as exc:
        _write_all(result_fd, _frame((False, _error(exc))))
        return 1
    _write_all(result_fd, _frame((True, os.getpid())))
    tasks: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_pump, args=(task_fd, tasks), daemon=True).start()
    while (message := tasks.get()) is not None:
        ticket, stage_id, chunk = _loads(message)
        try:
            reply = (ticket, True, apply_steps(stages[stage_id], chunk))
        except Exception as exc:
            reply = (ticket, False, _error(exc))
        try:
            _write_all(result_fd, _frame(reply))
        except BrokenPipeError:  # the parent is gone
            return 0
    return 0


def main(argv: list[str]) -> int:
    # Ctrl-C in a terminal reaches the whole process group: the parent handles it
    # and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return _serve(int(argv[0]), int(argv[1]))
