"""An interruptible carbon-aware run paused and resumed by the scheduler, with real
processes (console, Celery worker, agent, DeepSpeed on CPU).

The run is submitted carbon-aware and interruptible; the worker plans it as it
schedules it (the plan lands in PostgreSQL). The sample trace's windows are 30 minutes
long, so the test then compresses them to seconds around the live run: window 1 ends
once the first checkpoint is in, window 2 opens a few seconds later. The scheduler's
tick (the beat task's function) pauses the run at the end of window 1 — the agent
saves a checkpoint and stops — and resumes it when window 2 opens; the second attempt
continues from the pause's checkpoint and the run succeeds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from console.carbon.services import carbon_windows_tick
from console.jobs.models import Job, JobState
from console.runs.models import Checkpoint
from gpu_agent.train import checkpoints
from tests.processes import wait_for
from tests.runs.conftest import stack, tiny_cpu_run  # noqa: F401 - fixture
from tests.runs.test_control import attempt_dir, first_checkpoint, wait_ended
from tests.train.conftest import VOCAB, tiny_corpus  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_scheduler_pauses_and_resumes_an_interruptible_run(
    personas,
    settings,
    tmp_path,
    tiny_corpus,  # noqa: F811
    stack,  # noqa: F811
):
    run = tiny_cpu_run(
        personas,
        settings,
        tmp_path,
        tiny_corpus,
        steps=30,
        carbon_aware=True,
        interruptible=True,
        expected_hours=0.5,
        deadline=timezone.now() + timedelta(days=3),
    )

    def planned() -> bool:
        return bool(Job.objects.get(pk=run.job_id).carbon_plan)

    wait_for(planned, timeout=60, what="the worker to plan the run")
    job = Job.objects.get(pk=run.job_id)
    assert job.carbon_plan["source"] == "trace:sample.csv" and job.carbon_plan["interruptible"]

    # Compress the plan to seconds: window 1 is open now.
    now = timezone.now()
    plan = {**job.carbon_plan, "windows": [[(now - timedelta(minutes=1)).isoformat(),
                                            (now + timedelta(hours=1)).isoformat()]]}  # fmt: skip
    Job.objects.filter(pk=job.pk).update(carbon_plan=plan, not_before=now - timedelta(minutes=1))
    from console.jobs.services import job_dispatch_if_due

    job_dispatch_if_due(job_id=job.pk)
    first_checkpoint(run, stack)

    # Window 1 ends now; window 2 opens in 5 s.
    end = timezone.now()
    nxt = end + timedelta(seconds=5)
    plan["windows"] = [
        [(end - timedelta(minutes=5)).isoformat(), end.isoformat()],
        [nxt.isoformat(), (nxt + timedelta(hours=1)).isoformat()],
    ]
    Job.objects.filter(pk=job.pk).update(carbon_plan=plan)
    assert carbon_windows_tick()["paused"] == [job.pk]
    first = attempt_dir(tmp_path, run, 1)
    wait_for(
        lambda: "after saving a checkpoint" in (first / "stdout.log").read_text(),
        timeout=60,
        what="the paused attempt to save and stop",
    )
    paused_at = checkpoints.latest_complete(Path(run.spec["checkpoint"]["dir"]))
    assert paused_at is not None and paused_at < 30
    job.refresh_from_db()
    assert job.state == JobState.PAUSED and job.carbon_plan["paused_by_scheduler"]
    assert job.not_before == nxt

    def resumed() -> bool:
        return job.pk in carbon_windows_tick()["resumed"]

    wait_for(resumed, timeout=30, what="the next window to open")
    job = wait_ended(run, stack)
    assert job.state == JobState.SUCCEEDED, (job.error, job.log_tail[-3000:])
    assert job.attempt == 2 and job.carbon_plan["pauses"] == 1 and job.carbon_plan["resumes"] == 1
    second = (attempt_dir(tmp_path, run, 2) / "stdout.log").read_text()
    assert f"resumed from checkpoint step {paused_at}" in second
    assert max(Checkpoint.objects.filter(run=run).values_list("step", flat=True)) == 30

    # Its energy, emissions and cost: both attempts on the CPU node (no NVML: the power
    # model), with the trace's intensity over each attempt.
    from console.energy.models import JobUsage
    from console.energy.services import job_usage_refresh

    job_usage_refresh(job_id=job.pk)
    usage = JobUsage.objects.get(job=job)
    assert usage.method == "power model" and usage.energy_kwh > 0 and usage.gco2e > 0
    assert sorted(part["attempt"] for part in usage.breakdown) == [1, 2]
    assert usage.intensity_source == "trace:sample.csv"
