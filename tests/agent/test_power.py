"""The agent's power policy (gpu_agent/power.py) against a fake NVML: what it reads,
what it writes, and what it reports. No real GPU is touched."""

from __future__ import annotations

from gpu_agent.agent import Heartbeat
from gpu_agent.console import ConsoleClient
from gpu_agent.power import PowerCap, PowerHeartbeatReply, PowerPolicy
from tests.agent.fake_nvml import NVML_ERROR_NO_PERMISSION, FakeGpu, FakeNvml

SETTER = "nvmlDeviceSetPowerManagementLimit"


def _cap(fake: FakeNvml, tmp_path=None) -> PowerCap:
    state = tmp_path / "power_cap.json" if tmp_path is not None else None
    return PowerCap(nvml_factory=lambda: fake, state_path=state)


def test_off_makes_no_nvml_call():
    fake = FakeNvml()
    report = _cap(fake).apply(PowerPolicy(mode="off", watts=None))
    assert fake.calls == []
    assert report == {"mode": "off", "watts": None, "error": "", "gpus": {}}


def test_dry_run_reads_but_never_sets():
    fake = FakeNvml(gpus=[FakeGpu(), FakeGpu(limit_mw=500_000)])
    cap = _cap(fake)
    report = cap.apply(PowerPolicy(mode="dry_run", watts=500))
    assert SETTER not in fake.names()
    assert "nvmlDeviceGetPowerManagementLimitConstraints" in fake.names()
    gpu0, gpu1 = report["gpus"]["0"], report["gpus"]["1"]
    assert gpu0["action"] == "would_set"
    assert (gpu0["current_limit_w"], gpu0["target_w"], gpu0["default_limit_w"]) == (
        700.0,
        500.0,
        700.0,
    )
    assert (gpu0["min_w"], gpu0["max_w"]) == (200.0, 700.0)
    assert gpu1["action"] == "none"  # already at 500 W
    assert fake.gpus[0].limit_mw == 700_000
    assert cap.report() is report


def test_enforce_sets_the_clamped_limit_in_milliwatts_only_when_different():
    fake = FakeNvml(gpus=[FakeGpu(min_mw=300_000), FakeGpu(limit_mw=400_000)])
    cap = _cap(fake)
    report = cap.apply(PowerPolicy(mode="enforce", watts=250))  # below GPU 0's minimum
    assert fake.setter_calls() == [(0, 300_000), (1, 250_000)]
    assert report["gpus"]["0"]["action"] == "set"
    assert report["gpus"]["0"]["target_w"] == 300.0
    assert report["gpus"]["0"]["current_limit_w"] == 300.0
    assert report["gpus"]["0"]["previous_limit_w"] == 700.0
    fake.calls.clear()
    again = cap.apply(PowerPolicy(mode="enforce", watts=250))
    assert fake.setter_calls() == []  # already there: no write
    assert {g["action"] for g in again["gpus"].values()} == {"none"}


def test_enforce_above_the_maximum_is_clamped_to_it():
    fake = FakeNvml(gpus=[FakeGpu(limit_mw=500_000, max_mw=700_000)])
    _cap(fake).apply(PowerPolicy(mode="enforce", watts=2000))
    assert fake.setter_calls() == [(0, 700_000)]


def test_enforce_then_off_restores_the_default_once(tmp_path):
    fake = FakeNvml()
    cap = _cap(fake, tmp_path)
    cap.apply(PowerPolicy(mode="enforce", watts=500))
    assert fake.gpus[0].limit_mw == 500_000
    fake.calls.clear()
    report = cap.apply(PowerPolicy(mode="off", watts=500))
    assert fake.setter_calls() == [(0, 700_000)]
    assert report["gpus"]["0"]["action"] == "restored"
    assert fake.gpus[0].limit_mw == 700_000
    fake.calls.clear()
    later = cap.apply(PowerPolicy(mode="off", watts=500))
    assert fake.calls == []  # once: off means hands off from now on
    assert later["gpus"] == {}


def test_a_restarted_agent_still_restores_what_its_predecessor_set(tmp_path):
    fake = FakeNvml()
    _cap(fake, tmp_path).apply(PowerPolicy(mode="enforce", watts=450))
    fake.calls.clear()
    report = _cap(fake, tmp_path).apply(PowerPolicy(mode="off"))  # a new PowerCap: a new agent
    assert fake.setter_calls() == [(0, 700_000)]
    assert report["gpus"]["0"]["action"] == "restored"


