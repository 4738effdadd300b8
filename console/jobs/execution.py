"""Running a job on a Celery worker: claim, run the kind's handler, finish.

The handler gets a ``JobContext``. Each ``ctx.progress`` is a compare-and-set on
(job, state=running, attempt), which doubles as the heartbeat and as the check
for cancel, pause and worker shutdown: when it no longer matches, the handler is
stopped with ``JobInterrupted`` at a clean point, after its last checkpoint.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from django.utils import timezone

from console.jobs import kinds
from console.jobs.models import Job, JobState
from console.jobs.services import job_requeue, job_transition
from gpu_agent.spec import spec_from_dict
from workers import shutdown

log = logging.getLogger(__name__)
LOG_TAIL_CHARS = 16_000


class JobInterrupted(Exception):
    """The job was cancelled or paused, or the worker is shutting down."""


class JobFailed(Exception):
    """A failure that retrying cannot fix (bad data, bad config): fail at once (R10)."""


class JobTransientError(Exception):
    """A failure worth retrying later (a node or service briefly unavailable)."""


class JobContext:
    def __init__(self, job: Job) -> None:
        self.job_id = job.pk
        self.attempt = job.attempt
        self.checkpoint: dict[str, Any] | None = job.checkpoint
        self._log = job.log_tail
        self._pending_lines: list[str] = []

    def log(self, line: str) -> None:
        self._pending_lines.append(f"{timezone.now():%H:%M:%S} {line.rstrip()}")

    def progress(
        self, percent: float, message: str = "", *, checkpoint: dict[str, Any] | None = None
    ) -> None:
        """Report progress (and heartbeat); raises JobInterrupted if the job should stop."""
        fields: dict[str, Any] = {
            "progress": max(0, min(100, int(percent))),
            "progress_message": message[:300],
            "heartbeat_at": timezone.now(),
        }
        if self._pending_lines:
            self._log = (self._log + "\n".join(self._pending_lines) + "\n")[-LOG_TAIL_CHARS:]
            self._pending_lines = []
            fields["log_tail"] = self._log
        if checkpoint is not None:
            fields["checkpoint"] = checkpoint
            self.checkpoint = checkpoint
        updated = Job.objects.filter(
            pk=self.job_id, state=JobState.RUNNING, attempt=self.attempt
        ).update(**fields)
        if not updated:
            state = Job.objects.filter(pk=self.job_id).values_list("state", flat=True).first()
            raise JobInterrupted(f"job is now {state}")
        if shutdown.requested():
            raise JobInterrupted("worker shutting down")


THREAD_REPORT_EVERY_S = 1.0
T = TypeVar("T")


def run_with_heartbeat(
    ctx: kinds.JobContext,
    work: Callable[[], T],
    report: Callable[[], tuple[float, str]],
    *,
    every: float = THREAD_REPORT_EVERY_S,
    stop: threading.Event | None = None,
    on_stopped: Callable[[], None] | None = None,
) -> T:
    """Run ``work()`` in a thread of its own while this thread calls
    ``ctx.progress(*report())`` every ``every`` seconds: the heartbeat and the cancel
    check, however long one call of the work runs. The work's result is returned, its
    exception raised here.

    When ``ctx.progress`` raises (the job was cancelled or paused, the worker is
    stopping), ``stop`` is set (work that polls it stops early; other work finishes its
    call), the thread is waited for, ``on_stopped()`` runs, and the exception goes on."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the job's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"job-{ctx.job_id}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            ctx.progress(*report())
            thread.join(every)
    except BaseException:
        if stop is not None:
            stop.set()
        thread.join()
        if on_stopped is not None:
            on_stopped()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def in_thread(ctx: kinds.JobContext, message: str | Callable[[], tuple[int, str]], work) -> Any:
    """``run_with_heartbeat`` for the engines' long calls (loading, a forward pass over
    the split), which can run longer than the heartbeat timeout. ``message`` is a fixed
    line (at 50%) or a callable returning (percent, line), read at each report. A cancel
    lets the work finish its call, then the JobInterrupted goes on (the caller's
    atomic_dir removes a partial folder). A ValueError from the work fails the job."""

    def checked() -> Any:
        try:
            return work()
        except ValueError as exc:  # ModelFolderError and bad parameters: no retry
            raise JobFailed(str(exc)) from None

    report = message if callable(message) else (lambda: (50, message))
    return run_with_heartbeat(ctx, checked, report)


def job_claim(*, job_id: int, attempt: int) -> Job | None:
    """dispatched → running for exactly this attempt. A duplicate message gets None."""
    return job_transition(
        job_id=job_id,
        to=JobState.RUNNING,
        expect=[JobState.DISPATCHED],
        attempt=attempt,
        heartbeat_at=timezone.now(),
        progress_message="started",
    )


def job_execute(*, job_id: int, attempt: int) -> str:
    """Claim and run one attempt of a job. Returns what happened, for the worker's log."""
    if shutdown.requested():
        return "worker shutting down; left for the reconciler"
    job = job_claim(job_id=job_id, attempt=attempt)
    if job is None:
        return "not claimed (already taken, stale attempt, or no longer dispatched)"
    kind = kinds.get(job.kind)
    ctx = JobContext(job)
    try:
        if kind is None or kind.handler is None:
            raise JobFailed(f"no handler for job kind {job.kind!r} on this worker")
        spec = spec_from_dict(kind.spec, job.spec)
        result = kind.handler(ctx, spec)
    except JobInterrupted as exc:
        return _interrupted(ctx, str(exc))
    except JobTransientError as exc:
        _flush_log(ctx, f"transient error: {exc}")
        job_requeue(
            job_id=job_id,
            attempt=attempt,
            reason=f"transient error: {exc}",
            delay_seconds=30 * attempt,
        )
        return "requeued after a transient error"
    except JobFailed as exc:
        _flush_log(ctx, f"failed: {exc}")
        job_transition(job_id=job_id, to=JobState.FAILED, attempt=attempt, reason=str(exc))
        return "failed"
    except Exception as exc:
        log.exception("job %s attempt %s crashed", job_id, attempt)
        _flush_log(ctx, "".join(traceback.format_exception(exc)[-3:]))
        job_transition(
            job_id=job_id,
            to=JobState.FAILED,
            attempt=attempt,
            reason=f"unexpected error: {type(exc).__name__}: {exc}"[:2000],
        )
        return "crashed"
    _flush_log(ctx, "done")
    finished = job_transition(
        job_id=job_id,
        to=JobState.SUCCEEDED,
        expect=[JobState.RUNNING],
        attempt=attempt,
        result=result,
        progress=100,
        progress_message="done",
    )
    return "succeeded" if finished else "finished, but the job had moved on"


def _flush_log(ctx: JobContext, line: str) -> None:
    ctx.log(line)
    ctx._log = (ctx._log + "\n".join(ctx._pending_lines) + "\n")[-LOG_TAIL_CHARS:]
    ctx._pending_lines = []
    Job.objects.filter(pk=ctx.job_id, attempt=ctx.attempt).update(log_tail=ctx._log)


def _interrupted(ctx: JobContext, why: str) -> str:
    _flush_log(ctx, f"stopped: {why}")
    if why == "worker shutting down":
        job_requeue(
            job_id=ctx.job_id,
            attempt=ctx.attempt,
            reason="worker shut down; resumes from checkpoint",
        )
        return "requeued: worker shutting down"
    return f"stopped: {why}"
