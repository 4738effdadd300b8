"""The agent's local spool: a SQLite file (WAL mode) in the work dir.

It holds three things, and each change is one transaction that is durable
(``synchronous=FULL``) before the agent treats it as done:

- ``records``: what the agent has produced and the console has not yet
  acknowledged. Each record belongs to a stream, a job attempt ``(job, attempt)``
  or the node's telemetry ``(None, 0)``, and gets its ``seq`` here, at append
  time: 1, 2, 3, ... per stream, never reused (the counter lives in ``streams``
  and survives acks and restarts; the node's stream starts at the spool's
  creation time in milliseconds instead of 1, see ``__init__``). Records leave
  the spool only by ``ack``. A record the console refuses for good is
  *quarantined*: kept, no longer sent, counted in the heartbeat, and retried
  after the agent restarts.
- ``leases``: the highest attempt ever seen per job. A launch whose attempt is not
  above it is stale or a duplicate and is refused (R9).
- ``jobs``: each launched attempt: state, pid/pgid, its folder, how far its output
  files were read (the offsets advance in the same transaction as the records
  made from those bytes, so a restarted agent resumes tailing exactly there), a
  pending stop request, and how it ended.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gpu_agent.spec import RECORD_TYPES, LaunchSpec, Record

NODE_STREAM = (None, 0)
_NODE_KEY = -1  # `job` of the node's stream in the tables (SQLite's NULLs are never equal)

# Job states in the spool. accepted: the lease is taken, the process not yet started.
ACCEPTED, RUNNING, ENDED = "accepted", "running", "ended"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    job INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    quarantined TEXT,
    PRIMARY KEY (job, attempt)
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    quarantined TEXT,
    UNIQUE (job, attempt, seq)
);
CREATE INDEX IF NOT EXISTS records_pending ON records (quarantined, id);
CREATE TABLE IF NOT EXISTS leases (
    job_id INTEGER PRIMARY KEY,
    attempt INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    kind TEXT NOT NULL,
    launch TEXT NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER,
    pgid INTEGER,
    work_dir TEXT,
    stdout_offset INTEGER NOT NULL DEFAULT 0,
    stderr_offset INTEGER NOT NULL DEFAULT 0,
    stop_requested_at REAL,
    stop_reason TEXT,
    accepted_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    outcome TEXT,
    reason TEXT,
    PRIMARY KEY (job_id, attempt)
);
"""


class SpoolError(ValueError):
    """A record that cannot be spooled (unknown type, data not JSON)."""


