"""The supervisor runs real subprocesses: records, outcomes, stop, re-attach (R6)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from gpu_agent.kinds import KINDS, Kind
from gpu_agent.spec import LOG_LINE_CAP, LaunchSpec
from gpu_agent.spool import Spool
from gpu_agent.supervisor import (
    LOST_REASON,
    Supervisor,
    line_items,
    lock_held,
    parse_marker,
    read_lines,
)
from tests.agent.conftest import wait_for

pytestmark = pytest.mark.slow  # real subprocesses


def script(code: str) -> Kind:
    return Kind(argv=lambda launch, spec_path: [sys.executable, "-c", code])


TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("grandchild", child.pid, flush=True)
time.sleep(60)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(60)
"""
NOISY = r"""
import os, sys
print("x" * 5000)
print("@forge {not json")
print('@forge {"type": "metric", "step": 1, "values": {"loss": NaN, "acc": 0.5}}')
print('@forge {"type": "progress", "percent": 150, "message": "m", "checkpoint": {"s": 1}}')
print("token=" + os.environ.get("FORGE_NODE_TOKEN", "<none>"))
print("db=" + os.environ.get("DATABASE_URL", "<none>"))
print("cvd=" + repr(os.environ["CUDA_VISIBLE_DEVICES"]))
print("job=" + os.environ["FORGE_JOB_ID"] + "/" + os.environ["FORGE_ATTEMPT"])
print("spec=" + str(os.path.exists(os.environ["FORGE_SPEC"])))
sys.stderr.write("the last error line\n")
sys.stdout.write("no newline at the end")
sys.exit(3)
"""
KINDS_FOR_TESTS = {
    **KINDS,
    "test.tree": script(TREE),
    "test.stubborn": script(STUBBORN),
    "test.noisy": script(NOISY),
    "test.sleep": script("import time; time.sleep(60)"),
    # Exits with the code its spec names; any failure but exit 2 is worth a new attempt.
    "test.retry": Kind(
        argv=lambda launch, spec_path: [
            sys.executable,
            "-c",
            f"import sys; sys.stderr.write('crashed\\n'); sys.exit({launch.spec['code']})",
        ],
        retry=lambda code: code != 2,
    ),
}


@pytest.fixture
def spool(work_dir):
    s = Spool(work_dir / "spool.sqlite3")
    yield s
    s.close()


@pytest.fixture
def supervisors(spool, work_dir):
    made: list[Supervisor] = []

    def make(**kwargs) -> Supervisor:
        kwargs.setdefault("poll_interval", 0.05)
        kwargs.setdefault("kinds", KINDS_FOR_TESTS)
        sup = Supervisor(spool, work_dir, **kwargs).start()
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup.shutdown(timeout=2)


def start(spool: Spool, sup: Supervisor, job: int, kind: str, spec=None, **kw) -> LaunchSpec:
    launch = LaunchSpec(job_id=job, attempt=kw.pop("attempt", 1), kind=kind, spec=spec or {}, **kw)
    assert spool.claim_launch(launch)
    sup.launch(launch)
    return launch


def ended(spool: Spool, job: int, attempt: int = 1, timeout: float = 20.0):
    wait_for(
        lambda: spool.job(job, attempt).state == "ended",
        timeout=timeout,
        what=f"job {job} to end",
    )
    return spool.job(job, attempt)


def records(spool: Spool, job: int, attempt: int = 1, type_: str | None = None):
    return [r for r in spool.records(job, attempt) if type_ is None or r.type == type_]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def assert_stream_complete(spool: Spool, job: int, attempt: int = 1) -> None:
    recs = spool.records(job, attempt)
    assert [r.seq for r in recs] == list(range(1, len(recs) + 1))
    statuses = [r.data["state"] for r in recs if r.type == "status"]
    assert statuses[0] == "running" and statuses.count("running") == 1
    assert recs[0].type == "status" and recs[-1].type == "status"


# ------------------------------------------------------------------ output parsing


