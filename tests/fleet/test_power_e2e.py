"""The power policy with real processes: the console (gunicorn) on the test database
and a real agent (`python -m gpu_agent`) whose pynvml is the fake of
tests/agent/fake_nvml.py (tests/agent/fake_pynvml on PYTHONPATH), its GPUs in a
JSON file. An admin switches dry run → enforce → off; the agent's heartbeats carry
the policy, the fake GPU's limit follows, and the reports come back to the Node."""

from __future__ import annotations

import os
import sys

import pytest

from console.fleet import services as fleet
from console.fleet.models import Node
from tests.agent.fake_nvml import FakeGpu, read_state, write_state
from tests.processes import ROOT, ConsoleServer, ManagedProcess, process_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _report(name: str) -> dict:
    return Node.objects.values_list("power_cap_report", flat=True).get(name=name) or {}


def _gpu(name: str, index: str) -> dict:
    return _report(name).get("gpus", {}).get(index, {})


def test_agent_applies_dry_run_enforce_and_off_through_nvml(tmp_path, personas, monkeypatch):
    monkeypatch.setenv("FORGE_NODE_HEARTBEAT_SECONDS", "1")
    state = tmp_path / "nvml.json"
    write_state(state, [FakeGpu(), FakeGpu(limit_mw=500_000)])
    issued = fleet.node_create(actor=None, name="pw")
    console = ConsoleServer(tmp_path / "console.log").start()
    fake_path = str(ROOT / "tests" / "agent" / "fake_pynvml")
    env = process_env(
        FORGE_NODE_TOKEN=issued.key,
        FAKE_NVML_STATE=str(state),
        PYTHONPATH=os.pathsep.join(p for p in (fake_path, os.environ.get("PYTHONPATH")) if p),
    )
    agent = ManagedProcess(
        [
            sys.executable,
            "-m",
            "gpu_agent",
            "--console",
            console.url,
            "--name",
            "pw",
            "--work-dir",
            str(tmp_path / "agent"),
            "--telemetry-interval",
            "1",
        ],
        tmp_path / "agent.log",
        env=env,
    ).start()
    try:
        wait_for(
            lambda: Node.objects.get(name="pw").status == Node.Status.ONLINE,
            timeout=60,
            what=f"the agent to register\n{agent.log()}",
        )
        node = Node.objects.get(name="pw")
        assert node.gpus.filter(present=True).count() == 2  # the fake's inventory
        wait_for(lambda: _report("pw").get("mode") == "off", timeout=20, what="an off report")

        fleet.node_settings_update(
            actor=personas.admin, node=node, power_cap_mode="dry_run", power_cap_watts=500
        )
        wait_for(
            lambda: _gpu("pw", "0").get("action") == "would_set",
            timeout=20,
            what=f"a dry-run report\n{agent.log()}",
        )
        assert _gpu("pw", "0")["target_w"] == 500.0 and _gpu("pw", "1")["action"] == "none"
        assert read_state(state)["sets"] == []  # dry run writes nothing

        fleet.node_settings_update(actor=personas.admin, node=node, power_cap_mode="enforce")
        wait_for(
            lambda: read_state(state)["gpus"][0]["limit_mw"] == 500_000,
            timeout=20,
            what=f"the cap to be set\n{agent.log()}",
        )
        wait_for(
            lambda: (
                _report("pw").get("mode") == "enforce"
                and _gpu("pw", "0").get("current_limit_w") == 500.0
            ),
            timeout=20,
            what="an enforce report",
        )
        assert read_state(state)["sets"] == [[0, 500_000]]  # GPU 1 was already at 500 W

        fleet.node_settings_update(actor=personas.admin, node=node, power_cap_mode="off")
        wait_for(
            lambda: [g["limit_mw"] for g in read_state(state)["gpus"]] == [700_000, 700_000],
            timeout=20,
            what=f"the default limits to be restored\n{agent.log()}",
        )
        wait_for(lambda: _report("pw").get("mode") == "off", timeout=20, what="an off report")
        sets = read_state(state)["sets"]
        assert sorted(map(tuple, sets[1:])) == [(0, 700_000), (1, 700_000)]
        assert agent.alive(), agent.log()
    finally:
        agent.stop()
        console.stop()
    assert "Traceback" not in (tmp_path / "agent.log").read_text(), agent.log()