def record_json(record: Record) -> str:
    """The exact JSON text of one record in an ingest batch (its size is what counts)."""
    return json.dumps(asdict(record), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def batch_json(records: Iterable[Record]) -> bytes:
    return ('{"records":[' + ",".join(record_json(r) for r in records) + "]}").encode()


BATCH_OVERHEAD = len(batch_json([]))


@dataclass(kw_only=True)
class JobRow:
    job_id: int
    attempt: int
    kind: str
    launch: dict[str, Any]
    state: str
    pid: int | None
    pgid: int | None
    work_dir: str | None
    stdout_offset: int
    stderr_offset: int
    stop_requested_at: float | None
    stop_reason: str | None
    accepted_at: float
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    outcome: str | None
    reason: str | None


def _key(job: int | None) -> int:
    return _NODE_KEY if job is None else job


class Spool:
    """Thread-safe: one connection, one lock; every write is one IMMEDIATE transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.changed = threading.Event()  # set on every append (the uploader waits on it)
        self._db = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._tx() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            # The node's stream starts at the current time in ms, not at 1: the console
            # keeps the last telemetry seq it applied per node, and a new spool (a wiped
            # work dir) must not send seqs it would take for duplicates.
            db.execute(
                "INSERT INTO streams (job, attempt, last_seq) VALUES (?, 0, ?) "
                "ON CONFLICT DO NOTHING",
                (_NODE_KEY, int(time.time() * 1000)),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------ records

    def _append(
        self,
        db: sqlite3.Connection,
        job: int | None,
        attempt: int,
        type: str,
        data: dict[str, Any],
        at: float | None,
    ) -> Record:
        if type not in RECORD_TYPES:
            raise SpoolError(f"unknown record type {type!r}")
        if (job is None) != (type == "telemetry") or (job is None and attempt != 0):
            raise SpoolError("telemetry goes on the node stream (None, 0), the rest on a job's")
        key = _key(job)
        db.execute(
            "INSERT INTO streams (job, attempt) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (key, attempt),
        )
        seq, quarantined = db.execute(
            "UPDATE streams SET last_seq = last_seq + 1 WHERE job = ? AND attempt = ? "
            "RETURNING last_seq, quarantined",
            (key, attempt),
        ).fetchone()
        record = Record(
            job=job,
            attempt=attempt,
            seq=seq,
            type=type,
            at=time.time() if at is None else at,
            data=data,
        )
        try:
            body = record_json(record)
        except (TypeError, ValueError) as exc:
            raise SpoolError(f"record data is not JSON: {exc}") from exc
        db.execute(
            "INSERT INTO records (job, attempt, seq, type, body, size, quarantined) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, attempt, seq, type, body, len(body.encode()), quarantined),
        )
        return record

    def append(
        self,
        job: int | None,
        attempt: int,
        type: str,
        data: dict[str, Any],
        *,
        at: float | None = None,
    ) -> Record:
        """Add one record to its stream, durably; returns it with its seq."""
        with self._tx() as db:
            record = self._append(db, job, attempt, type, data, at)
        self.changed.set()
        return record

    def append_many(
        self, items: Iterable[tuple[int | None, int, str, dict[str, Any]]]
    ) -> list[Record]:
        """Several records in one transaction (all or none)."""
        with self._tx() as db:
            out = [self._append(db, job, att, type, data, None) for job, att, type, data in items]
        if out:
            self.changed.set()
        return out

    def pending(
        self,
        limit_records: int,
        limit_bytes: int,
        *,
        stream: tuple[int | None, int] | None = None,
    ) -> list[Record]:
        """The oldest records not yet acknowledged nor quarantined, in append order
        (so seq order within each stream), as many as fit in one ingest batch of at
        most ``limit_records`` records and ``limit_bytes`` bytes (at least one)."""
        sql = "SELECT body, size FROM records WHERE quarantined IS NULL"
        args: list[Any] = []
        if stream is not None:
            sql += " AND job = ? AND attempt = ?"
            args += [_key(stream[0]), stream[1]]
        sql += " ORDER BY id LIMIT ?"
        args.append(max(1, limit_records))
        out: list[Record] = []
        total = BATCH_OVERHEAD
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for body, size in rows:
            total += size + (1 if out else 0)
            if out and total > limit_bytes:
                break
            out.append(Record(**json.loads(body)))
        return out

    def ack(self, records: Iterable[Record]) -> int:
        """Forget records the console has acknowledged; returns how many were removed."""
        keys = [(_key(r.job), r.attempt, r.seq) for r in records]
        with self._tx() as db:
            before = db.total_changes
            db.executemany("DELETE FROM records WHERE job = ? AND attempt = ? AND seq = ?", keys)
            return db.total_changes - before

    def quarantine(self, records: Iterable[Record], reason: str) -> int:
        """Stop sending these records (the console refused them); keep them."""
        keys = [(reason, _key(r.job), r.attempt, r.seq) for r in records]
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                "UPDATE records SET quarantined = ? WHERE job = ? AND attempt = ? AND seq = ?",
                keys,
            )
            return db.total_changes - before

    def quarantine_stream(self, job: int | None, attempt: int, reason: str) -> int:
        """Stop sending a whole stream, including records appended to it from now on."""
        with self._tx() as db:
            key = _key(job)
            db.execute(
                "INSERT INTO streams (job, attempt, quarantined) VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET quarantined = excluded.quarantined",
                (key, attempt, reason),
            )
            return db.execute(
                "UPDATE records SET quarantined = ? WHERE job = ? AND attempt = ?",
                (reason, key, attempt),
            ).rowcount

    def release_quarantine(self) -> int:
        """Make every quarantined record pending again (at agent start: a console or
        agent upgrade may have fixed what was refused). Returns how many."""
        with self._tx() as db:
            db.execute("UPDATE streams SET quarantined = NULL WHERE quarantined IS NOT NULL")
            count = db.execute(
                "UPDATE records SET quarantined = NULL WHERE quarantined IS NOT NULL"
            ).rowcount
        if count:
            self.changed.set()
        return count

    def quarantined_streams(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT job, attempt, quarantined FROM streams WHERE quarantined IS NOT NULL"
            ).fetchall()
        return [
            {"job": None if j == _NODE_KEY else j, "attempt": a, "reason": r} for j, a, r in rows
        ]

    def counts(self) -> dict[str, int]:
        """{"pending": n, "quarantined": n} records in the spool."""
        with self._lock:
            pending, quarantined = self._db.execute(
                "SELECT COUNT(*) FILTER (WHERE quarantined IS NULL), "
                "COUNT(*) FILTER (WHERE quarantined IS NOT NULL) FROM records"
            ).fetchone()
        return {"pending": pending, "quarantined": quarantined}

    def records(self, job: int | None, attempt: int) -> list[Record]:
        """Every record of a stream still in the spool (pending or quarantined), by seq."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records WHERE job = ? AND attempt = ? ORDER BY seq",
                (_key(job), attempt),
            ).fetchall()
        return [Record(**json.loads(body)) for (body,) in rows]

    def last_seq(self, job: int | None, attempt: int) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT last_seq FROM streams WHERE job = ? AND attempt = ?",
                (_key(job), attempt),
            ).fetchone()
        return row[0] if row else 0

    # ------------------------------------------------------------ leases and jobs

    def highest_attempt(self, job_id: int) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT attempt FROM leases WHERE job_id = ?", (job_id,)
            ).fetchone()
        return row[0] if row else None

    def claim_launch(self, launch: LaunchSpec) -> bool:
        """Take the lease of a launch: True (and the job recorded as accepted) when its
        attempt is newer than any seen for that job; False for a stale or duplicate one."""
        payload = asdict(launch)
        with self._tx() as db:
            row = db.execute(
                "SELECT attempt FROM leases WHERE job_id = ?", (launch.job_id,)
            ).fetchone()
            if row is not None and launch.attempt <= row[0]:
                return False
            db.execute(
                "INSERT INTO leases (job_id, attempt) VALUES (?, ?) "
                "ON CONFLICT DO UPDATE SET attempt = excluded.attempt",
                (launch.job_id, launch.attempt),
            )
            db.execute(
                "INSERT INTO jobs (job_id, attempt, kind, launch, state, accepted_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    launch.job_id,
                    launch.attempt,
                    launch.kind,
                    json.dumps(payload, allow_nan=False),
                    ACCEPTED,
                    time.time(),
                ),
            )
        return True

    def job_started(
        self, job_id: int, attempt: int, *, pid: int, pgid: int, work_dir: str
    ) -> Record:
        """The process runs: record it and its "running" status record together."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, pid = ?, pgid = ?, work_dir = ?, started_at = ? "
                "WHERE job_id = ? AND attempt = ?",
                (RUNNING, pid, pgid, work_dir, time.time(), job_id, attempt),
            )
            record = self._append(
                db,
                job_id,
                attempt,
                "status",
                {"state": "running", "exit_code": None, "reason": ""},
                None,
            )
        self.changed.set()
        return record

    def job_output(
        self,
        job_id: int,
        attempt: int,
        items: list[tuple[str, dict[str, Any]]],
        *,
        stdout_offset: int,
        stderr_offset: int,
    ) -> list[Record]:
        """Records made from a job's output and how far the files were read, together."""
        with self._tx() as db:
            out = [self._append(db, job_id, attempt, t, d, None) for t, d in items]
            db.execute(
                "UPDATE jobs SET stdout_offset = ?, stderr_offset = ? "
                "WHERE job_id = ? AND attempt = ?",
                (stdout_offset, stderr_offset, job_id, attempt),
            )
        if out:
            self.changed.set()
        return out

    def job_stop_requested(self, job_id: int, attempt: int, reason: str) -> bool:
        """Note a stop request (kept across restarts); False when there is none to stop."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET stop_requested_at = ?, stop_reason = ? "
                "WHERE job_id = ? AND attempt = ? AND state != ? AND stop_requested_at IS NULL",
                (time.time(), reason, job_id, attempt, ENDED),
            )
            return cur.rowcount > 0

    def job_ended(
        self,
        job_id: int,
        attempt: int,
        *,
        outcome: str,
        exit_code: int | None,
        reason: str,
        items: Sequence[tuple[str, dict[str, Any]]] = (),
        stdout_offset: int | None = None,
        stderr_offset: int | None = None,
    ) -> Record:
        """The job is over: its last output records, then its final status record."""
        with self._tx() as db:
            for t, d in items:
                self._append(db, job_id, attempt, t, d, None)
            record = self._append(
                db,
                job_id,
                attempt,
                "status",
                {"state": outcome, "exit_code": exit_code, "reason": reason},
                None,
            )
            db.execute(
                "UPDATE jobs SET state = ?, ended_at = ?, exit_code = ?, outcome = ?, reason = ?, "
                "stdout_offset = COALESCE(?, stdout_offset), "
                "stderr_offset = COALESCE(?, stderr_offset) "
                "WHERE job_id = ? AND attempt = ?",
                (
                    ENDED,
                    time.time(),
                    exit_code,
                    outcome,
                    reason,
                    stdout_offset,
                    stderr_offset,
                    job_id,
                    attempt,
                ),
            )
        self.changed.set()
        return record

    def job(self, job_id: int, attempt: int) -> JobRow | None:
        rows = self._jobs("WHERE job_id = ? AND attempt = ?", (job_id, attempt))
        return rows[0] if rows else None

    def active_jobs(self) -> list[JobRow]:
        """Jobs accepted or running (not ended), oldest first."""
        return self._jobs("WHERE state != ? ORDER BY accepted_at", (ENDED,))

    def _jobs(self, where: str, args: tuple) -> list[JobRow]:
        names = [f for f in JobRow.__dataclass_fields__]
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(names)} FROM jobs {where}", args).fetchall()  # noqa: S608 - fixed column names
        out = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            values["launch"] = json.loads(values["launch"])
            out.append(JobRow(**values))
        return out


__all__ = [
    "ACCEPTED",
    "ENDED",
    "NODE_STREAM",
    "RUNNING",
    "JobRow",
    "Spool",
    "SpoolError",
    "batch_json",
    "record_json",
]
