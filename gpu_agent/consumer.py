"""Takes launches from the node's Celery queue ``node.<name>``.

The console sends the Celery task AGENT_LAUNCH_TASK with one argument, a LaunchSpec
as a dict. This is a plain kombu consumer of that queue (Celery's message format,
protocol 2 and 1, JSON): it needs no Celery worker machinery in the agent, and the
agent decides exactly when a message is acknowledged — after the launch is
durably in the spool (its lease taken, the job recorded as accepted), never later:
the message does not live as long as the job.

AGENT_STACKS_TASK asks for a running job's Python stacks (the console sends it when
the job's metrics stalled): the supervisor reads them in the background and sends
them as a "stacks" record; the message is acknowledged at once.

A launch whose attempt is not newer than the highest this node has seen for the
job is stale or a duplicate (R9): logged, acknowledged, nothing else. A launch
that is invalid but names its job and attempt is recorded as failed at once with
the reason (R10). A message that cannot be handled because the spool cannot be
written goes back to the queue.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from gpu_agent.backoff import backoff_delay
from gpu_agent.spec import (
    AGENT_LAUNCH_TASK,
    AGENT_STACKS_TASK,
    STACKS_REASON_CHARS,
    LaunchSpec,
    SpecError,
    spec_from_dict,
)
from gpu_agent.spool import Spool
from gpu_agent.supervisor import Supervisor

log = logging.getLogger("gpu_agent.consumer")

# handle() outcomes
LAUNCHED, REFUSED, FAILED, INVALID = "launched", "refused", "failed", "invalid"


class LaunchHandler:
    def __init__(self, spool: Spool, supervisor: Supervisor, node: str = "") -> None:
        self.spool = spool
        self.supervisor = supervisor
        self.node = node

    def handle(self, payload: Any) -> str:
        """Validate, fence, record and start one launch; returns what was done.
        Raises only when the spool cannot be written (then the message is requeued)."""
        if not isinstance(payload, dict):
            log.error("ignoring a launch that is not an object: %.200r", payload)
            return INVALID
        try:
            launch = spec_from_dict(LaunchSpec, payload)
        except SpecError as exc:
            return self._invalid(payload, str(exc))
        if launch.node and self.node and launch.node != self.node:
            log.error(
                "refusing job %s attempt %s: it is for node %r, this is %r",
                launch.job_id,
                launch.attempt,
                launch.node,
                self.node,
            )
            return REFUSED
        if not self.spool.claim_launch(launch):
            log.warning(
                "refusing job %s attempt %s: stale or duplicate (highest attempt seen: %s)",
                launch.job_id,
                launch.attempt,
                self.spool.highest_attempt(launch.job_id),
            )
            return REFUSED
        log.info(
            "launch accepted: job %s attempt %s (%s)", launch.job_id, launch.attempt, launch.kind
        )
        try:
            self.supervisor.launch(launch)
        except Exception as exc:  # the lease is taken: fail this attempt, do not retry it
            log.exception("job %s attempt %s: cannot start", launch.job_id, launch.attempt)
            self.spool.job_ended(
                launch.job_id,
                launch.attempt,
                outcome="failed",
                exit_code=None,
                reason=f"the agent could not start it: {type(exc).__name__}: {exc}",
            )
            return FAILED
        return LAUNCHED

    def stacks(self, payload: Any) -> bool:
        """Read a running job's stacks (AGENT_STACKS_TASK); False when it is not here."""
        if not isinstance(payload, dict):
            log.error("ignoring a stacks request that is not an object: %.200r", payload)
            return False
        job, attempt, reason = payload.get("job"), payload.get("attempt"), payload.get("reason")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (job, attempt)):
            log.error("ignoring a stacks request without job and attempt: %.200r", payload)
            return False
        reason = reason if isinstance(reason, str) and reason else "asked by the console"
        if not self.supervisor.capture_stacks(job, attempt, reason[:STACKS_REASON_CHARS]):
            log.info("stacks of job %s attempt %s: not running here", job, attempt)
            return False
        log.info("reading the stacks of job %s attempt %s: %s", job, attempt, reason)
        return True

    def _invalid(self, data: dict[str, Any], error: str) -> str:
        job_id, attempt = data.get("job_id"), data.get("attempt")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (job_id, attempt)):
            log.error("ignoring an invalid launch without job_id/attempt: %s", error)
            return INVALID
        stub = LaunchSpec(job_id=job_id, attempt=attempt, kind=str(data.get("kind", "")), spec={})
        if not self.spool.claim_launch(stub):
            log.warning("ignoring an invalid, stale launch of job %s attempt %s", job_id, attempt)
            return REFUSED
        reason = f"invalid launch: {error}"
        log.error("job %s attempt %s failed: %s", job_id, attempt, reason)
        self.spool.job_ended(job_id, attempt, outcome="failed", exit_code=None, reason=reason)
        return FAILED


