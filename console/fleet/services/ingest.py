"""The lossless ingest of an agent's validated record batch: per stream, records at
or below the last sequence number applied are duplicates; logs, metrics, progress,
checkpoints, stacks, a job attempt's status (its end), and the node's telemetry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.core.effects import effects
from console.core.errors import NotFound
from console.core.redact import failure_parts
from console.fleet.models import Allocation, Gpu, GpuSample, JobStream, Node, StackDump
from console.jobs.execution import LOG_TAIL_CHARS
from console.jobs.models import TERMINAL_STATES, Job, JobState
from console.jobs.services import job_requeue, job_transition
from console.metrics.services import Series, metric_series_append
from gpu_agent.spec import LOG_LINE_CAP, STACKS_TEXT_CHARS, STATUS_REASON_CHARS, Record


class UnknownStream(NotFound):
    def __init__(self, message: str, streams: list[tuple[int, int]]) -> None:
        super().__init__(message)
        self.streams = streams


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    points: int = 0
    stop: list[dict[str, int]] = field(default_factory=list)


def ingest_batch(*, node: Node, records: list[Record]) -> IngestResult:
    """Apply a validated batch atomically. Idempotent: per stream, a seq at or below
    the last one applied is a duplicate and is skipped. Order is by seq, never by
    the agent's clock."""
    result = IngestResult()
    streams: dict[tuple[int | None, int], list[Record]] = defaultdict(list)
    for record in records:
        streams[(record.job, record.attempt)].append(record)
    job_streams: dict[tuple[int, int], list[Record]] = {
        (job, attempt): recs for (job, attempt), recs in streams.items() if job is not None
    }
    allocations = _allocations_for(node, job_streams.keys())
    unknown = [key for key in job_streams if key not in allocations]
    if unknown:
        audit_record(
            action="ingest.unknown_stream",
            actor=None,
            obj=node,
            after={"streams": [list(k) for k in unknown[:20]]},
        )
        names = ", ".join(f"{j}#{a}" for j, a in unknown[:5])
        raise UnknownStream(f"no job attempt {names} on node {node.name}", unknown)
    with transaction.atomic():
        for key, recs in sorted(job_streams.items(), key=lambda kv: kv[0]):
            _ingest_job_stream(node, key[0], key[1], recs, result)
        if (None, 0) in streams:
            _ingest_telemetry(node, streams[(None, 0)], result)
    return result


