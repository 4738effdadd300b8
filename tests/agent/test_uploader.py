"""The uploader against a fake console on 127.0.0.1: outages lose nothing (R5),
refusals are quarantined, never dropped, never spun on."""

from __future__ import annotations

import threading
import time

import pytest

from gpu_agent.console import ConsoleClient
from gpu_agent.spool import Spool
from gpu_agent.telemetry import Telemetry
from gpu_agent.uploader import AUTH, IDLE, REJECTED, RETRY, SENT, Uploader
from tests.agent.conftest import wait_for


@pytest.fixture
def spool(tmp_path):
    s = Spool(tmp_path / "spool.sqlite3")
    yield s
    s.close()


def make_uploader(spool, console, **kwargs) -> Uploader:
    kwargs.setdefault("linger", 0.01)
    kwargs.setdefault("idle_wait", 0.1)
    kwargs.setdefault("backoff_cap", 0.2)
    kwargs.setdefault("auth_backoff_cap", 0.2)
    kwargs.setdefault("reject_pause", 0.01)
    return Uploader(spool, ConsoleClient(console.url, console.token, timeout=5), **kwargs)


def logs(spool, job: int, n: int, attempt: int = 1) -> list:
    return [
        spool.append(job, attempt, "log", {"stream": "stdout", "line": f"l{i}"}) for i in range(n)
    ]


def keys(records) -> set:
    return {(r.job, r.attempt, r.seq) for r in records}


def drain(up: Uploader, limit: int = 200) -> list[str]:
    outcomes = []
    for _ in range(limit):
        outcome = up.step(http_timeout=5)
        outcomes.append(outcome)
        if outcome == IDLE:
            return outcomes
    raise AssertionError(f"no end in sight: {outcomes[-10:]}")


def test_batches_arrive_and_leave_the_spool(spool, fake_console):
    emitted = keys(logs(spool, 1, 5) + logs(spool, 2, 3))
    emitted |= keys([spool.append(None, 0, "telemetry", {"gpus": [{"index": 0}]})])
    up = make_uploader(spool, fake_console)
    assert drain(up) == [SENT, IDLE]
    assert set(fake_console.applied) == emitted
    assert spool.counts() == {"pending": 0, "quarantined": 0}


def test_outages_lose_nothing_and_count_nothing_twice(spool, fake_console):
    """R5: the console down (503, connection refused, replies lost) while a job emits."""
    emitted: list = []
    done = threading.Event()

    def job():
        step = 0
        while not done.is_set():
            step += 1
            emitted.append(spool.append(1, 1, "metric", {"step": step, "values": {"loss": 1.0}}))
            if step % 3 == 0:
                emitted.append(spool.append(None, 0, "telemetry", {"gpus": []}))
            time.sleep(0.003)

    producer = threading.Thread(target=job, daemon=True)
    producer.start()
    up = make_uploader(spool, fake_console).start()
    try:
        wait_for(lambda: fake_console.applied, what="a first batch")
        fake_console.status_override = 503
        time.sleep(0.5)
        fake_console.status_override = None
        wait_for(lambda: up.failures == 0, what="recovery from 503")
        fake_console.stop()  # connection refused
        time.sleep(0.6)
        fake_console.start()
        wait_for(lambda: up.failures == 0, timeout=10, what="recovery from the outage")
        fake_console.drop_replies = 3  # ingested, but the agent never hears so
        wait_for(lambda: fake_console.drop_replies == 0, what="replies to be lost")
        time.sleep(0.2)
    finally:
        done.set()
        producer.join(5)
    assert up.stop(flush_timeout=10)
    assert spool.counts() == {"pending": 0, "quarantined": 0}
    assert set(fake_console.applied) == keys(emitted)  # nothing lost
    assert max(fake_console.apply_counts.values()) == 1  # nothing counted twice
    assert fake_console.duplicates > 0  # the resends after lost replies did happen
    assert ("ingest", 503) in fake_console.calls


def test_a_refused_record_is_quarantined_and_the_rest_flows(spool, fake_console):
    emitted = logs(spool, 1, 6)
    fake_console.bad = {(1, 1, 3)}
    up = make_uploader(spool, fake_console)
    assert drain(up) == [REJECTED, SENT, IDLE]
    assert set(fake_console.applied) == keys(emitted) - {(1, 1, 3)}
    assert spool.counts() == {"pending": 0, "quarantined": 1}
    assert up.status()["quarantined"] == 1
    [kept] = spool.records(1, 1)
    assert kept.seq == 3  # kept in the spool, not dropped
    assert spool.release_quarantine() == 1  # what an agent restart does


