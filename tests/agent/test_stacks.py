"""Hangs made readable (issue 14, item 13): a job stuck before its first record fails at
the agent's start-up limit with its stacks; the console's request for a running job's
stacks is answered; faulthandler takes over where py-spy cannot read a process. Real
agent processes, real workloads."""

from __future__ import annotations

import re
import sys
import time

import pytest

from gpu_agent import stacks
from gpu_agent.kinds import KINDS, Kind
from gpu_agent.spec import AGENT_STACKS_TASK, LaunchSpec, Rendezvous
from gpu_agent.spool import Spool
from gpu_agent.supervisor import STUCK_PREFIX, Supervisor
from tests.agent.conftest import wait_for
from tests.agent.test_agent_process import AgentProcess, broker, send  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow

DEMO_FRAME = re.compile(r"run \(.*gpu_agent/workloads/demo\.py:\d+\)")


@pytest.fixture
def agent(fake_console, work_dir, tmp_path):
    started: list[AgentProcess] = []

    def make(*extra: str) -> AgentProcess:
        proc = AgentProcess(fake_console, work_dir, tmp_path / f"agent-{len(started)}.log")
        # Its own extensions folder: a build lock another test holds in the shared one
        # is none of this agent's business.
        proc.argv += ["--extensions-dir", str(tmp_path / "ext"), "--no-prebuild", *extra]
        started.append(proc.start())
        return proc

    yield make
    for proc in started:
        proc.stop()


def stacks_records(console, job: int, attempt: int = 1) -> list[dict]:
    return [r["data"] for r in console.stream(job, attempt) if r["type"] == "stacks"]


def test_a_job_with_no_first_record_fails_at_the_startup_limit_with_its_stacks(
    fake_console,
    broker,  # noqa: F811
    agent,
):
    """Before: a job that never reached its first step stayed "running" at 0% forever.
    Its first record would come after 60 s; the limit is 3 s."""
    proc = agent("--startup-timeout", "3")
    send(broker, 301, 1, {"steps": 2, "step_seconds": 60})
    wait_for(
        lambda: fake_console.final_state(301, 1),
        timeout=60,
        what=f"job 301 to end\n{proc.log()[-3000:]}",
    )
    assert fake_console.statuses(301, 1) == ["running", "failed"]
    [status] = [r for r in fake_console.stream(301, 1) if r["type"] == "status"][-1:]
    reason = status["data"]["reason"]
    assert reason.startswith(f"{STUCK_PREFIX} waiting on run ("), reason
    assert DEMO_FRAME.search(reason) and "in gpu_agent.workloads.demo (pid " in reason
    assert reason.endswith("no first record after 3 s")
    [dump] = stacks_records(fake_console, 301)
    assert dump["reason"] == reason
    [process] = dump["processes"]
    assert process["method"] == "py-spy" and DEMO_FRAME.search(process["text"])
    assert "stuck before the first step" in proc.log()


def test_the_consoles_request_reads_a_running_jobs_stacks(
    fake_console,
    broker,  # noqa: F811
    agent,
):
    proc = agent()
    send(broker, 302, 1, {"steps": 1000, "step_seconds": 0.5})
    wait_for(
        lambda: any(r["type"] == "metric" for r in fake_console.stream(302, 1)),
        timeout=30,
        what="job 302 to report",
    )
    # the job of another node, or one that ended: nothing to read
    broker.send_task(
        AGENT_STACKS_TASK, args=[{"job": 999, "attempt": 1, "reason": "x"}], queue="node.x"
    )
    broker.send_task(
        AGENT_STACKS_TASK,
        args=[{"job": 302, "attempt": 1, "reason": "metrics-stalled: no new metric point"}],
        queue="node.x",
    )
    wait_for(lambda: stacks_records(fake_console, 302), timeout=30, what="the stacks record")
    [dump] = stacks_records(fake_console, 302)
    assert dump["reason"] == "metrics-stalled: no new metric point"
    [process] = dump["processes"]
    assert process["label"] == "gpu_agent.workloads.demo" and DEMO_FRAME.search(process["text"])
    assert "job 999 attempt 1: not running here" in proc.log()
    assert fake_console.final_state(302, 1) is None  # reading stacks stops nothing


def test_faulthandler_answers_where_py_spy_cannot(work_dir, monkeypatch):
    """The job's entry point registered faulthandler on SIGUSR1; without py-spy the agent
    signals it and reads what it wrote; the job runs on."""
    monkeypatch.setattr(stacks, "py_spy", lambda: None)  # as on a node without py-spy
    spool = Spool(work_dir / "spool.sqlite3")
    sup = Supervisor(spool, work_dir, poll_interval=0.05, kinds=KINDS).start()
    try:
        launch = LaunchSpec(
            job_id=303, attempt=1, kind="demo.node", spec={"steps": 100, "step_seconds": 0.5}
        )
        assert spool.claim_launch(launch)
        sup.launch(launch)
        job_dir = work_dir / "jobs" / "303-1"
        wait_for(lambda: list((job_dir / "stacks").glob("*.txt")), what="its registration")
        assert sup.capture_stacks(303, 1, "asked")
        wait_for(
            lambda: [r for r in spool.records(303, 1) if r.type == "stacks"],
            timeout=30,
            what="the stacks record",
        )
        [record] = [r for r in spool.records(303, 1) if r.type == "stacks"]
        [process] = record.data["processes"]
        assert process["method"] == "faulthandler", process
        assert 'workloads/demo.py", line' in process["text"]
        taken = stacks.ProcessStack(**{k: process[k] for k in ("pid", "label", "method", "text")})
        assert DEMO_FRAME.fullmatch(stacks.innermost(taken))
        assert spool.job(303, 1).state != "ended"  # SIGUSR1 did not end it
    finally:
        sup.stop(303, 1)
        wait_for(lambda: spool.job(303, 1).state == "ended", what="job 303 to stop")
        sup.shutdown(timeout=2)
        spool.close()


def test_only_the_node_that_reports_is_held_to_the_startup_limit(work_dir):
    """Rank 0 alone prints records: the other nodes of a multi-node attempt are silent
    by design and run on; a single-node job that stays silent fails."""
    quiet = Kind(
        argv=lambda launch, spec_path: [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    spool = Spool(work_dir / "spool.sqlite3")
    sup = Supervisor(
        spool,
        work_dir,
        poll_interval=0.05,
        kinds={"test.quiet": quiet},
        startup_timeout=1,
        grace=1,
    ).start()
    try:
        group = {"master_addr": "127.0.0.1", "master_port": 29500, "hosts": ["a", "b"]}
        for job, rank in ((401, None), (402, 1)):
            launch = LaunchSpec(
                job_id=job,
                attempt=1,
                kind="test.quiet",
                spec={},
                rendezvous=None
                if rank is None
                else Rendezvous(node_rank=rank, procs=[1, 1], **group),
            )
            assert spool.claim_launch(launch)
            sup.launch(launch)
        wait_for(lambda: spool.job(401, 1).state == "ended", timeout=30, what="job 401 to fail")
        assert spool.job(401, 1).outcome == "failed"
        assert spool.job(401, 1).reason.startswith(STUCK_PREFIX)
        time.sleep(2)  # well past the limit
        assert spool.job(402, 1).state != "ended"
    finally:
        sup.stop(402, 1)
        wait_for(lambda: spool.job(402, 1).state == "ended", what="job 402 to stop")
        sup.shutdown(timeout=2)
        spool.close()