def test_marker_lines_become_metric_and_progress_records():
    assert parse_marker('{"type": "metric", "step": 3, "values": {"loss": 1, "lr": 0.1}}') == [
        ("metric", {"step": 3, "values": {"loss": 1.0, "lr": 0.1}})
    ]
    assert parse_marker('{"type": "progress", "percent": 50, "message": "half"}') == [
        ("progress", {"percent": 50.0, "message": "half", "checkpoint": None})
    ]
    for bad in (
        "{nope",
        "[1]",
        '{"type": "other"}',
        '{"type": "metric", "step": "1", "values": {}}',
        '{"type": "metric", "step": 1, "values": {"a": "x"}}',
        '{"type": "progress", "percent": "x"}',
        '{"type": "progress", "percent": 1, "checkpoint": [1]}',
    ):
        assert parse_marker(bad) is None, bad
    # NaN is not JSON: the value is left out, and the log says so
    items = parse_marker('{"type": "metric", "step": 2, "values": {"loss": NaN, "ok": 1}}')
    assert items[0] == ("metric", {"step": 2, "values": {"ok": 1.0}})
    assert items[1][0] == "log" and "loss=nan" in items[1][1]["line"]


def test_other_lines_are_log_records_cut_at_the_cap():
    assert line_items("stderr", b"boom\r") == [("log", {"stream": "stderr", "line": "boom"})]
    assert line_items("stdout", b"@forge {bad") == [
        ("log", {"stream": "stdout", "line": "@forge {bad"})
    ]
    [(kind, data)] = line_items("stdout", b"y" * (LOG_LINE_CAP + 100))
    assert kind == "log" and data["line"].startswith("y" * LOG_LINE_CAP)
    assert data["line"].endswith("[100 bytes cut]")


def test_a_marker_line_may_be_longer_than_a_log_line():
    values = {f"series_{i:03d}": i / 7 for i in range(300)}
    raw = ("@forge " + json.dumps({"type": "metric", "step": 9, "values": values})).encode()
    assert len(raw) > LOG_LINE_CAP
    assert line_items("stdout", raw + b"\r") == [("metric", {"step": 9, "values": values})]
    [(kind, _)] = line_items("stderr", raw)  # markers count on stdout only
    assert kind == "log"


def test_read_lines_keeps_an_unfinished_line_until_final(tmp_path):
    path = tmp_path / "out.log"
    path.write_bytes(b"one\ntwo\nthr")
    lines, offset = read_lines(path, 0, final=False)
    assert (lines, offset) == ([b"one", b"two"], 8)
    assert read_lines(path, offset, final=False) == ([], 8)
    assert read_lines(path, offset, final=True) == ([b"thr"], 11)
    assert read_lines(tmp_path / "missing", 0, final=True) == ([], 0)


# ------------------------------------------------------------------ running jobs


def test_demo_runs_to_success_with_a_metric_per_step(spool, supervisors, work_dir):
    sup = supervisors()
    start(spool, sup, 1, "demo.node", {"steps": 5, "step_seconds": 0.02, "metrics_per_step": 4})
    row = ended(spool, 1)
    assert (row.outcome, row.exit_code) == ("succeeded", 0)
    assert_stream_complete(spool, 1)
    metrics = records(spool, 1, type_="metric")
    assert [m.data["step"] for m in metrics] == [1, 2, 3, 4, 5]
    assert set(metrics[0].data["values"]) == {"loss", "lr", "grad_norm", "m3"}
    progress = records(spool, 1, type_="progress")
    assert progress[-1].data == {"percent": 100.0, "message": "step 5/5", "checkpoint": {"step": 5}}
    status = records(spool, 1, type_="status")
    assert [s.data for s in status] == [
        {"state": "running", "exit_code": None, "reason": ""},
        {"state": "succeeded", "exit_code": 0, "reason": ""},
    ]
    assert sup.running() == []
    assert (work_dir / "jobs" / "1-1" / "launch.json").exists()


def test_demo_resumes_from_the_checkpoint_it_is_given(spool, supervisors):
    sup = supervisors()
    start(
        spool,
        sup,
        2,
        "demo.node",
        {"steps": 5, "step_seconds": 0.01},
        attempt=2,
        checkpoint={"step": 3},
    )
    assert ended(spool, 2, 2).outcome == "succeeded"
    assert [m.data["step"] for m in records(spool, 2, 2, "metric")] == [4, 5]
    assert any(
        "resuming from checkpoint: step 3" in r.data["line"] for r in records(spool, 2, 2, "log")
    )


def test_failure_reports_exit_code_and_last_stderr_line(spool, supervisors):
    sup = supervisors()
    start(spool, sup, 3, "demo.node", {"steps": 5, "step_seconds": 0.01, "fail_at_step": 3})
    row = ended(spool, 3)
    assert (row.outcome, row.exit_code) == ("failed", 1)
    assert row.reason == "exit code 1: failing on purpose at step 3 (fail_at_step)"
    assert len(records(spool, 3, type_="metric")) == 2
    assert records(spool, 3)[-1].data["state"] == "failed"