def test_a_refusal_naming_no_record_is_isolated_by_halving(spool, fake_console):
    emitted = logs(spool, 1, 16)
    fake_console.bad_unnamed = {(1, 1, 11)}
    up = make_uploader(spool, fake_console)
    outcomes = drain(up)
    assert outcomes.count(REJECTED) <= 8  # a few requests, not one per record
    assert set(fake_console.applied) == keys(emitted) - {(1, 1, 11)}
    assert [r.seq for r in spool.records(1, 1)] == [11]
    assert spool.counts()["quarantined"] == 1


def test_an_unknown_job_quarantines_its_stream_only(spool, fake_console):
    bad = logs(spool, 1, 3)
    good = logs(spool, 2, 3)
    tel = [spool.append(None, 0, "telemetry", {"gpus": []})]
    fake_console.unknown = {(1, 1)}
    up = make_uploader(spool, fake_console)
    drain(up)
    assert set(fake_console.applied) == keys(good + tel)
    later = spool.append(1, 1, "log", {"stream": "stdout", "line": "later"})
    assert drain(up) == [IDLE]  # later records of that stream stay quarantined too
    assert spool.counts() == {"pending": 0, "quarantined": 4}
    assert keys(spool.records(1, 1)) == keys([*bad, later])
    assert up.status()["quarantined_streams"][0]["job"] == 1


def test_too_large_halves_the_batch_and_delivers_everything(spool, fake_console):
    emitted = logs(spool, 1, 40)
    fake_console.max_records = 7
    up = make_uploader(spool, fake_console)
    drain(up)
    assert set(fake_console.applied) == keys(emitted)
    assert max(fake_console.ingest_sizes[-3:]) <= 7
    assert up.max_records <= 7  # it does not grow back into the 413


def test_a_revoked_token_keeps_everything_and_backs_off(spool, fake_console):
    emitted = logs(spool, 1, 4)
    up = make_uploader(spool, fake_console)
    fake_console.token = "rotated"  # the node's token was revoked
    assert up.step() == AUTH
    assert up.step() == AUTH
    assert spool.counts()["pending"] == 4
    assert up.backoff(AUTH) > 0
    fake_console.token = up.client.token
    assert drain(up) == [SENT, IDLE]
    assert set(fake_console.applied) == keys(emitted)


def test_connection_refused_is_retry_and_keeps_the_batch(spool, fake_console):
    logs(spool, 1, 2)
    fake_console.stop()
    up = make_uploader(spool, fake_console)
    assert up.step(http_timeout=1) == RETRY
    assert spool.counts()["pending"] == 2
    assert up.failures == 1
    assert "ConnectionRefused" in up.last_error or "refused" in up.last_error.lower()


def test_stop_list_in_the_ingest_reply_reaches_the_supervisor(spool, fake_console):
    logs(spool, 1, 1)
    fake_console.stop_in_ingest = [{"job": 1, "attempt": 1}]
    stopped = []
    up = make_uploader(spool, fake_console, on_stop=lambda j, a: stopped.append((j, a)))
    drain(up)
    assert stopped == [(1, 1)]


def test_flush_gives_up_in_time_when_the_console_is_down(spool, fake_console):
    logs(spool, 1, 3)
    fake_console.stop()
    up = make_uploader(spool, fake_console)
    t0 = time.monotonic()
    assert up.flush(timeout=1.0) is False
    assert time.monotonic() - t0 < 3
    assert spool.counts()["pending"] == 3


# ------------------------------------------------------------------ telemetry


class FakeGpus:
    """Stands in for NVML: read-only samples, and proof nothing else was asked."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.samples = 0
        self.closed = False

    def sample(self):
        self.samples += 1
        return [
            {"index": i, "util": 50.0 + i, "mem_used_mib": 1024, "power_w": 300.5, "temp_c": 61.0}
            for i in range(self.count)
        ]

    def close(self):
        self.closed = True


def test_telemetry_records_go_on_the_node_stream(spool):
    gpus = FakeGpus(2)
    telemetry = Telemetry(spool, gpus, interval=0.02).start()
    wait_for(lambda: len(spool.records(None, 0)) >= 3, what="three samples")
    telemetry.stop()
    assert gpus.closed
    first, second = spool.records(None, 0)[:2]
    assert (first.job, first.attempt, first.type) == (None, 0, "telemetry")
    assert second.seq == first.seq + 1
    assert [g["index"] for g in first.data["gpus"]] == [0, 1]
    assert first.data["gpus"][1]["util"] == 51.0


def test_no_gpu_means_no_telemetry_records(spool):
    gpus = FakeGpus(0)
    telemetry = Telemetry(spool, gpus, interval=0.02).start()
    wait_for(lambda: gpus.samples >= 3, what="three tries")
    telemetry.stop()
    assert spool.counts()["pending"] == 0