def _task_and_args(body: Any, headers: dict[str, Any]) -> tuple[str | None, list[Any] | None]:
    if headers.get("task"):  # Celery message protocol 2: body is [args, kwargs, embed]
        args = body[0] if isinstance(body, list | tuple) and body else None
        return headers["task"], list(args) if isinstance(args, list | tuple) else None
    if isinstance(body, dict):  # protocol 1
        args = body.get("args")
        return body.get("task"), list(args) if isinstance(args, list | tuple) else None
    return None, None


def _expired(headers: dict[str, Any], body: Any) -> bool:
    expires = headers.get("expires") or (body.get("expires") if isinstance(body, dict) else None)
    if not expires:
        return False
    try:
        when = datetime.fromisoformat(str(expires))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when < datetime.now(UTC)


class QueueConsumer:
    """Consumes one queue until ``stop`` is set; reconnects with backoff."""

    def __init__(
        self,
        broker_url: str,
        transport_options: dict[str, Any],
        queue: str,
        handler: LaunchHandler,
        stop: threading.Event,
        *,
        drain_timeout: float = 0.5,
        backoff_cap: float = 10.0,
    ) -> None:
        self.broker_url = broker_url
        self.transport_options = dict(transport_options or {})
        self.queue_name = queue
        self.handler = handler
        self.stop = stop
        self.drain_timeout = drain_timeout
        self.backoff_cap = backoff_cap
        self.consuming = threading.Event()  # set while attached to the queue (for tests)

    def run(self) -> None:
        from kombu import Connection, Exchange, Queue

        queue = Queue(
            self.queue_name, Exchange(self.queue_name, type="direct"), routing_key=self.queue_name
        )
        failures = 0
        while not self.stop.is_set():
            try:
                with Connection(self.broker_url, transport_options=self.transport_options) as conn:
                    conn.ensure_connection(max_retries=1)
                    with conn.Consumer(
                        [queue],
                        callbacks=[self._on_message],
                        accept=["json"],
                        prefetch_count=1,
                        on_decode_error=self._on_decode_error,
                    ):
                        if failures:
                            log.info("broker reachable again; consuming %s", self.queue_name)
                        else:
                            log.info("consuming queue %s", self.queue_name)
                        failures = 0
                        self.consuming.set()
                        while not self.stop.is_set():
                            try:
                                conn.drain_events(timeout=self.drain_timeout)
                            except TimeoutError:
                                continue
            except Exception as exc:
                self.consuming.clear()
                failures += 1
                delay = backoff_delay(failures, base=0.5, cap=self.backoff_cap, max_doublings=8)
                log.warning(
                    "broker %s: %s: %s; retrying in %.0f s",
                    _safe_url(self.broker_url),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                self.stop.wait(delay)
        self.consuming.clear()

    def _on_decode_error(self, message: Any, exc: Exception) -> None:
        log.error("dropping a message on %s that cannot be decoded: %s", self.queue_name, exc)
        message.reject(requeue=False)

    def _on_message(self, body: Any, message: Any) -> None:
        headers = message.headers or {}
        task, args = _task_and_args(body, headers)
        if task == AGENT_STACKS_TASK and args and len(args) == 1 and not _expired(headers, body):
            try:
                self.handler.stacks(args[0])
            except Exception:
                log.exception("stacks request failed")
            message.ack()
            return
        if task != AGENT_LAUNCH_TASK:
            log.warning("dropping a message for task %r on %s", task, self.queue_name)
            message.ack()
            return
        if _expired(headers, body):
            log.warning("dropping an expired launch message (expires %s)", headers.get("expires"))
            message.ack()
            return
        if not args or len(args) != 1:
            log.error("dropping a launch message with %s arguments", len(args or []))
            message.ack()
            return
        try:
            self.handler.handle(args[0])
        except Exception:
            log.exception("cannot record the launch; it goes back to the queue")
            message.requeue()
            self.stop.wait(2.0)
            return
        message.ack()


def _safe_url(url: str) -> str:
    """The broker URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