def test_a_failure_the_kind_retries_is_reported_interrupted(spool, supervisors):
    sup = supervisors()
    start(spool, sup, 31, "test.retry", {"code": 7})
    start(spool, sup, 32, "test.retry", {"code": 2})
    retried, final = ended(spool, 31), ended(spool, 32)
    # "interrupted": the console requeues it (a new attempt, up to max attempts).
    assert (retried.outcome, retried.exit_code, retried.reason) == (
        "interrupted",
        7,
        "exit code 7: crashed",
    )
    assert (final.outcome, final.exit_code) == ("failed", 2)


def test_output_env_and_exit_code_of_an_arbitrary_command(spool, supervisors, monkeypatch):
    monkeypatch.setenv("FORGE_NODE_TOKEN", "the-node-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://forge:secret@db/forge")
    sup = supervisors()
    start(spool, sup, 4, "test.noisy", gpus=[0, 2])
    row = ended(spool, 4)
    assert (row.outcome, row.exit_code) == ("failed", 3)
    assert row.reason == "exit code 3: the last error line"
    logs = {(r.data["stream"], r.data["line"][:40]) for r in records(spool, 4, type_="log")}
    assert ("stdout", "x" * 40) in logs
    assert ("stdout", "@forge {not json") in logs
    assert ("stdout", "token=<none>") in logs  # the node token never reaches a job
    assert ("stdout", "db=<none>") in logs  # nor the console's secrets
    assert ("stdout", "cvd='0,2'") in logs
    assert ("stdout", "job=4/1") in logs
    assert ("stdout", "spec=True") in logs
    assert ("stderr", "the last error line") in logs
    assert ("stdout", "no newline at the end") in logs
    [metric] = records(spool, 4, type_="metric")
    assert metric.data == {"step": 1, "values": {"acc": 0.5}}
    [progress] = records(spool, 4, type_="progress")
    assert progress.data["percent"] == 100.0 and progress.data["checkpoint"] == {"s": 1}
    assert_stream_complete(spool, 4)


def test_no_gpus_means_empty_cuda_visible_devices(spool, supervisors):
    sup = supervisors()
    start(spool, sup, 5, "test.noisy")
    ended(spool, 5)
    assert "cvd=''" in [r.data["line"] for r in records(spool, 5, type_="log")]


def test_unknown_kind_and_invalid_spec_fail_at_once_without_a_process(spool, supervisors, work_dir):
    sup = supervisors()
    start(spool, sup, 6, "no.such.kind")
    start(spool, sup, 7, "demo.node", {"steps": 0})
    for job in (6, 7):
        row = spool.job(job, 1)  # no waiting: it is settled when launch() returns
        assert (row.state, row.outcome, row.pid) == ("ended", "failed", None)
        [status] = records(spool, job)
        assert status.data["state"] == "failed"
        assert not (work_dir / "jobs" / f"{job}-1").exists()
    assert "unknown job kind 'no.such.kind'" in spool.job(6, 1).reason
    assert spool.job(7, 1).reason.startswith("invalid spec: steps: must be between")
    assert sup.running() == []


# ------------------------------------------------------------------ stop


def test_stop_kills_the_whole_process_group_within_seconds(spool, supervisors, work_dir):
    sup = supervisors()  # default grace: 10 s; SIGTERM alone must do it here
    start(spool, sup, 8, "test.tree")
    line = wait_for(
        lambda: next(
            (
                r.data["line"]
                for r in records(spool, 8, type_="log")
                if "grandchild" in r.data["line"]
            ),
            None,
        ),
        what="the grandchild to start",
    )
    grandchild = int(line.split()[1])
    pgid = spool.job(8, 1).pgid
    assert alive(grandchild) and os.getpgid(grandchild) == pgid
    t0 = time.monotonic()
    assert sup.stop(8, 1, "stopped by console")
    row = ended(spool, 8, timeout=5)
    assert time.monotonic() - t0 < 5
    assert (row.outcome, row.reason) == ("cancelled", "stopped by console")
    wait_for(lambda: not alive(grandchild), timeout=5, what="the grandchild to be gone")
    assert not lock_held(work_dir / "jobs" / "8-1")
    assert not sup.stop(8, 1)  # nothing left to stop


