"""The jobs core with real Celery worker processes on the configured broker
(kombu's filesystem transport by default, Redis when REDIS_URL is set).

Faults from RELIABILITY.md: R1 (kill -9 mid-task), R2 (SIGTERM during a deploy),
R4 (broker lost the message), R9 (same job dispatched twice).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from console.audit.models import AuditEvent
from console.jobs import services
from console.jobs.models import Job, JobState
from tests.processes import CeleryWorker, broker_purge, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
S = JobState


def _state(job_id: int) -> str:
    return Job.objects.values_list("state", flat=True).get(pk=job_id)


def _submit(personas, **params) -> Job:
    return services.job_submit(
        actor=personas.ml_engineer, project=personas.project, kind="demo.count", params=params
    )


@pytest.fixture
def worker_log(tmp_path):
    broker_purge()
    return tmp_path / "worker.log"


def test_job_runs_end_to_end_on_a_real_worker(personas, worker_log):
    job = _submit(personas, steps=5, step_seconds=0.05)
    with CeleryWorker(worker_log) as worker:
        wait_for(
            lambda: _state(job.pk) == S.SUCCEEDED,
            timeout=60,
            what=f"job to succeed\n{worker.log()}",
        )
    job.refresh_from_db()
    assert job.result["steps"] == 5 and job.progress == 100 and job.attempt == 1
    assert "step 5/5" in job.log_tail
    states = list(
        AuditEvent.objects.filter(object_id=str(job.pk), action__startswith="job.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert states == [
        "job.submit",
        "job.scheduled",
        "job.dispatched",
        "job.running",
        "job.succeeded",
    ]


def test_kill_9_mid_task_then_the_job_finishes_once(personas, worker_log):
    """R1: the worker dies mid-job; the reconciler hands the job on; steps are counted once."""
    job = _submit(personas, steps=12, step_seconds=0.25)
    worker = CeleryWorker(worker_log).start()
    try:
        wait_for(
            lambda: (Job.objects.get(pk=job.pk).checkpoint or {}).get("step", 0) >= 3,
            timeout=60,
            what="a few steps",
        )
        worker.kill9()
    finally:
        worker.stop()
    assert _state(job.pk) == S.RUNNING  # nobody knows yet
    report = services.job_reconcile(
        now=timezone.now() + timedelta(seconds=120), heartbeat_timeout=60
    )
    assert job.pk in report.lost and _state(job.pk) == S.QUEUED
    with CeleryWorker(worker_log) as worker:
        wait_for(
            lambda: _state(job.pk) == S.SUCCEEDED,
            timeout=60,
            what=f"retry to succeed\n{worker.log()}",
        )
    job.refresh_from_db()
    assert job.attempt == 2
    assert job.result["steps"] == 12
    assert "resuming from step" in job.log_tail
    assert job.log_tail.count("step 12/12") == 1


def test_sigterm_requeues_in_flight_work(personas, worker_log):
    """R2: a deploy's SIGTERM stops the worker promptly; the job goes back to the queue."""
    job = _submit(personas, steps=40, step_seconds=0.25)
    worker = CeleryWorker(worker_log).start()
    try:
        wait_for(lambda: _state(job.pk) == S.RUNNING, timeout=60, what="job to run")
        code = worker.terminate(timeout=30)
    finally:
        worker.stop()
    assert code == 0
    job.refresh_from_db()
    assert job.state in (S.QUEUED, S.SCHEDULED, S.DISPATCHED)
    assert job.checkpoint and job.checkpoint["step"] < 40
    assert AuditEvent.objects.filter(object_id=str(job.pk), action="job.queued").exists()
    # The next worker (after the deploy) picks it up, via the reconciler if the message was eaten.
    with CeleryWorker(worker_log) as worker:

        def progressed():
            services.job_reconcile(reenqueue_after=0)
            return _state(job.pk) == S.SUCCEEDED

        wait_for(progressed, timeout=90, interval=1, what=f"job to finish\n{worker.log()}")
    job.refresh_from_db()
    assert job.result["steps"] == 40


def test_lost_broker_message_is_re_enqueued_by_the_reconciler(personas, worker_log):
    """R4: Redis flushed / message lost: the database still knows, the reconciler re-sends."""
    job = _submit(personas, steps=2, step_seconds=0.0)
    broker_purge()  # the schedule message is gone
    with CeleryWorker(worker_log) as worker:
        assert _state(job.pk) == S.QUEUED
        services.job_reconcile(reenqueue_after=0)
        wait_for(
            lambda: _state(job.pk) == S.SUCCEEDED,
            timeout=60,
            what=f"job to succeed\n{worker.log()}",
        )


def test_duplicate_dispatch_runs_once(personas, worker_log):
    """R9: the same execute message delivered three times: one claim, one run."""
    from workers.celery import app

    job = _submit(personas, steps=3, step_seconds=0.1)
    with CeleryWorker(worker_log, concurrency=2) as worker:
        wait_for(lambda: _state(job.pk) in (S.DISPATCHED, S.RUNNING, S.SUCCEEDED), timeout=60)
        for _ in range(2):
            app.send_task("jobs.execute", args=[job.pk, 1], queue="pipelines")
        wait_for(
            lambda: _state(job.pk) == S.SUCCEEDED,
            timeout=60,
            what=f"job to succeed\n{worker.log()}",
        )
        wait_for(
            lambda: worker.log().count("jobs.execute[") >= 6,
            timeout=30,
            what="all three deliveries",
        )
    assert AuditEvent.objects.filter(object_id=str(job.pk), action="job.running").count() == 1
    job.refresh_from_db()
    assert job.log_tail.count("step 3/3") == 1


def test_cancel_reaches_a_running_job(personas, worker_log):
    job = _submit(personas, steps=200, step_seconds=0.1)
    with CeleryWorker(worker_log) as worker:
        wait_for(lambda: _state(job.pk) == S.RUNNING, timeout=60, what="job to run")
        services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)
        wait_for(
            lambda: "stopped: job is now cancelled" in Job.objects.get(pk=job.pk).log_tail,
            timeout=30,
            what=f"handler to stop\n{worker.log()}",
        )
    job.refresh_from_db()
    assert job.state == S.CANCELLED and (job.checkpoint or {}).get("step", 0) < 200