def test_dry_run_after_enforce_writes_nothing_and_off_still_restores(tmp_path):
    fake = FakeNvml()
    cap = _cap(fake, tmp_path)
    cap.apply(PowerPolicy(mode="enforce", watts=500))
    fake.calls.clear()
    report = cap.apply(PowerPolicy(mode="dry_run", watts=400))
    assert fake.setter_calls() == []
    assert report["gpus"]["0"]["action"] == "would_set"
    cap.apply(PowerPolicy(mode="off"))
    assert fake.setter_calls() == [(0, 700_000)]


def test_permission_error_is_reported_not_raised():
    fake = FakeNvml(gpus=[FakeGpu(set_error=NVML_ERROR_NO_PERMISSION), FakeGpu()])
    report = _cap(fake).apply(PowerPolicy(mode="enforce", watts=500))
    gpu0, gpu1 = report["gpus"]["0"], report["gpus"]["1"]
    assert gpu0["action"] == "error"
    assert "Insufficient Permissions" in gpu0["error"]
    assert gpu0["current_limit_w"] == 700.0  # unchanged
    assert gpu1["action"] == "set"  # the other GPU still gets its cap


def test_read_error_and_missing_driver_are_reported():
    fake = FakeNvml(gpus=[FakeGpu(read_error=3)])
    report = _cap(fake).apply(PowerPolicy(mode="dry_run", watts=500))
    assert report["gpus"]["0"]["action"] == "error"
    assert "Not Supported" in report["gpus"]["0"]["error"]

    no_driver = FakeNvml(init_error=9)
    report = _cap(no_driver).apply(PowerPolicy(mode="enforce", watts=500))
    assert report["gpus"] == {} and "no NVIDIA driver" in report["error"]

    def missing():
        raise ImportError("No module named 'pynvml'")

    report = PowerCap(nvml_factory=missing).apply(PowerPolicy(mode="enforce", watts=500))
    assert report["error"] == "nvidia-ml-py is not installed"


def test_failed_restore_is_retried_on_the_next_heartbeat(tmp_path):
    fake = FakeNvml()
    cap = _cap(fake, tmp_path)
    cap.apply(PowerPolicy(mode="enforce", watts=500))
    fake.gpus[0].set_error = NVML_ERROR_NO_PERMISSION
    assert cap.apply(PowerPolicy(mode="off"))["gpus"]["0"]["action"] == "error"
    fake.gpus[0].set_error = None
    assert cap.apply(PowerPolicy(mode="off"))["gpus"]["0"]["action"] == "restored"


def test_policy_from_wire_rejects_what_it_cannot_apply():
    assert PowerPolicy.from_wire({"mode": "enforce", "watts": 500}) == PowerPolicy(
        mode="enforce", watts=500
    )
    assert PowerPolicy.from_wire({"mode": "off", "watts": None}) == PowerPolicy(mode="off")
    for bad in (None, {}, {"mode": "turbo"}, {"mode": "enforce"}, {"mode": "enforce", "watts": -5}):
        assert PowerPolicy.from_wire(bad) is None


class _Client:
    def __init__(self, replies):
        self.replies = list(replies)
        self.sent: list[dict | None] = []

    def heartbeat(self, *, running, spool, host, power, timeout):
        self.sent.append(power)
        return self.replies.pop(0)


class _Supervisor:
    def running(self):
        return []


class _Uploader:
    def status(self):
        return {"pending": 0}


def test_heartbeat_applies_the_policy_and_sends_the_report_with_the_next_beat():
    fake = FakeNvml()
    client = _Client(
        [
            PowerHeartbeatReply(status="online", power={"mode": "dry_run", "watts": 500}),
            PowerHeartbeatReply(status="online", power={"mode": "dry_run", "watts": 500}),
        ]
    )
    beat = Heartbeat(client, _Supervisor(), _Uploader(), 1.0, power=_cap(fake))
    beat.beat()
    beat.beat()
    assert client.sent[0] is None  # nothing applied yet
    assert client.sent[1]["mode"] == "dry_run"
    assert client.sent[1]["gpus"]["0"]["action"] == "would_set"
    assert fake.setter_calls() == []


def test_client_sends_the_report_and_reads_the_policy(fake_console):
    client = ConsoleClient(fake_console.url, fake_console.token)
    reply = client.heartbeat(running=[], power={"mode": "off", "gpus": {}})
    assert fake_console.heartbeats[-1]["power"] == {"mode": "off", "gpus": {}}
    assert isinstance(reply, PowerHeartbeatReply)
    assert reply.power == {}  # this console sends no policy: the agent does nothing
