"""The agent's SQLite spool: seq per stream, order, ack, quarantine, leases."""

from __future__ import annotations

import sqlite3

import pytest

from gpu_agent.spec import LaunchSpec
from gpu_agent.spool import Spool, SpoolError, batch_json


@pytest.fixture
def spool(tmp_path):
    s = Spool(tmp_path / "spool.sqlite3")
    yield s
    s.close()


def log(line: str) -> dict:
    return {"stream": "stdout", "line": line}


def launch(job: int, attempt: int, **kw) -> LaunchSpec:
    return LaunchSpec(job_id=job, attempt=attempt, kind="demo.node", spec={}, **kw)


def test_wal_mode_and_durable_sync(spool):
    db = sqlite3.connect(spool.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_seq_is_per_stream_and_increases_by_one(spool):
    a = [spool.append(1, 1, "log", log(f"a{i}")) for i in range(3)]
    b = [spool.append(1, 2, "log", log(f"b{i}")) for i in range(2)]
    t = [spool.append(None, 0, "telemetry", {"gpus": []}) for _ in range(2)]
    assert [r.seq for r in a] == [1, 2, 3]
    assert [r.seq for r in b] == [1, 2]  # another attempt is another stream
    assert [(r.job, r.attempt) for r in t] == [(None, 0), (None, 0)]
    # the node's stream starts at the spool's birth in ms, so a wiped work dir does not
    # send the console telemetry seqs it has already applied
    assert t[0].seq > 1_700_000_000_000 and t[1].seq == t[0].seq + 1
    assert spool.append(1, 1, "metric", {"step": 1, "values": {"loss": 1.0}}).seq == 4


def test_pending_is_oldest_first_across_streams_and_ack_removes(spool):
    spool.append(1, 1, "log", log("x"))
    spool.append(2, 1, "log", log("y"))
    spool.append(None, 0, "telemetry", {"gpus": []})
    spool.append(1, 1, "log", log("z"))
    pending = spool.pending(100, 1 << 20)
    assert [(r.job, r.seq) for r in pending] == [(1, 1), (2, 1), (None, pending[2].seq), (1, 2)]
    assert spool.ack(pending[:2]) == 2
    assert [r.job for r in spool.pending(100, 1 << 20)] == [None, 1]
    assert spool.counts() == {"pending": 2, "quarantined": 0}


def test_pending_respects_record_and_byte_limits(spool):
    for i in range(10):
        spool.append(1, 1, "log", log("x" * 100 + str(i)))
    assert len(spool.pending(3, 1 << 20)) == 3
    one = len(batch_json(spool.pending(1, 1 << 20)))
    four = spool.pending(100, one * 4)
    assert len(batch_json(four)) <= one * 4
    assert 2 <= len(four) < 10
    # a record larger than the byte limit still goes out alone (the console decides)
    assert len(spool.pending(100, 10)) == 1


def test_pending_for_one_stream(spool):
    spool.append(1, 1, "log", log("a"))
    spool.append(2, 1, "log", log("b"))
    spool.append(1, 1, "log", log("c"))
    assert [r.data["line"] for r in spool.pending(10, 1 << 20, stream=(1, 1))] == ["a", "c"]


def test_seq_never_reused_after_ack_and_reopen(tmp_path):
    path = tmp_path / "spool.sqlite3"
    s = Spool(path)
    s.ack([s.append(7, 1, "log", log("a")), s.append(7, 1, "log", log("b"))])
    s.close()
    s = Spool(path)
    assert s.append(7, 1, "log", log("c")).seq == 3
    s.close()


def test_bad_record_is_refused_without_consuming_a_seq(spool):
    with pytest.raises(SpoolError):
        spool.append(1, 1, "metric", {"step": 1, "values": {"loss": float("nan")}})
    with pytest.raises(SpoolError):
        spool.append(1, 1, "nonsense", {})
    with pytest.raises(SpoolError):
        spool.append(None, 0, "log", log("telemetry stream takes telemetry only"))
    assert spool.append(1, 1, "log", log("ok")).seq == 1


def test_append_many_is_all_or_nothing(spool):
    with pytest.raises(SpoolError):
        spool.append_many([(1, 1, "log", log("a")), (1, 1, "log", {"x": float("inf")})])
    assert spool.counts()["pending"] == 0
    assert [r.seq for r in spool.append_many([(1, 1, "log", log("a"))] * 2)] == [1, 2]


def test_quarantine_keeps_records_out_of_pending_until_released(spool):
    r1 = spool.append(1, 1, "log", log("a"))
    spool.append(1, 1, "log", log("b"))
    spool.quarantine([r1], "400: refused")
    assert [r.seq for r in spool.pending(10, 1 << 20)] == [2]
    assert spool.counts() == {"pending": 1, "quarantined": 1}
    assert spool.release_quarantine() == 1
    assert [r.seq for r in spool.pending(10, 1 << 20)] == [1, 2]


def test_quarantined_stream_takes_later_records_too(spool):
    spool.append(1, 1, "log", log("a"))
    spool.append(2, 1, "log", log("other job"))
    assert spool.quarantine_stream(1, 1, "404: unknown") == 1
    spool.append(1, 1, "log", log("later"))
    assert [(r.job, r.seq) for r in spool.pending(10, 1 << 20)] == [(2, 1)]
    assert spool.counts()["quarantined"] == 2
    assert spool.quarantined_streams() == [{"job": 1, "attempt": 1, "reason": "404: unknown"}]
    spool.release_quarantine()
    assert spool.quarantined_streams() == []
    assert spool.counts() == {"pending": 3, "quarantined": 0}


def test_lease_refuses_stale_and_duplicate_launches(tmp_path):
    path = tmp_path / "spool.sqlite3"
    s = Spool(path)
    assert s.claim_launch(launch(5, 2))
    assert not s.claim_launch(launch(5, 2))  # the same launch again (R9)
    assert not s.claim_launch(launch(5, 1))  # an older attempt
    assert s.claim_launch(launch(6, 1))  # another job has its own lease
    s.close()
    s = Spool(path)  # the lease survives a restart
    assert not s.claim_launch(launch(5, 2))
    assert s.claim_launch(launch(5, 3))
    assert s.highest_attempt(5) == 3
    assert [(j.job_id, j.attempt, j.state) for j in s.active_jobs()] == [
        (5, 2, "accepted"),
        (6, 1, "accepted"),
        (5, 3, "accepted"),
    ]
    s.close()


def test_job_rows_follow_the_job_and_output_offsets_move_with_records(spool):
    assert spool.claim_launch(launch(1, 1, checkpoint={"step": 4}))
    assert spool.job(1, 1).launch["checkpoint"] == {"step": 4}
    running = spool.job_started(1, 1, pid=123, pgid=123, work_dir="/tmp/x")
    assert running.data == {"state": "running", "exit_code": None, "reason": ""}
    out = spool.job_output(1, 1, [("log", log("hello"))], stdout_offset=6, stderr_offset=0)
    assert [r.seq for r in out] == [2]
    row = spool.job(1, 1)
    assert (row.state, row.pid, row.stdout_offset) == ("running", 123, 6)
    assert spool.job_stop_requested(1, 1, "stopped by console")
    assert not spool.job_stop_requested(1, 1, "again")  # the first request stands
    end = spool.job_ended(1, 1, outcome="cancelled", exit_code=143, reason="stopped by console")
    assert end.seq == 3
    row = spool.job(1, 1)
    assert (row.state, row.outcome, row.exit_code) == ("ended", "cancelled", 143)
    assert spool.active_jobs() == []
