"""Sends the spool to the console in batches: POST /api/agent/v1/ingest.

A batch is the oldest pending records (across streams; seq order within one),
at most MAX_BATCH_RECORDS records and MAX_BATCH_BYTES bytes of JSON. Records
leave the spool only when the console answers 2xx (ingest is idempotent by
(job, attempt, seq), so a batch sent twice after a lost reply counts once).

What each reply does:

- 2xx: acknowledge (delete) the batch; jobs listed in ``stop`` are stopped.
- no reply, timeout, 5xx, 429: keep everything, back off exponentially (capped
  at ``backoff_cap``), retry forever. Jobs keep running (R5).
- 401/403: the token is refused (revoked?): log loudly, back off (``auth_backoff_cap``).
- 400 (the batch is refused as a whole): the records the reply's ``errors`` name
  by ``index`` are quarantined (kept in the spool, no longer sent, counted in the
  heartbeat, retried when the agent restarts) and the rest is sent again. A 400
  naming no record makes the next batch half as large, down to one record, which
  is quarantined if refused: a bad record is isolated in a few requests, the
  streams behind it keep flowing, nothing is dropped and nothing spins.
- 404 (unknown job/attempt for this node): the stream(s) the reply names in
  ``unknown`` (else the batch's only stream, else: the next batch carries the
  first stream alone, to find out) are quarantined, including later records.
- 413: the batch was too large for the console: halve it (and never grow past
  that size again); a single record refused so is quarantined.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpu_agent.backoff import backoff_delay, jittered
from gpu_agent.console import ConsoleClient, ConsoleUnavailable
from gpu_agent.spec import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, Record
from gpu_agent.spool import Spool, batch_json

log = logging.getLogger("gpu_agent.uploader")

StopCallback = Callable[[int, int], object]

# step() outcomes
IDLE, SENT, RETRY, AUTH, REJECTED = "idle", "sent", "retry", "auth", "rejected"


def _streams(batch: list[Record]) -> list[tuple[int | None, int]]:
    return list(dict.fromkeys((r.job, r.attempt) for r in batch))


class Uploader:
    def __init__(
        self,
        spool: Spool,
        client: ConsoleClient,
        *,
        on_stop: StopCallback | None = None,
        max_records: int = MAX_BATCH_RECORDS,
        max_bytes: int = MAX_BATCH_BYTES,
        linger: float = 0.2,
        idle_wait: float = 1.0,
        backoff_cap: float = 10.0,
        auth_backoff_cap: float = 60.0,
        reject_pause: float = 0.2,
    ) -> None:
        self.spool = spool
        self.client = client
        self.on_stop = on_stop
        self.max_records = min(max_records, MAX_BATCH_RECORDS)  # lowered by a 413
        self.max_bytes = min(max_bytes, MAX_BATCH_BYTES)
        self.limit_records = self.max_records  # lowered for a while to isolate a 400
        self.limit_bytes = self.max_bytes
        self.linger = linger
        self.idle_wait = idle_wait
        self.backoff_cap = backoff_cap
        self.auth_backoff_cap = auth_backoff_cap
        self.reject_pause = reject_pause
        self.failures = 0
        self.last_error = ""
        self.sent_batches = 0
        self._narrow: tuple[int | None, int] | None = None
        self._last_full = False
        self._down_since: float | None = None
        self._last_loud = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ thread

    def start(self) -> Uploader:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()
        return self

    def stop(self, flush_timeout: float = 0.0) -> bool:
        """Stop the thread, then try for up to flush_timeout seconds to send what is left.
        Returns True when the spool has nothing pending."""
        self._stop.set()
        self.spool.changed.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, flush_timeout))
            if self._thread.is_alive():  # stuck in a request to a hung console: let it be
                log.warning("uploader still waiting on the console; not flushing")
                return False
            self._thread = None
        return self.flush(flush_timeout) if flush_timeout > 0 else not self.pending_count()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self.step()
            except Exception:
                log.exception("uploader step failed")
                outcome = RETRY
                self.failures += 1
            if outcome == IDLE:
                self.spool.changed.wait(self.idle_wait)
                self._stop.wait(self.linger)  # let a few more records join the batch
            elif outcome == SENT and not self._last_full:
                self._stop.wait(self.linger)  # caught up: no request per record
            elif outcome in (RETRY, AUTH):
                self._stop.wait(self.backoff(outcome))
            elif outcome == REJECTED:
                self._stop.wait(self.reject_pause)

    def backoff(self, outcome: str = RETRY) -> float:
        cap = self.auth_backoff_cap if outcome == AUTH else self.backoff_cap
        return jittered(backoff_delay(self.failures, base=0.25, cap=cap), low=0.5)

    def flush(self, timeout: float) -> bool:
        """Send until nothing is pending or timeout passes (used at shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            outcome = self.step(http_timeout=max(0.5, min(left, 10.0)))
            if outcome == IDLE:
                return True
            if outcome != SENT:
                time.sleep(min(self.backoff(outcome), max(0.0, deadline - time.monotonic())))
        return not self.pending_count()

    def pending_count(self) -> int:
        return self.spool.counts()["pending"]

    def status(self) -> dict[str, Any]:
        """What the heartbeat reports about the spool."""
        counts = self.spool.counts()
        return {
            "pending": counts["pending"],
            "quarantined": counts["quarantined"],
            "quarantined_streams": self.spool.quarantined_streams()[:20],
            "last_error": self.last_error,
        }

    # ------------------------------------------------------------ one batch

    def step(self, http_timeout: float | None = None) -> str:
        """Send one batch and act on the reply; returns what happened."""
        self.spool.changed.clear()
        batch = self.spool.pending(self.limit_records, self.limit_bytes, stream=self._narrow)
        if not batch:
            if self._narrow is not None:
                self._narrow = None
                return SENT  # nothing left of that stream: back to whole batches
            return IDLE
        body = batch_json(batch)
        self._last_full = len(batch) >= self.limit_records or 2 * len(body) >= self.limit_bytes
        try:
            result = self.client.ingest(body, timeout=http_timeout)
        except ConsoleUnavailable as exc:
            self._unavailable(str(exc), len(batch))
            return RETRY
        status, reply = result.status, result.body
        if 200 <= status < 300:
            self._sent(batch, reply)
            return SENT
        detail = result.detail
        self.last_error = f"HTTP {status}: {detail}"
        if status in (400, 422):
            self._bad_batch(batch, reply, detail)
            return REJECTED
        if status == 404:
            self._unknown_stream(batch, reply, detail)
            return REJECTED
        if status == 413:
            self._too_large(batch, len(body))
            return REJECTED
        self.failures += 1
        if status in (401, 403):
            self._loud(
                f"the console refuses this node's token (HTTP {status}: {detail}); "
                f"{self.pending_count()} records wait in the spool. Check FORGE_NODE_TOKEN."
            )
            return AUTH
        self._unavailable(f"HTTP {status}: {detail}", len(batch))
        return RETRY

    def _sent(self, batch: list[Record], reply: Any) -> None:
        self.spool.ack(batch)
        self.sent_batches += 1
        if self._down_since is not None:
            log.info(
                "console reachable again after %.0f s; %d records still to send",
                time.monotonic() - self._down_since,
                self.pending_count(),
            )
            self._down_since = None
        self.failures = 0
        self.last_error = ""
        self._narrow = None
        self.limit_records = min(self.max_records, self.limit_records * 2)
        self.limit_bytes = min(self.max_bytes, self.limit_bytes * 2)
        stops = reply.get("stop") if isinstance(reply, dict) else None
        for item in stops or []:
            try:
                job, attempt = int(item["job"]), int(item["attempt"])
            except (TypeError, KeyError, ValueError):
                log.warning("ingest reply: bad stop entry %r", item)
                continue
            if self.on_stop is not None:
                self.on_stop(job, attempt)

    def _unavailable(self, why: str, count: int) -> None:
        self.failures += 1
        self.last_error = why
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            self._last_loud = now
            log.warning("console unavailable (%s): keeping records in the spool, retrying", why)
        elif now - self._last_loud >= 60:
            self._last_loud = now
            log.warning(
                "console unavailable for %.0f s (%s); %d records wait in the spool",
                now - self._down_since,
                why,
                self.pending_count(),
            )

    def _loud(self, message: str) -> None:
        now = time.monotonic()
        if self.failures <= 1 or now - self._last_loud >= 60:
            self._last_loud = now
            log.error(message)

    def _bad_batch(self, batch: list[Record], reply: Any, detail: str) -> None:
        errors = reply.get("errors") if isinstance(reply, dict) else None
        named: dict[int, str] = {}
        for error in errors if isinstance(errors, list) else []:
            if not isinstance(error, dict):
                continue
            index = error.get("index")
            if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(batch):
                named[index] = str(error.get("error") or detail)[:500]
        if named:
            for index, message in sorted(named.items()):
                record = batch[index]
                self.spool.quarantine([record], f"400: {message}")
                log.error(
                    "console refused record job=%s attempt=%s seq=%s type=%s: %s "
                    "(quarantined in the spool)",
                    record.job,
                    record.attempt,
                    record.seq,
                    record.type,
                    message,
                )
            return
        if len(batch) == 1:
            record = batch[0]
            self.spool.quarantine(batch, f"400: {detail}"[:500])
            log.error(
                "console refused record job=%s attempt=%s seq=%s type=%s: %s "
                "(quarantined in the spool)",
                record.job,
                record.attempt,
                record.seq,
                record.type,
                detail,
            )
            return
        self.limit_records = max(1, len(batch) // 2)
        log.warning(
            "console refused a batch of %d records without naming one (%s); "
            "retrying in smaller batches to isolate it",
            len(batch),
            detail,
        )

    def _unknown_stream(self, batch: list[Record], reply: Any, detail: str) -> None:
        streams = _streams(batch)
        named = []
        unknown = reply.get("unknown") if isinstance(reply, dict) else None
        for item in unknown if isinstance(unknown, list) else []:
            if isinstance(item, dict):
                key = (item.get("job"), item.get("attempt"))
                if key in streams:
                    named.append(key)
        if not named and len(streams) == 1:
            named = streams
        if not named:
            self._narrow = streams[0]
            log.warning(
                "console does not know a job of this batch (%s); sending one stream at a time",
                detail,
            )
            return
        for job, attempt in named:
            count = self.spool.quarantine_stream(job, attempt, f"404: {detail}"[:500])
            log.error(
                "console does not know job %s attempt %s on this node (%s): its %d records "
                "are quarantined in the spool (and any that follow)",
                job,
                attempt,
                detail,
                count,
            )
        self._narrow = None

    def _too_large(self, batch: list[Record], size: int) -> None:
        if len(batch) == 1:
            record = batch[0]
            self.spool.quarantine(batch, f"413: a single record of {size} bytes is too large")
            log.error(
                "console refused record job=%s attempt=%s seq=%s as too large (%d bytes); "
                "quarantined in the spool",
                record.job,
                record.attempt,
                record.seq,
                size,
            )
            return
        self.max_records = self.limit_records = max(1, len(batch) // 2)
        self.max_bytes = self.limit_bytes = max(1024, size // 2)
        log.warning(
            "console says a batch of %d records / %d bytes is too large; now at most %d / %d",
            len(batch),
            size,
            self.max_records,
            self.max_bytes,
        )
