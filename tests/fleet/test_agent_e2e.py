"""The whole fleet path with real processes: the console (gunicorn) on the test
database, a Celery worker (scheduler), and a node agent taking its launch from the
queue node.<name> and streaming records back.

Faults (RELIABILITY.md): R5 console down mid-stream, R6 agent kill -9 mid-job,
R9 the same launch delivered twice, S6 a revoked node token.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from console.audit.models import AuditEvent
from console.fleet import services as fleet
from console.fleet.models import JobStream, Node
from console.jobs import services as job_services
from console.jobs.models import Job, JobState
from console.metrics.selectors import metric_point_count, metric_points
from tests.processes import (
    CeleryWorker,
    ConsoleServer,
    ManagedProcess,
    broker_purge,
    process_env,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
S = JobState


def _state(job_id: int) -> str:
    return Job.objects.values_list("state", flat=True).get(pk=job_id)


@pytest.fixture
def stack(tmp_path, personas):
    """console + worker + agent for node "e2e"; yields a dict of the parts."""
    broker_purge()
    issued = fleet.node_create(actor=None, name="e2e")
    console = ConsoleServer(tmp_path / "console.log").start()
    worker = CeleryWorker(tmp_path / "worker.log", queues="scheduler,default").start()

    def agent_process() -> ManagedProcess:
        env = process_env(FORGE_NODE_TOKEN=issued.key)
        return ManagedProcess(
            [
                sys.executable,
                "-m",
                "gpu_agent",
                "--console",
                console.url,
                "--name",
                "e2e",
                "--work-dir",
                str(tmp_path / "agent"),
                "--grace",
                "3",
                "--telemetry-interval",
                "1",
            ],
            tmp_path / "agent.log",
            env=env,
        )

    parts = {
        "console": console,
        "worker": worker,
        "agent": agent_process().start(),
        "new_agent": agent_process,
        "token": issued,
    }
    try:
        wait_for(
            lambda: Node.objects.get(name="e2e").status == Node.Status.ONLINE,
            timeout=60,
            what=f"the agent to register\n{parts['agent'].log()}",
        )
        yield parts
    finally:
        parts["agent"].stop()
        worker.stop()
        parts["console"].stop()  # the one running now (a test may have restarted it)
        from tests.agent.conftest import kill_jobs

        kill_jobs(tmp_path / "agent")


def _submit(personas, **params) -> Job:
    return job_services.job_submit(
        actor=personas.ml_engineer,
        project=personas.project,
        kind="demo.node",
        params={"metrics_per_step": 2, **params},
    )


def _points(job_id: int) -> int:
    return metric_point_count(job_id=job_id)


def test_demo_job_runs_on_the_agent_with_live_log_and_metrics(personas, stack):
    job = _submit(personas, steps=8, step_seconds=0.1)
    wait_for(
        lambda: _state(job.pk) == S.SUCCEEDED,
        timeout=90,
        what=f"job to succeed\n{stack['agent'].log()}\n{stack['worker'].log()}",
    )
    job.refresh_from_db()
    assert job.queue == "node.e2e" and job.attempt == 1 and job.progress == 100
    assert _points(job.pk) == 8 * 2
    assert "step 8/8" in job.log_tail
    actions = list(
        AuditEvent.objects.filter(object_id=str(job.pk), action__startswith="job.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "job.submit",
        "job.scheduled",
        "job.dispatched",
        "job.running",
        "job.succeeded",
    ]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cancel_stops_the_process_group_within_seconds(personas, stack, tmp_path):
    job = _submit(personas, steps=500, step_seconds=0.1)
    wait_for(lambda: _state(job.pk) == S.RUNNING, timeout=60, what="job to run")
    # The job's wrapper leads its process group (the workload and anything it started).
    # It writes its pid once Python has started in it, which on a loaded machine can be
    # after the agent reported the job running.
    pid_file = tmp_path / "agent" / "jobs" / f"{job.pk}-1" / "wrapper.pid"
    wait_for(pid_file.exists, timeout=60, what="the job's wrapper to start")
    pgid = int(pid_file.read_text())
    assert _group_alive(pgid)
    job_services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)
    # Gone within seconds: the agent's grace is 3 s, then SIGKILL; the wait bounds it.
    wait_for(lambda: not _group_alive(pgid), timeout=15, what="the job's process group to end")
    wait_for(
        lambda: f"job {job.pk} attempt 1 cancelled: stopped by console" in stack["agent"].log(),
        timeout=30,
        what=f"the agent to report the cancel\n{stack['agent'].log()}",
    )
    assert _state(job.pk) == S.CANCELLED


def test_agent_kill_9_mid_job_loses_nothing(personas, stack):
    """R6: the agent dies, the job runs on; a new agent re-attaches and finishes the stream."""
    job = _submit(personas, steps=40, step_seconds=0.1)
    wait_for(lambda: _points(job.pk) >= 10, timeout=60, what="some metrics")
    stack["agent"].kill9()
    stack["agent"] = stack["new_agent"]().start()
    wait_for(
        lambda: _state(job.pk) == S.SUCCEEDED,
        timeout=90,
        what=f"job to finish\n{stack['agent'].log()}",
    )
    assert _points(job.pk) == 40 * 2
    steps, _values = metric_points(job_id=job.pk, name="loss")
    assert steps.tolist() == list(range(1, 41))


@pytest.mark.parametrize("outage", [0, 20, 60])
def test_console_down_mid_stream_loses_nothing(personas, stack, outage):
    """R5: the console stops while metrics stream; the job runs on; every point arrives once."""
    job = _submit(personas, steps=60, step_seconds=0.1)
    wait_for(lambda: _points(job.pk) >= 6, timeout=60, what="some metrics")
    stack["console"].kill9()
    time.sleep(outage)
    stack["console"] = ConsoleServer(stack["console"].log_path, port=stack["console"].port).start()
    wait_for(
        lambda: _state(job.pk) == S.SUCCEEDED,
        timeout=120,
        what=f"job to finish\n{stack['agent'].log()}",
    )
    assert _points(job.pk) == 60 * 2
    stream = JobStream.objects.get(job=job, attempt=1)
    assert stream.records == stream.last_seq  # every record applied once, no gap


def test_same_launch_delivered_twice_runs_once(personas, stack):
    """R9: the launch is delivered again after the job ran: the agent refuses the stale lease."""
    from console.jobs.services import _dispatch_messages
    from workers.celery import app

    job = _submit(personas, steps=3, step_seconds=0.05)
    wait_for(lambda: _state(job.pk) == S.SUCCEEDED, timeout=90, what="job to succeed")
    job.refresh_from_db()
    Job.objects.filter(pk=job.pk).update(state=S.DISPATCHED)  # as if the console never heard back
    [(task, args, queue)] = _dispatch_messages(Job.objects.get(pk=job.pk))
    app.send_task(task, args=args, queue=queue)
    wait_for(
        lambda: "refus" in stack["agent"].log().lower() or "stale" in stack["agent"].log().lower(),
        timeout=30,
        what=f"the agent to refuse the duplicate\n{stack['agent'].log()}",
    )
    assert _points(job.pk) == 3 * 2


def test_revoked_token_locks_the_agent_out(personas, stack):
    node = Node.objects.get(name="e2e")
    fleet.node_token_revoke(actor=personas.admin, node=node)
    wait_for(
        lambda: AuditEvent.objects.filter(action="agent.auth_failed").exists(),
        timeout=30,
        what="a refused agent call",
    )
    job = _submit(personas, steps=2, step_seconds=0.05)
    # The broker still hands the agent its launch, and the job runs to its end there...
    wait_for(
        lambda: f"job {job.pk} attempt 1 succeeded" in stack["agent"].log(),
        timeout=60,
        what=f"the agent to run the job\n{stack['agent'].log()}",
    )
    refused = AuditEvent.objects.filter(action="agent.auth_failed").count()
    wait_for(
        lambda: AuditEvent.objects.filter(action="agent.auth_failed").count() > refused,
        timeout=30,
        what="the agent's next call, refused",
    )
    # ...but nothing it reports is taken: no state, no record.
    assert _state(job.pk) == S.DISPATCHED
    assert not JobStream.objects.filter(job=job).exists() and _points(job.pk) == 0