def test_stop_escalates_to_sigkill_after_the_grace(spool, supervisors):
    sup = supervisors(grace=0.5)
    start(spool, sup, 9, "test.stubborn")
    wait_for(lambda: records(spool, 9, type_="log"), what="the job to ignore SIGTERM")
    t0 = time.monotonic()
    sup.stop(9, 1)
    row = ended(spool, 9, timeout=5)
    assert 0.4 < time.monotonic() - t0 < 5
    assert (row.outcome, row.exit_code) == ("cancelled", None)


def test_demo_stops_cleanly_on_sigterm(spool, supervisors):
    sup = supervisors()
    start(spool, sup, 10, "demo.node", {"steps": 1000, "step_seconds": 0.05})
    wait_for(lambda: records(spool, 10, type_="metric"), what="a first metric")
    sup.stop(10, 1, "paused by user")
    row = ended(spool, 10, timeout=5)
    assert (row.outcome, row.exit_code, row.reason) == ("cancelled", 143, "paused by user")
    assert any("SIGTERM at step" in r.data["line"] for r in records(spool, 10, type_="log"))


def test_a_newer_attempt_supersedes_an_older_one(spool, supervisors):
    sup = supervisors()
    start(spool, sup, 11, "test.sleep", attempt=1)
    start(spool, sup, 11, "demo.node", {"steps": 1, "step_seconds": 0}, attempt=2)
    old = ended(spool, 11, 1, timeout=5)
    assert (old.outcome, old.reason) == ("cancelled", "superseded by attempt 2")
    assert ended(spool, 11, 2).outcome == "succeeded"


# ------------------------------------------------------------------ re-attach (R6)


def test_reattach_after_a_restart_resumes_tailing_without_loss_or_duplicates(spool, supervisors):
    first = supervisors()
    start(spool, first, 12, "demo.node", {"steps": 8, "step_seconds": 0.15})
    wait_for(lambda: len(records(spool, 12, type_="metric")) >= 2, what="two metrics")
    first.shutdown()  # the agent goes away; the job keeps running, unwatched
    time.sleep(0.4)
    seen = len(records(spool, 12))
    second = supervisors()
    assert second.running() == [{"job": 12, "attempt": 1}]
    row = ended(spool, 12)
    assert row.outcome == "succeeded"
    assert len(records(spool, 12)) > seen
    assert [m.data["step"] for m in records(spool, 12, type_="metric")] == list(range(1, 9))
    assert_stream_complete(spool, 12)


def test_a_job_that_ended_while_no_agent_watched_gets_its_real_outcome(
    spool, supervisors, work_dir
):
    first = supervisors()
    start(spool, first, 13, "demo.node", {"steps": 3, "step_seconds": 0.05, "fail_at_step": 3})
    first.shutdown()
    wait_for(lambda: (work_dir / "jobs" / "13-1" / "exit_code").exists(), what="the job to end")
    supervisors()
    row = ended(spool, 13)
    assert (row.outcome, row.exit_code) == ("failed", 1)
    assert [m.data["step"] for m in records(spool, 13, type_="metric")] == [1, 2]
    assert_stream_complete(spool, 13)


def test_a_job_gone_without_exit_code_is_lost_never_succeeded(spool, supervisors, work_dir):
    first = supervisors()
    start(spool, first, 14, "test.sleep")
    first.shutdown()
    os.killpg(spool.job(14, 1).pgid, signal.SIGKILL)  # e.g. the node rebooted
    wait_for(lambda: not lock_held(work_dir / "jobs" / "14-1"), what="the job to die")
    supervisors()
    row = ended(spool, 14)
    assert (row.outcome, row.reason) == ("failed", LOST_REASON)


def test_a_stop_requested_before_a_restart_still_applies(spool, supervisors):
    first = supervisors(grace=0.3)
    start(spool, first, 15, "test.stubborn")
    wait_for(lambda: records(spool, 15, type_="log"), what="the job to start")
    first.stop(15, 1, "stopped by console")
    first.shutdown()  # before the grace ran out
    supervisors(grace=0.3)
    row = ended(spool, 15, timeout=5)
    assert (row.outcome, row.reason) == ("cancelled", "stopped by console")


def test_an_accepted_launch_not_yet_started_starts_after_a_restart(spool, supervisors):
    launch = LaunchSpec(
        job_id=16,
        attempt=1,
        kind="demo.node",
        spec={"steps": 3, "step_seconds": 0},
        checkpoint={"step": 1},
    )
    assert spool.claim_launch(launch)  # the agent died right after taking the lease
    supervisors()
    assert ended(spool, 16).outcome == "succeeded"
    assert [m.data["step"] for m in records(spool, 16, type_="metric")] == [2, 3]
    assert_stream_complete(spool, 16)
