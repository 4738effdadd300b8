"""console.jobs.execution.run_with_heartbeat: the one "run this in a thread while the
job's thread heartbeats" used by the engines' long calls (in_thread) and the data
engine (console/data/jobs.py)."""

from __future__ import annotations

import threading
import time

import pytest

from console.jobs.execution import JobFailed, JobInterrupted, in_thread, run_with_heartbeat


class FakeContext:
    job_id = 7

    def __init__(self, stop_after: int | None = None) -> None:
        self.reports: list[tuple[float, str]] = []
        self.stop_after = stop_after

    def progress(self, percent: float, message: str = "") -> None:
        self.reports.append((percent, message))
        if self.stop_after is not None and len(self.reports) > self.stop_after:
            raise JobInterrupted("job is now cancelled")


def test_reports_while_the_work_runs_and_returns_its_result():
    ctx = FakeContext()
    result = run_with_heartbeat(
        ctx, lambda: time.sleep(0.2) or 42, lambda: (10.0, "working"), every=0.02
    )
    assert result == 42
    assert len(ctx.reports) >= 3 and set(ctx.reports) == {(10.0, "working")}


def test_the_works_error_is_raised_in_the_jobs_thread():
    def work():
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run_with_heartbeat(FakeContext(), work, lambda: (0, ""), every=0.01)


def test_a_stop_sets_the_event_waits_for_the_work_then_cleans_up():
    stop = threading.Event()
    seen: list[str] = []

    def work():
        assert stop.wait(5)
        seen.append("work saw the stop")

    with pytest.raises(JobInterrupted):
        run_with_heartbeat(
            FakeContext(stop_after=2),
            work,
            lambda: (0, ""),
            every=0.01,
            stop=stop,
            on_stopped=lambda: seen.append("cleaned up"),
        )
    assert seen == ["work saw the stop", "cleaned up"]


def test_in_thread_fails_the_job_on_a_value_error_and_reports_at_50():
    ctx = FakeContext()

    def work():
        time.sleep(0.05)
        raise ValueError("not a model folder")

    with pytest.raises(JobFailed, match="not a model folder"):
        in_thread(ctx, "loading", work)
    assert ctx.reports[0] == (50, "loading")