def _allocations_for(node: Node, keys: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
    if not keys:
        return set()
    job_ids = {job for job, _ in keys}
    rows = Allocation.objects.filter(node=node, job_id__in=job_ids).values_list("job_id", "attempt")
    return set(rows)


def _ingest_job_stream(
    node: Node, job_id: int, attempt: int, recs: list[Record], result: IngestResult
) -> None:
    stream, _ = JobStream.objects.get_or_create(job_id=job_id, attempt=attempt, node=node)
    stream = JobStream.objects.select_for_update().get(pk=stream.pk)
    fresh = sorted((r for r in recs if r.seq > stream.last_seq), key=lambda r: r.seq)
    result.duplicates += len(recs) - len(fresh)
    if not fresh:
        return
    job = Job.objects.select_for_update().get(pk=job_id)
    same_attempt = job.attempt == attempt
    current = same_attempt and job.state not in TERMINAL_STATES | {JobState.PAUSED}
    # A paused job's attempt is told to stop, but what it sends while it stops (its
    # last metrics and the checkpoint it saves on the way out) is kept.
    stopping = same_attempt and job.state == JobState.PAUSED
    last = fresh[-1].seq
    JobStream.objects.filter(pk=stream.pk).update(
        last_seq=last, records=stream.records + len(fresh)
    )
    result.accepted += len(fresh)
    if not current:
        # A newer attempt owns the job, or it was cancelled/paused: tell the agent to stop.
        result.stop.append({"job": job_id, "attempt": attempt})
        if not stopping:
            return
    series: Series = {}
    lines: list[str] = []
    dumps: list[StackDump] = []
    updates: dict[str, Any] = {}
    final: Record | None = None
    for record in fresh:
        if record.type == "metric":
            step = record.data["step"]
            for name, value in record.data["values"].items():
                steps_values = series.get((job_id, attempt, name))
                if steps_values is None:
                    steps_values = series[(job_id, attempt, name)] = ([], [])
                steps_values[0].append(step)
                steps_values[1].append(value)
        elif record.type == "log":
            stamp = datetime.fromtimestamp(record.at, tz=UTC).strftime("%H:%M:%S")
            lines.append(f"{stamp} {record.data['line'][:LOG_LINE_CAP]}")
        elif record.type == "progress":
            updates["progress"] = max(0, min(100, int(record.data["percent"])))
            if current:  # a paused job's last words keep its "paused" line
                updates["progress_message"] = str(record.data.get("message", ""))[:300]
            if isinstance(record.data.get("checkpoint"), dict):
                updates["checkpoint"] = record.data["checkpoint"]
                for effect in effects("checkpoint"):
                    effect(job_id, record.data["checkpoint"])
        elif record.type == "stacks":
            dumps.append(_stack_dump(job_id, attempt, node, record))
            stamp = datetime.fromtimestamp(record.at, tz=UTC).strftime("%H:%M:%S")
            lines.append(
                f"{stamp} forge: the stacks of {len(dumps[-1].processes)} process(es) were "
                f"read ({dumps[-1].reason[:300]}); see the run's Stacks panel"
            )
        elif record.type == "status" and current:
            if record.data["state"] == "running":
                job_transition(
                    job_id=job_id,
                    to=JobState.RUNNING,
                    expect=[JobState.DISPATCHED],
                    attempt=attempt,
                    progress_message=f"running on {node.name}",
                )
            else:
                final = record
    if series:
        result.points += metric_series_append(series)
        if on_metrics := effects("metrics"):
            by_name = {name: steps_values for (_, _, name), steps_values in series.items()}
            for effect in on_metrics:
                effect(job_id, attempt, by_name)
    if dumps:
        StackDump.objects.bulk_create(dumps)
    if lines:
        updates["log_tail"] = (job.log_tail + "\n".join(lines) + "\n")[-LOG_TAIL_CHARS:]
    updates["heartbeat_at"] = timezone.now()
    Job.objects.filter(pk=job_id, attempt=attempt).update(**updates)
    if final is not None:
        _finish(job_id, attempt, final, node)


def _stack_dump(job_id: int, attempt: int, node: Node, record: Record) -> StackDump:
    at = min(datetime.fromtimestamp(record.at, tz=UTC), timezone.now())
    return StackDump(
        job_id=job_id,
        attempt=attempt,
        node=node,
        captured_at=at,
        reason=record.data["reason"][:1000],
        processes=[
            {
                "pid": proc["pid"],
                "label": proc["label"][:100],
                "method": str(proc.get("method", ""))[:20],
                "text": proc["text"][:STACKS_TEXT_CHARS],
            }
            for proc in record.data["processes"]
        ],
    )


def _finish(job_id: int, attempt: int, record: Record, node: Node) -> None:
    """A node's launch of the current attempt ended. On one node that ends the attempt.
    In a multi-node group any failure ends it at once (the other nodes are then told
    to stop by their heartbeats), and success needs every node's."""
    state = record.data["state"]
    # The agent reports a crashed rank's traceback as the reason: the job's error is its
    # message (one line), the whole traceback goes to the job's log.
    reason, trace = failure_parts(str(record.data.get("reason", "")))
    reason = reason[:STATUS_REASON_CHARS]
    if trace:
        tail = Job.objects.filter(pk=job_id).values_list("log_tail", flat=True).first() or ""
        Job.objects.filter(pk=job_id, attempt=attempt).update(
            log_tail=(f"{tail}{node.name}: the failure's traceback:\n{trace}\n")[-LOG_TAIL_CHARS:]
        )
    group = Allocation.objects.filter(job_id=job_id, attempt=attempt)
    multi = group.count() > 1
    group.filter(node=node).update(outcome=state)
    if multi and reason:
        reason = f"node {node.name}: {reason}"
    if state == "succeeded":
        if multi and group.exclude(outcome="succeeded").exists():
            waiting = group.exclude(outcome="succeeded").values_list("node__name", flat=True)
            Job.objects.filter(pk=job_id, attempt=attempt).update(
                progress_message=f"{node.name} done; waiting for {', '.join(waiting)}"[:300]
            )
            return
        job_transition(
            job_id=job_id,
            to=JobState.SUCCEEDED,
            attempt=attempt,
            expect=[JobState.RUNNING, JobState.DISPATCHED],
            progress=100,
            progress_message="done",
            result={
                "exit_code": record.data.get("exit_code"),
                "node": node.name,
                **({"nodes": list(group.values_list("node__name", flat=True))} if multi else {}),
            },
        )
    elif state == "failed":
        job_transition(
            job_id=job_id,
            to=JobState.FAILED,
            attempt=attempt,
            expect=[JobState.RUNNING, JobState.DISPATCHED],
            reason=reason or f"exit code {record.data.get('exit_code')}",
        )
    elif state == "interrupted":
        job_requeue(job_id=job_id, attempt=attempt, reason=reason or f"interrupted on {node.name}")
    elif state == "cancelled":
        job_transition(
            job_id=job_id,
            to=JobState.CANCELLED,
            attempt=attempt,
            expect=[JobState.RUNNING, JobState.DISPATCHED],
            reason=reason or "stopped by agent",
        )


def _ingest_telemetry(node: Node, recs: list[Record], result: IngestResult) -> None:
    current = Node.objects.select_for_update().get(pk=node.pk)
    fresh = sorted((r for r in recs if r.seq > current.telemetry_seq), key=lambda r: r.seq)
    result.duplicates += len(recs) - len(fresh)
    if not fresh:
        return
    gpus = {gpu.index: gpu for gpu in Gpu.objects.filter(node=node)}
    samples: list[GpuSample] = []
    latest: dict[int, tuple[dict[str, Any], datetime]] = {}
    now = timezone.now()
    for record in fresh:
        # The agent's clock may be off: keep its spacing, but never store a future time.
        at = min(datetime.fromtimestamp(record.at, tz=UTC), now)
        for g in record.data["gpus"]:
            gpu = gpus.get(g["index"])
            if gpu is None:
                continue
            util = float(g.get("util") or 0)
            samples.append(
                GpuSample(
                    gpu=gpu,
                    at=at,
                    util=util,
                    util_max=util,
                    mem_used_mib=float(g.get("mem_used_mib") or 0),
                    power_w=float(g.get("power_w") or 0),
                    temp_c=float(g.get("temp_c") or 0),
                )
            )
            latest[g["index"]] = (g, at)
    GpuSample.objects.bulk_create(samples, batch_size=2000)
    for index, (g, at) in latest.items():
        Gpu.objects.filter(node=node, index=index).update(
            util=g.get("util"),
            mem_used_mib=g.get("mem_used_mib"),
            power_w=g.get("power_w"),
            temp_c=g.get("temp_c"),
            sampled_at=at,
        )
    Node.objects.filter(pk=node.pk).update(telemetry_seq=fresh[-1].seq)
    result.accepted += len(fresh)
