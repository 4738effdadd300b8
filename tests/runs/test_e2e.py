"""A tiny run end to end with real processes: the console (gunicorn) on the test
database, a Celery worker (scheduler) and a node agent that starts DeepSpeed's
launcher on CPU (gloo) for the training entry point."""

from __future__ import annotations

import pytest

from console.jobs.models import Job, JobState
from console.metrics.selectors import metric_points
from console.runs.models import Checkpoint
from tests.processes import (
    wait_for,
)
from tests.runs.conftest import tiny_cpu_run, wait_shm_released

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_tiny_run_trains_on_cpu_through_the_agent(
    personas,
    settings,
    tmp_path,
    tiny_corpus,
    stack,
):
    run = tiny_cpu_run(personas, settings, tmp_path, tiny_corpus)
    job_id = run.job_id

    def ended() -> bool:
        return Job.objects.get(pk=job_id).is_terminal

    wait_for(ended, timeout=420, what=f"the run to end\n{stack['agent'].log()[-3000:]}")
    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.SUCCEEDED, (job.error, job.log_tail[-3000:])
    steps, losses = metric_points(job_id=job_id, name="loss")
    assert list(steps) == list(range(1, 13))
    assert losses[-3:].mean() < losses[:3].mean(), losses
    # Every checkpoint, registered as the agent's stream announced it.
    assert sorted(Checkpoint.objects.filter(run=run).values_list("step", flat=True)) == [5, 10, 12]
    ckpt = Checkpoint.objects.get(run=run, step=12)
    assert ckpt.dir.startswith(str(tmp_path / "runs" / str(run.pk)))
    assert (tmp_path / "runs" / str(run.pk) / "tensorboard").is_dir()
    # DeepSpeed's CPU op leaves a 66 MB buffer per rank in /dev/shm: the agent removes
    # this run's once its ranks are gone.
    wait_shm_released(tmp_path / "agent" / "jobs" / f"{job_id}-1", stack)
