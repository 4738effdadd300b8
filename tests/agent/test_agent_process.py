"""The whole agent as a real process (`python -m gpu_agent`) against the fake console,
taking launches from a filesystem-transport broker in tmp_path."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from gpu_agent.spec import AGENT_LAUNCH_TASK
from gpu_agent.supervisor import lock_held
from tests.agent.conftest import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


class AgentProcess:
    def __init__(self, console, work_dir: Path, log_path: Path, name: str = "x") -> None:
        self.console = console
        self.argv = [
            sys.executable,
            "-m",
            "gpu_agent",
            "--console",
            console.url,
            "--name",
            name,
            "--work-dir",
            str(work_dir),
            "--grace",
            "2",
            "--telemetry-interval",
            "0.5",
        ]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> AgentProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "FORGE_NODE_TOKEN": self.console.token, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, count: int = 1, timeout: float = 60.0) -> None:
        wait_for(
            lambda: self.log().count(text) >= count or self.proc.poll() is not None,
            timeout=timeout,
            what=f"{text!r} in the agent log",
        )
        assert self.log().count(text) >= count, self.log()[-3000:]

    def terminate(self, timeout: float = 15.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def broker(tmp_path, fake_console) -> Celery:
    """A filesystem broker in tmp_path: the fake console hands it to the agent, the
    test sends launches into it with a Celery app, as the console's dispatcher does."""
    root = tmp_path / "broker"
    for sub in ("queue", "processed", "control"):
        (root / sub).mkdir(parents=True)
    options = {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "processed_folder": str(root / "processed"),
        "store_processed": False,
        "control_folder": str(root / "control"),
        "polling_interval": 0.1,
    }
    fake_console.register_reply.update(broker_url="filesystem://", broker_transport_options=options)
    app = Celery("forge-test-producer", broker="filesystem://", set_as_current=False)
    app.conf.broker_transport_options = options
    yield app
    app.close()


@pytest.fixture
def agents(fake_console, work_dir, tmp_path):
    started: list[AgentProcess] = []

    def make() -> AgentProcess:
        agent = AgentProcess(fake_console, work_dir, tmp_path / f"agent-{len(started)}.log")
        started.append(agent.start())
        return agent

    yield make
    for agent in started:
        agent.stop()


def send(app: Celery, job: int, attempt: int, spec: dict, kind: str = "demo.node") -> dict:
    launch = {
        "job_id": job,
        "attempt": attempt,
        "kind": kind,
        "spec": spec,
        "gpus": [],
        "node": "x",
    }
    app.send_task(AGENT_LAUNCH_TASK, args=[launch], queue="node.x")
    return launch


def metric_steps(console, job: int, attempt: int = 1) -> list[int]:
    return [r["data"]["step"] for r in console.stream(job, attempt) if r["type"] == "metric"]


def assert_complete(console, job: int, attempt: int = 1) -> None:
    """Every record of the stream arrived, once, with no gap."""
    recs = console.stream(job, attempt)
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    assert all(console.apply_counts[(job, attempt, r["seq"])] == 1 for r in recs), (
        "a record counted twice"
    )


def test_agent_registers_runs_launches_from_its_queue_and_stops_cleanly(
    fake_console, broker, agents, work_dir
):
    agent = agents()
    wait_for(lambda: fake_console.registrations, what=f"registration\n{agent.log()[-2000:]}")
    [hello] = fake_console.registrations
    assert hello["name"] == "x" and "cpu_count" in hello["inventory"]

    launch = send(broker, 101, 1, {"steps": 4, "step_seconds": 0.1, "metrics_per_step": 3})
    wait_for(
        lambda: fake_console.final_state(101, 1),
        timeout=30,
        what=f"job 101 to finish\n{agent.log()[-3000:]}",
    )
    assert fake_console.statuses(101, 1) == ["running", "succeeded"]
    assert metric_steps(fake_console, 101) == [1, 2, 3, 4]
    assert_complete(fake_console, 101)

    # R9: the same launch delivered again runs nothing
    broker.send_task(AGENT_LAUNCH_TASK, args=[launch], queue="node.x")
    agent.wait_log("stale or duplicate")
    time.sleep(0.5)
    assert fake_console.statuses(101, 1) == ["running", "succeeded"]
    assert sorted(p.name for p in (work_dir / "jobs").iterdir()) == ["101-1"]

    # R10: a bad config fails at once, with the reason
    send(broker, 102, 1, {"steps": 0})
    wait_for(lambda: fake_console.final_state(102, 1), what="job 102 to fail")
    [status] = fake_console.stream(102, 1)
    assert status["data"]["state"] == "failed"
    assert "steps: must be between" in status["data"]["reason"]

    # the console stops a job through the heartbeat reply
    send(broker, 103, 1, {"steps": 1000, "step_seconds": 0.05})
    wait_for(lambda: metric_steps(fake_console, 103), timeout=20, what="job 103 to report")
    wait_for(
        lambda: any(
            {"job": 103, "attempt": 1} in h.get("running", []) for h in fake_console.heartbeats
        ),
        what="a heartbeat listing job 103",
    )
    assert "pending" in fake_console.heartbeats[-1]["spool"]
    fake_console.stop_in_heartbeat = [{"job": 103, "attempt": 1}]
    wait_for(lambda: fake_console.final_state(103, 1), timeout=10, what="job 103 to stop")
    assert fake_console.statuses(103, 1) == ["running", "cancelled"]
    assert_complete(fake_console, 103)

    assert agent.terminate() == 0
    assert "agent stopped" in agent.log()


def test_agent_restarts_reattach_to_a_running_job_and_nothing_is_lost(
    fake_console, broker, agents, work_dir
):
    """R6 (and R5): SIGTERM leaves the job running; kill -9 too; the console is down
    while the agent restarts; every record still arrives exactly once."""
    first = agents()
    # 60 s of job: it must still be running when the third agent has started (an agent
    # start took over 20 s on a loaded CI machine)
    send(broker, 201, 1, {"steps": 120, "step_seconds": 0.5})
    wait_for(lambda: len(metric_steps(fake_console, 201)) >= 2, timeout=30, what="job 201 metrics")

    assert first.terminate() == 0  # a clean agent stop leaves the job running
    job_dir = work_dir / "jobs" / "201-1"
    assert lock_held(job_dir)
    second = agents()
    second.wait_log("re-attached (running)")
    count = len(metric_steps(fake_console, 201))
    wait_for(lambda: len(metric_steps(fake_console, 201)) > count + 2, what="more metrics")

    second.kill9()  # the agent dies hard; the job does not
    assert lock_held(job_dir)
    fake_console.stop()  # and the console is down while the agent comes back
    third = agents()
    third.wait_log("re-attached (running)")
    time.sleep(1.0)
    fake_console.start()

    wait_for(
        lambda: fake_console.final_state(201, 1),
        timeout=120,
        what=f"job 201 to finish\n{third.log()[-3000:]}",
    )
    assert fake_console.statuses(201, 1) == ["running", "succeeded"]
    assert metric_steps(fake_console, 201) == list(range(1, 121))
    assert_complete(fake_console, 201)
    assert third.terminate() == 0
