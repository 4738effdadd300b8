"""The pipeline's worker processes: a worker that dies, stops answering or fails
ends the run at once with a clear error; they start from any parent process (a
Celery prefork child included) and never outlive it."""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from console.data.engine.clean import run_pipeline
from console.data.engine.versions import write_version
from console.data.engine.workers import WorkerFailed, WorkerPool
from tests.data.engine.synth import FULL_PIPELINE
from tests.data.engine.test_pipeline import corpus

REPO = Path(__file__).resolve().parents[3]
KEEP_ALL = {0: [(0, {"rule": "length_filter", "params": {"min_chars": 0, "max_chars": 10**9}})]}


def poll_until(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_results_come_back_in_order_across_stages():
    stages = {**KEEP_ALL, 1: [(1, {"rule": "mask_email", "params": {}})]}
    with WorkerPool(2, stages) as pool:
        tickets = [pool.submit(i % 2, [(i, f"doc {i} mail a{i}@example.org")]) for i in range(10)]
        results = [pool.result(t) for t in reversed(tickets)]
    assert results[0][0] == [(9, "doc 9 mail [EMAIL]")]
    assert results[-1][0] == [(0, "doc 0 mail a0@example.org")]
    assert results[-1][1][0]["documents_in"] == 1


def test_a_worker_killed_while_sending_its_result_fails_the_run_at_once():
    """What hung CI with ProcessPoolExecutor: a worker killed half-way through
    writing a result. Here the pipe reads end-of-file and the run fails."""
    with (
        pytest.raises(WorkerFailed, match="was killed by SIGKILL"),
        WorkerPool(1, KEEP_ALL, timeout_s=60) as pool,
    ):
        ticket = pool.submit(0, [(0, "x" * 64_000_000)])
        # The 64 MB result fills the pipe's 1 MiB: the worker is now blocked mid-message.
        assert select.select([pool._workers[0].result_r], [], [], 60)[0]
        os.kill(pool.pids[0], signal.SIGKILL)
        started = time.monotonic()
        pool.result(ticket)
    assert time.monotonic() - started < 10


def test_a_worker_that_stops_answering_fails_after_the_timeout():
    with (
        pytest.raises(WorkerFailed, match=r"sent nothing for 1\.5 s"),
        WorkerPool(1, KEEP_ALL, timeout_s=1.5) as pool,
    ):
        os.kill(pool.pids[0], signal.SIGSTOP)
        pool.result(pool.submit(0, [(0, "hello")]))
    assert gone(pool.pids[0])  # killed on the way out, stopped or not


def test_a_rule_error_in_a_worker_is_raised_with_its_traceback():
    with WorkerPool(1, KEEP_ALL) as pool:
        with pytest.raises(TypeError) as info:
            pool.result(pool.submit(0, [(0, 12345)]))  # not a str: len() fails in the rule
        assert "length_filter.py" in str(info.value.__cause__)
        assert pool.result(pool.submit(0, [(1, "still working")]))[0] == [(1, "still working")]


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = (
        "import sys\n"
        "from console.data.engine.workers import WorkerPool\n"
        f"pool = WorkerPool(2, {KEEP_ALL!r})\n"
        "print(*pool.pids, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and not any(gone(p) for p in pids)
    finally:
        parent.kill()
        parent.wait(10)
    poll_until(lambda: all(gone(p) for p in pids), timeout=30, what="orphaned workers to exit")


def test_the_report_says_when_workers_could_not_start(tmp_path, monkeypatch):
    write_version(iter(corpus(50)), tmp_path / "src")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    report = run_pipeline(tmp_path / "src", tmp_path / "out", FULL_PIPELINE, workers=2)
    assert (report["workers"], report["workers_requested"]) == (1, 2)
    assert "could not start" in report["workers_note"]


def _clean_in_daemon(src: str, out: str, result: str) -> None:
    started_child = True
    try:
        multiprocessing.get_context("spawn").Process(target=print).start()
    except AssertionError:  # "daemonic processes are not allowed to have children"
        started_child = False
    report = run_pipeline(Path(src), Path(out), FULL_PIPELINE, workers=2)
    Path(result).write_text(
        json.dumps(
            {
                "daemon": multiprocessing.current_process().daemon,
                "multiprocessing_child": started_child,
                "workers": report["workers"],
                "sha256": report["version"]["sha256"],
            }
        )
    )


def test_workers_run_in_a_daemonic_process(tmp_path):
    """billiard's daemonic Process is what a Celery prefork pool child is."""
    billiard = pytest.importorskip("billiard")
    write_version(iter(corpus()), tmp_path / "src")
    one = run_pipeline(tmp_path / "src", tmp_path / "one", FULL_PIPELINE)
    child = billiard.get_context("spawn").Process(
        target=_clean_in_daemon,
        args=(str(tmp_path / "src"), str(tmp_path / "two"), str(tmp_path / "result.json")),
        daemon=True,
    )
    child.start()
    child.join(120)
    assert child.exitcode == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["daemon"] and not result["multiprocessing_child"]
    assert result["workers"] == 2
    assert result["sha256"] == one["version"]["sha256"]


@pytest.mark.slow
def test_workers_run_in_a_real_celery_prefork_worker(tmp_path, monkeypatch):
    write_version(iter(corpus()), tmp_path / "src")
    one = run_pipeline(tmp_path / "src", tmp_path / "one", FULL_PIPELINE)
    monkeypatch.setenv("FORGE_PROBE_BROKER_DIR", str(tmp_path / "broker"))
    env = dict(os.environ)
    log = tmp_path / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "tests.data.engine.celery_probe", "worker"]
    argv += ["--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"]
    argv += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    with log.open("wb") as out:
        worker = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        poll_until(
            lambda: b" ready." in log.read_bytes() or worker.poll() is not None,
            timeout=90,
            what="the Celery worker to be ready",
        )
        assert worker.poll() is None, log.read_text()
        from tests.data.engine import celery_probe

        result = tmp_path / "result.json"
        args = [str(tmp_path / "src"), str(tmp_path / "two"), str(result), 2]
        celery_probe.clean.apply_async(args=args)
        poll_until(result.exists, timeout=120, what=f"the task's result\n{log.read_text()}")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    got = json.loads(result.read_text())
    assert got == {"daemon": True, "workers": 2, "sha256": one["version"]["sha256"]}
