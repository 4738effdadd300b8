"""Launch handling (lease, validation), Celery message decoding, the HTTP client,
and the agent's start-up guards — in process, no broker."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from gpu_agent.agent import Agent, AgentConfig, Heartbeat, register
from gpu_agent.console import ConsoleClient, ConsoleError, ConsoleUnavailable
from gpu_agent.consumer import (
    FAILED,
    INVALID,
    LAUNCHED,
    REFUSED,
    LaunchHandler,
    _expired,
    _safe_url,
    _task_and_args,
)
from gpu_agent.hardware import node_inventory
from gpu_agent.spec import AGENT_LAUNCH_TASK
from gpu_agent.spool import Spool


class FakeSupervisor:
    def __init__(self) -> None:
        self.launched: list = []
        self.stopped: list = []
        self.jobs: list = []

    def launch(self, launch) -> None:
        self.launched.append(launch)

    def stop(self, job, attempt, reason="") -> bool:
        self.stopped.append((job, attempt, reason))
        return True

    def running(self):
        return self.jobs


@pytest.fixture
def spool(tmp_path):
    s = Spool(tmp_path / "spool.sqlite3")
    yield s
    s.close()


def launch_dict(**overrides) -> dict:
    data = {"job_id": 1, "attempt": 1, "kind": "demo.node", "spec": {}, "gpus": [], "node": "x"}
    data.update(overrides)
    return data


def test_launch_is_recorded_then_handed_over_once(spool):
    sup = FakeSupervisor()
    handler = LaunchHandler(spool, sup, node="x")
    assert handler.handle(launch_dict(checkpoint={"step": 7})) == LAUNCHED
    assert handler.handle(launch_dict(checkpoint={"step": 7})) == REFUSED  # R9
    assert handler.handle(launch_dict(attempt=0)) == REFUSED
    [launch] = sup.launched
    assert (launch.job_id, launch.attempt, launch.checkpoint) == (1, 1, {"step": 7})
    assert spool.job(1, 1).launch["checkpoint"] == {"step": 7}
    assert handler.handle(launch_dict(attempt=2)) == LAUNCHED  # a newer lease


def test_bad_launches_fail_with_a_reason_or_are_dropped(spool):
    sup = FakeSupervisor()
    handler = LaunchHandler(spool, sup, node="x")
    assert handler.handle(launch_dict(job_id=2, gpus="0")) == FAILED
    [status] = spool.records(2, 1)
    assert status.data["state"] == "failed" and "gpus" in status.data["reason"]
    assert handler.handle(launch_dict(job_id=3, checkpoint=[1])) == FAILED
    assert handler.handle({"kind": "demo.node"}) == INVALID
    assert handler.handle("not a dict") == INVALID
    assert handler.handle(launch_dict(job_id=4, node="y")) == REFUSED  # another node's
    assert sup.launched == []


def test_a_launch_the_supervisor_cannot_start_fails_and_is_not_retried(spool):
    class Broken(FakeSupervisor):
        def launch(self, launch):
            raise PermissionError("work dir not writable")

    handler = LaunchHandler(spool, Broken(), node="x")
    assert handler.handle(launch_dict(job_id=5)) == FAILED
    assert "work dir not writable" in spool.records(5, 1)[-1].data["reason"]
    assert handler.handle(launch_dict(job_id=5)) == REFUSED


def test_celery_message_decoding():
    launch = launch_dict()
    v2 = ([launch], {}, {"callbacks": None})
    assert _task_and_args(v2, {"task": AGENT_LAUNCH_TASK, "id": "x"}) == (
        AGENT_LAUNCH_TASK,
        [launch],
    )
    v1 = {"task": AGENT_LAUNCH_TASK, "id": "x", "args": [launch], "kwargs": {}}
    assert _task_and_args(v1, {}) == (AGENT_LAUNCH_TASK, [launch])
    assert _task_and_args("junk", {}) == (None, None)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert _expired({"expires": past}, v2)
    assert not _expired({"expires": future}, v2)
    assert not _expired({}, v2)
    assert _safe_url("redis://:secret@redis:6379/0") == "redis://***@redis:6379/0"


def test_client_sends_the_node_token_and_types_replies(fake_console):
    fake_console.register_reply["something_new"] = "ignored by this agent"
    client = ConsoleClient(fake_console.url, fake_console.token, timeout=5)
    reply = client.register(name="x", agent_version="t", inventory={"gpus": []})
    assert (reply.queue, reply.heartbeat_seconds) == ("node.x", 0.3)
    fake_console.stop_in_heartbeat = [{"job": 9, "attempt": 2}]
    beat = client.heartbeat(running=[], spool={"pending": 0})
    assert (beat.status, beat.stop) == ("online", [{"job": 9, "attempt": 2}])
    assert fake_console.heartbeats[-1] == {"running": [], "spool": {"pending": 0}}
    with pytest.raises(ConsoleError) as refused:
        ConsoleClient(fake_console.url, "wrong", timeout=5).heartbeat(running=[])
    assert refused.value.status == 401
    fake_console.status_override = 503
    with pytest.raises(ConsoleUnavailable):
        client.heartbeat(running=[])
    with pytest.raises(ValueError):
        ConsoleClient("file:///etc/passwd", "t")


def test_heartbeat_stops_what_the_console_lists(fake_console):
    sup = FakeSupervisor()
    sup.jobs = [{"job": 9, "attempt": 2}]

    class Spooled:
        def status(self):
            return {"pending": 0, "quarantined": 0}

    client = ConsoleClient(fake_console.url, fake_console.token, timeout=5)
    fake_console.stop_in_heartbeat = [{"job": 9, "attempt": 2}]
    Heartbeat(client, sup, Spooled(), interval=1).beat()
    assert sup.stopped == [(9, 2, "stopped by console")]
    assert fake_console.heartbeats[-1]["running"] == [{"job": 9, "attempt": 2}]
    fake_console.stop()
    Heartbeat(client, sup, Spooled(), interval=1).beat()  # console down: logged, no raise


def test_registration_retries_until_the_console_answers(fake_console):
    stop = threading.Event()
    client = ConsoleClient(fake_console.url, fake_console.token, timeout=2)
    fake_console.status_override = 503
    threading.Timer(0.6, lambda: setattr(fake_console, "status_override", None)).start()
    reply = register(client, "x", node_inventory(), stop, backoff_cap=0.2)
    assert reply is not None and reply.node == "x"
    assert next(c for c in fake_console.calls if c[0] == "register") == ("register", 503)
    stop.set()
    assert register(client, "x", node_inventory(), stop) is None  # stopping wins


def test_one_agent_per_work_dir(tmp_path):
    work_dir = tmp_path / "agent"
    work_dir.mkdir()
    fd = os.open(work_dir / "agent.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        config = AgentConfig(
            console_url="http://127.0.0.1:9", token="t", name="x", work_dir=work_dir
        )
        assert Agent(config).run() == 1
    finally:
        os.close(fd)


def test_the_agent_needs_no_django_console_or_celery():
    """GPU nodes have the standard library, kombu and (maybe) pynvml: the agent must
    import and start its consumer with everything else missing."""
    code = (
        "import sys\n"
        "for name in ('django', 'console', 'celery', 'rest_framework', 'httpx', 'requests',"
        " 'workers'):\n"
        "    sys.modules[name] = None  # any import of these now fails\n"
        "import gpu_agent.__main__, gpu_agent.agent, gpu_agent.workloads.demo, gpu_agent.wrap\n"
        "from kombu import Connection\n"
        "import kombu.transport.filesystem\n"
        "with Connection('memory://') as conn:\n"
        "    conn.ensure_connection(max_retries=1)\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
