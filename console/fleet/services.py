"""Fleet writes: nodes and their tokens, registration, heartbeats, the lossless
ingest of agents' record streams, node liveness, telemetry compaction."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.accounts.roles import Cap, has_cap
from console.audit.services import audit_record
from console.core.effects import effects
from console.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from console.core.redact import failure_parts
from console.fleet.models import (
    POWER_CAP_MAX_WATTS,
    POWER_CAP_MIN_WATTS,
    AllocatedGpu,
    Allocation,
    Gpu,
    GpuSample,
    JobStream,
    Node,
    NodeToken,
    StackDump,
)
from console.fleet.selectors import node_power_policy
from console.jobs.models import TERMINAL_STATES, Job, JobState
from console.metrics.services import Series, metric_series_append
from gpu_agent.power import PowerHeartbeatReply
from gpu_agent.spec import (
    AGENT_STACKS_TASK,
    MAX_BATCH_RECORDS,
    RECORD_TYPES,
    Record,
    RegisterReply,
    SpecError,
    spec_from_dict,
)

log = logging.getLogger(__name__)
NODE_TOKEN_PREFIX = "fn_"
LOG_TAIL_CHARS = 16_000
STACKS_MAX_PROCESSES = 64  # processes in one stacks record (gpu_agent.stacks.MAX_PROCESSES)
STACKS_TEXT_CHARS = 16 * 1024  # characters of one process's stack kept


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# ------------------------------------------------------------------ nodes and tokens


@dataclass(frozen=True)
class IssuedNodeToken:
    node: Node
    token: NodeToken
    key: str  # shown once


@transaction.atomic
def node_create(*, actor: Any, name: str) -> IssuedNodeToken:
    if Node.objects.filter(name=name).exists():
        raise Conflict(f"A node named {name!r} already exists.")
    node = Node.objects.create(name=name)
    audit_record(action="node.create", actor=actor, obj=node, after={"name": name})
    return node_token_issue(actor=actor, node=node)


@transaction.atomic
def node_token_issue(*, actor: Any, node: Node, revoke_others: bool = True) -> IssuedNodeToken:
    """A new token for the node; by default the node's older tokens stop working."""
    if revoke_others:
        node.tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    key = NODE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    user = actor if getattr(actor, "is_authenticated", False) else None
    token = NodeToken.objects.create(
        node=node, prefix=key[:10], key_hash=_hash(key), created_by=user
    )
    audit_record(action="node.token_issue", actor=actor, obj=node, after={"prefix": token.prefix})
    return IssuedNodeToken(node=node, token=token, key=key)


@transaction.atomic
def node_token_revoke(*, actor: Any, node: Node) -> int:
    count = node.tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(action="node.token_revoke", actor=actor, obj=node, after={"revoked": count})
    return count


@transaction.atomic
def node_set_enabled(*, actor: Any, node: Node, enabled: bool) -> Node:
    if node.enabled != enabled:
        Node.objects.filter(pk=node.pk).update(enabled=enabled)
        audit_record(
            action="node.enable" if enabled else "node.disable",
            actor=actor,
            obj=node,
            before={"enabled": node.enabled},
            after={"enabled": enabled},
        )
        node.enabled = enabled
    return node


# ------------------------------------------------------------------ power policy and prices

POWER_FIELDS = ("power_cap_mode", "power_cap_watts")
PRICE_FIELDS = ("cpu_power_watts", "price_tier", "price_on_demand", "price_spot", "price_reserved")
NODE_SETTINGS_FIELDS = POWER_FIELDS + PRICE_FIELDS


def node_settings_allowed(actor: Any) -> bool:
    """Power policy and prices: admins, and staff users allowed to change nodes."""
    if not getattr(actor, "is_authenticated", False):
        return False
    if has_cap(actor, Cap.ADMIN):
        return True
    return bool(getattr(actor, "is_staff", False) and actor.has_perm("fleet.change_node"))


def node_power_policy_check(*, mode: Any, watts: Any) -> None:
    """Raise InvalidInput unless (mode, watts) is a policy the agent can apply."""
    if mode not in Node.PowerCapMode.values:
        raise InvalidInput(f"power_cap_mode must be one of {', '.join(Node.PowerCapMode.values)}.")
    if watts is not None and (
        not isinstance(watts, int)
        or isinstance(watts, bool)
        or not POWER_CAP_MIN_WATTS <= watts <= POWER_CAP_MAX_WATTS
    ):
        raise InvalidInput(
            f"power_cap_watts must be a whole number of watts from {POWER_CAP_MIN_WATTS} "
            f"to {POWER_CAP_MAX_WATTS} (per GPU)."
        )
    if mode != Node.PowerCapMode.OFF and watts is None:
        label = Node.PowerCapMode(mode).label
        raise InvalidInput(f"Power cap mode {label!r} needs power_cap_watts (per GPU).")


def _price(name: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{name} must be a number.") from None
    if not price.is_finite() or price < 0 or price >= Decimal("1e8"):
        raise InvalidInput(f"{name} must be from 0 to 99999999.")
    return price.quantize(Decimal("0.0001"))


def _settings_clean(values: dict[str, Any]) -> dict[str, Any]:
    node_power_policy_check(mode=values["power_cap_mode"], watts=values["power_cap_watts"])
    if values["price_tier"] not in Node.PriceTier.values:
        raise InvalidInput(f"price_tier must be one of {', '.join(Node.PriceTier.values)}.")
    for name in ("price_on_demand", "price_spot", "price_reserved"):
        values[name] = _price(name, values[name])
    watts = values["cpu_power_watts"]
    if watts is not None:
        if not isinstance(watts, int | float) or isinstance(watts, bool):
            raise InvalidInput("cpu_power_watts must be a number of watts.")
        if not 0 <= watts <= 100_000:
            raise InvalidInput("cpu_power_watts must be from 0 to 100000 W.")
        values["cpu_power_watts"] = float(watts)
    return values


def node_settings_update(*, actor: Any, node: Node, **changes: Any) -> Node:
    """Change a node's power policy (power_cap_mode, power_cap_watts) and power model
    and prices (cpu_power_watts, price_tier, price_*). Admins only; audit-logged as
    node.power_policy and node.pricing. The agent gets a new policy with its next
    heartbeat reply."""
    unknown = sorted(set(changes) - set(NODE_SETTINGS_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown node settings: {', '.join(unknown)}.")
    if not node_settings_allowed(actor):
        audit_record(
            action="node.settings_refused",
            actor=actor,
            obj=node,
            after={"fields": sorted(changes)},
        )
        raise Forbidden("Only an admin may change a node's power policy or prices.")
    with transaction.atomic():
        current = Node.objects.select_for_update().get(pk=node.pk)
        before = {name: getattr(current, name) for name in NODE_SETTINGS_FIELDS}
        values = _settings_clean({**before, **changes})
        changed = [name for name in NODE_SETTINGS_FIELDS if values[name] != before[name]]
        if changed:
            Node.objects.filter(pk=node.pk).update(**{name: values[name] for name in changed})
        for action, fields in (("node.power_policy", POWER_FIELDS), ("node.pricing", PRICE_FIELDS)):
            names = [name for name in fields if name in changed]
            if names:
                audit_record(
                    action=action,
                    actor=actor,
                    obj=current,
                    before={name: _jsonable(before[name]) for name in names},
                    after={name: _jsonable(values[name]) for name in names},
                )
    for name in NODE_SETTINGS_FIELDS:
        setattr(node, name, values[name])
    return node


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


_REPORT_GPU_NUMBERS = (
    "current_limit_w",
    "previous_limit_w",
    "default_limit_w",
    "min_w",
    "max_w",
    "target_w",
)
_REPORT_ACTIONS = frozenset(("none", "would_set", "set", "restored", "error"))


def _power_report_clean(raw: dict[str, Any]) -> dict[str, Any]:
    """What the agent reported, bounded: known keys, numbers in range, short texts."""
    mode = raw.get("mode")
    watts = raw.get("watts")
    report: dict[str, Any] = {
        "mode": mode if mode in Node.PowerCapMode.values else "",
        "watts": int(watts) if _number_or_none(watts, 0, 100_000) is not None else None,
        "error": str(raw.get("error") or "")[:300],
        "gpus": {},
    }
    gpus = raw.get("gpus")
    if isinstance(gpus, dict):
        for index, g in list(gpus.items())[:64]:
            if not str(index).isdigit() or not isinstance(g, dict):
                continue
            entry: dict[str, Any] = {
                key: _number_or_none(g.get(key), 0, 100_000) for key in _REPORT_GPU_NUMBERS
            }
            action = g.get("action")
            entry["action"] = action if action in _REPORT_ACTIONS else "none"
            entry["error"] = str(g.get("error") or "")[:300]
            report["gpus"][str(int(index))] = entry
    return report


def node_token_authenticate(*, key: str) -> NodeToken | None:
    token = NodeToken.objects.select_related("node").filter(key_hash=_hash(key)).first()
    if token is None or token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        NodeToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# ------------------------------------------------------------------ agent calls


def _broker_for_agents() -> tuple[str, dict[str, Any]]:
    url = getattr(settings, "FORGE_AGENT_BROKER_URL", "") or settings.CELERY_BROKER_URL
    return url, dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)


@transaction.atomic
def node_register(*, node: Node, inventory: dict[str, Any], agent_version: str) -> RegisterReply:
    """The agent says hello: record its inventory and tell it where its queue is."""
    node = Node.objects.select_for_update().get(pk=node.pk)
    before = {"status": node.status, "gpus": node.gpus.filter(present=True).count()}
    now = timezone.now()
    node.hostname = str(inventory.get("hostname", ""))[:255]
    node.address = str(inventory.get("address") or node.hostname)[:255]
    node.cpu_count = int(inventory.get("cpu_count") or 0)
    node.memory_mib = int(inventory.get("memory_mib") or 0)
    node.platform = str(inventory.get("platform", ""))[:255]
    node.nvml_error = str(inventory.get("nvml_error", ""))[:255]
    node.agent_version = agent_version[:32]
    node.registered_at = node.last_heartbeat_at = now
    node.status = Node.Status.ONLINE
    node.offline_since = None
    node.save()
    seen = []
    for gpu in inventory.get("gpus") or []:
        obj, _ = Gpu.objects.update_or_create(
            node=node,
            index=int(gpu["index"]),
            defaults={
                "model": str(gpu.get("model", ""))[:128],
                "memory_mib": int(gpu.get("memory_mib") or 0),
                "driver": str(gpu.get("driver", ""))[:64],
                "present": True,
            },
        )
        seen.append(obj.pk)
    node.gpus.exclude(pk__in=seen).update(present=False)
    audit_record(
        action="node.register",
        actor=None,
        obj=node,
        before=before,
        after={
            "status": node.status,
            "gpus": len(seen),
            "hostname": node.hostname,
            "agent_version": node.agent_version,
        },
    )
    url, options = _broker_for_agents()
    return RegisterReply(
        node=node.name,
        queue=node.queue,
        heartbeat_seconds=float(settings.FORGE_NODE_HEARTBEAT_SECONDS),
        broker_url=url,
        broker_transport_options=options,
        storage_roots=storage_roots(),
    )


def storage_roots() -> list[str]:
    """The folders jobs' specs may name on a node: the console's storage (a node sees it
    at the same paths, shared storage on a multi-node fleet)."""
    folders = (settings.FORGE_DATA_DIR, settings.FORGE_RUNS_DIR, settings.FORGE_MODELS_DIR)
    return list(dict.fromkeys(str(folder) for folder in folders))


def _number_or_none(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    return None


def node_heartbeat(
    *,
    node: Node,
    running: list[dict[str, int]],
    host: dict[str, Any] | None = None,
    spool: dict[str, Any] | None = None,
    power: dict[str, Any] | None = None,
) -> PowerHeartbeatReply:
    """Mark the node alive; keep its reported jobs alive; say which ones must stop;
    store the agent's power report (``power``, when sent) and give it the power policy."""
    now = timezone.now()
    with transaction.atomic():
        current = Node.objects.select_for_update().get(pk=node.pk)
        if current.status != Node.Status.ONLINE:
            audit_record(
                action="node.online",
                actor=None,
                obj=current,
                before={"status": current.status},
                after={"status": "online"},
            )
        host, spool = host or {}, spool or {}
        mem = _number_or_none(host.get("mem_used_mib"), 0, 2**50)
        Node.objects.filter(pk=node.pk).update(
            last_heartbeat_at=now,
            status=Node.Status.ONLINE,
            offline_since=None,
            cpu_util=_number_or_none(host.get("cpu_util"), 0, 100),
            mem_used_mib=int(mem) if mem is not None else None,
            spool_pending=int(_number_or_none(spool.get("pending"), 0, 2**31) or 0),
            spool_quarantined=int(_number_or_none(spool.get("quarantined"), 0, 2**31) or 0),
            **(
                {"power_cap_report": _power_report_clean(power), "power_cap_reported_at": now}
                if isinstance(power, dict)
                else {}
            ),
        )
        stop = []
        for item in running:
            job_id, attempt = int(item.get("job", 0)), int(item.get("attempt", 0))
            alive = Job.objects.filter(
                pk=job_id,
                attempt=attempt,
                state__in=[JobState.DISPATCHED, JobState.RUNNING],
                allocations__node=node,
                allocations__attempt=attempt,
            ).update(heartbeat_at=now)
            if not alive:
                stop.append({"job": job_id, "attempt": attempt})
    return PowerHeartbeatReply(
        status=Node.Status.ONLINE, stop=stop, power=node_power_policy(current)
    )


def allocation_release_for_job(job_id: int) -> None:
    """Hook: a job left dispatched/running, so its GPUs are free again."""
    now = timezone.now()
    active = Allocation.objects.filter(job_id=job_id, released_at__isnull=True)
    AllocatedGpu.objects.filter(allocation__in=active, active=True).update(active=False)
    active.update(released_at=now)


# ------------------------------------------------------------------ ingest


class BatchInvalid(InvalidInput):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} record(s) are malformed; nothing was ingested.")
        self.errors = errors


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


def _number(value: Any) -> bool:
    # Bounded: float() of a huge JSON integer raises OverflowError (a 500, not a 400).
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= 1e300


def _check_data(record: Record) -> str:
    d = record.data
    if record.type == "metric":
        values = d.get("values")
        step = d.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or not -(2**63) <= step < 2**63:
            return "metric needs an integer step"
        if not isinstance(values, dict) or not values:
            return "metric needs a non-empty values object"
        for name, value in values.items():
            if not isinstance(name, str) or not 0 < len(name) <= 64 or not _number(value):
                return f"metric value {name!r} must be a number under a name of 1-64 characters"
    elif record.type == "log":
        if not isinstance(d.get("line"), str):
            return "log needs a line"
    elif record.type == "progress":
        if not _number(d.get("percent")):
            return "progress needs a numeric percent"
    elif record.type == "status":
        if d.get("state") not in {"running", "succeeded", "failed", "cancelled", "interrupted"}:
            return "status state must be running, succeeded, failed, cancelled or interrupted"
    elif record.type == "stacks":
        processes = d.get("processes")
        if not isinstance(d.get("reason"), str) or not isinstance(processes, list):
            return "stacks needs a reason and a processes list"
        if len(processes) > STACKS_MAX_PROCESSES:
            return f"stacks lists at most {STACKS_MAX_PROCESSES} processes"
        for proc in processes:
            if not (
                isinstance(proc, dict)
                and isinstance(proc.get("pid"), int)
                and isinstance(proc.get("label"), str)
                and isinstance(proc.get("text"), str)
            ):
                return "each stacks process needs an integer pid, a label and a text"
    elif record.type == "telemetry":
        gpus = d.get("gpus")
        if not isinstance(gpus, list):
            return "telemetry needs a gpus list"
        for gpu in gpus:
            if not isinstance(gpu, dict) or not isinstance(gpu.get("index"), int):
                return "each telemetry gpu needs an integer index"
            for key in ("util", "mem_used_mib", "power_w", "temp_c"):
                if key in gpu and gpu[key] is not None and not _number(gpu[key]):
                    return f"telemetry {key} must be a number"
    return ""


_RECORD_KEYS = frozenset(("job", "attempt", "seq", "type", "at", "data"))


def _record_fast(item: Any) -> Record | None:
    """The common case without the generic spec checker: an object with exactly
    Record's fields, each of the plain type it must have. None means "take the
    slow path", which names every problem of a bad record."""
    if type(item) is not dict or item.keys() != _RECORD_KEYS:
        return None
    job, attempt, seq, at = item["job"], item["attempt"], item["seq"], item["at"]
    if (
        (job is not None and type(job) is not int)
        or type(attempt) is not int
        or type(seq) is not int
        or type(item["type"]) is not str
        or type(item["data"]) is not dict
    ):
        return None
    if type(at) is not float:
        if type(at) is not int or not -(2**53) < at < 2**53:
            return None
        at = float(at)
    return Record(job=job, attempt=attempt, seq=seq, type=item["type"], at=at, data=item["data"])


def parse_batch(raw: Any) -> list[Record]:
    """Validate a whole batch; raise BatchInvalid naming every bad record."""
    if not isinstance(raw, dict) or not isinstance(raw.get("records"), list):
        raise BatchInvalid(
            [{"index": None, "seq": None, "error": 'body must be {"records": [...]}'}]
        )
    items = raw["records"]
    if len(items) > MAX_BATCH_RECORDS:
        raise BatchTooLarge(f"at most {MAX_BATCH_RECORDS} records per batch")
    records, errors = [], []
    for index, item in enumerate(items):
        seq = item.get("seq") if isinstance(item, dict) else None
        record = _record_fast(item)
        if record is None:
            try:
                record = spec_from_dict(Record, item)
            except SpecError as exc:
                errors.append({"index": index, "seq": seq, "error": str(exc)})
                continue
        problem = ""
        if record.type not in RECORD_TYPES:
            problem = f"unknown type {record.type!r}"
        elif record.seq < 1 or record.attempt < 0:
            problem = "seq must be >= 1 and attempt >= 0"
        elif record.seq >= 2**63 or record.attempt >= 2**31 or not 0 <= (record.job or 0) < 2**63:
            problem = "seq, attempt or job out of range"  # the columns' range: a 400, not a 500
        elif not 0 <= record.at < 2**34:
            problem = "at must be a Unix time in seconds"
        elif (record.job is None) != (record.type == "telemetry"):
            problem = "telemetry records have no job; every other record has one"
        else:
            problem = _check_data(record)
        if problem:
            errors.append({"index": index, "seq": seq, "error": problem})
        else:
            records.append(record)
    if errors:
        raise BatchInvalid(errors)
    return records


class BatchTooLarge(InvalidInput):
    status = 413
    code = "too_large"


def ingest_batch(*, node: Node, records: list[Record]) -> IngestResult:
    """Apply a validated batch atomically. Idempotent: per stream, a seq at or below
    the last one applied is a duplicate and is skipped. Order is by seq, never by
    the agent's clock."""
    result = IngestResult()
    streams: dict[tuple[int | None, int], list[Record]] = defaultdict(list)
    for record in records:
        streams[(record.job, record.attempt)].append(record)
    job_streams = {key: recs for key, recs in streams.items() if key[0] is not None}
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


def _allocations_for(node: Node, keys) -> set[tuple[int, int]]:
    if not keys:
        return set()
    job_ids = {job for job, _ in keys}
    rows = Allocation.objects.filter(node=node, job_id__in=job_ids).values_list("job_id", "attempt")
    return set(rows)


def _ingest_job_stream(
    node: Node, job_id: int, attempt: int, recs: list[Record], result: IngestResult
) -> None:
    from console.jobs.services import job_transition

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
            lines.append(f"{stamp} {record.data['line'][:4096]}")
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


def job_stacks_request(*, job_id: int, attempt: int, reason: str) -> int:
    """Ask the agents that run the attempt to read its processes' Python stacks (they
    come back as a "stacks" record); sent when the transaction commits. Returns the
    number of nodes asked."""
    queues = [
        allocation.node.queue
        for allocation in Allocation.objects.filter(
            job_id=job_id, attempt=attempt, released_at__isnull=True
        ).select_related("node")
    ]
    payload = {"job": job_id, "attempt": attempt, "reason": reason[:500]}

    def send() -> None:
        from workers.celery import app

        for queue in queues:
            # A request that waits longer than this in the queue is of no use any more.
            app.send_task(AGENT_STACKS_TASK, args=[payload], queue=queue, expires=600)

    transaction.on_commit(send)
    return len(queues)


def _finish(job_id: int, attempt: int, record: Record, node: Node) -> None:
    """A node's launch of the current attempt ended. On one node that ends the attempt.
    In a multi-node group any failure ends it at once (the other nodes are then told
    to stop by their heartbeats), and success needs every node's."""
    from console.jobs.services import job_requeue, job_transition

    state = record.data["state"]
    # The agent reports a crashed rank's traceback as the reason: the job's error is its
    # message (one line), the whole traceback goes to the job's log.
    reason, trace = failure_parts(str(record.data.get("reason", "")))
    reason = reason[:2000]
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
    latest: dict[int, tuple[dict, datetime]] = {}
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


# ------------------------------------------------------------------ liveness and compaction


@dataclass
class FleetReport:
    offline: list[str] = field(default_factory=list)
    lost_jobs: list[int] = field(default_factory=list)


def fleet_reconcile(*, now: datetime | None = None) -> FleetReport:
    """Nodes that missed heartbeats go offline; after a grace period their jobs are
    marked lost and handed to their retry policy (requeued, or failed after max_attempts)."""
    from console.jobs.services import job_requeue

    now = now or timezone.now()
    report = FleetReport()
    offline_after = timedelta(seconds=settings.FORGE_NODE_OFFLINE_AFTER)
    for node in Node.objects.filter(
        status=Node.Status.ONLINE, last_heartbeat_at__lt=now - offline_after
    ):
        with transaction.atomic():
            changed = Node.objects.filter(pk=node.pk, status=Node.Status.ONLINE).update(
                status=Node.Status.OFFLINE, offline_since=now
            )
            if changed:
                audit_record(
                    action="node.offline",
                    actor=None,
                    obj=node,
                    before={"status": "online"},
                    after={"status": "offline"},
                )
                report.offline.append(node.name)
    grace = timedelta(seconds=settings.FORGE_NODE_LOST_AFTER)
    lost = Allocation.objects.filter(
        released_at__isnull=True,
        node__status=Node.Status.OFFLINE,
        node__offline_since__lt=now - grace,
    ).select_related("node")
    for allocation in lost:
        requeued = job_requeue(
            job_id=allocation.job_id,
            attempt=allocation.attempt,
            reason=f"lost: node {allocation.node.name} went offline",
        )
        if requeued is not None:
            report.lost_jobs.append(allocation.job_id)
    return report


def telemetry_compact(*, now: datetime | None = None) -> dict[str, int]:
    """Fold raw samples older than an hour into per-minute rows, and per-minute rows
    older than a day into per-15-minute rows (avg values, max utilisation kept)."""
    now = now or timezone.now()
    folded = {}
    for source, target, older in ((0, 60, timedelta(hours=1)), (60, 900, timedelta(days=1))):
        cutoff = now - older
        old = GpuSample.objects.filter(resolution_seconds=source, at__lt=cutoff)
        rows: dict[tuple[int, int], list[GpuSample]] = defaultdict(list)
        for sample in old.only(
            "gpu_id", "at", "util", "util_max", "mem_used_mib", "power_w", "temp_c"
        ):
            rows[(sample.gpu_id, int(sample.at.timestamp()) // target)].append(sample)
        with transaction.atomic():
            GpuSample.objects.bulk_create(
                [
                    GpuSample(
                        gpu_id=gpu_id,
                        at=datetime.fromtimestamp(bucket * target, tz=UTC),
                        resolution_seconds=target,
                        util=sum(s.util for s in group) / len(group),
                        util_max=max(s.util_max for s in group),
                        mem_used_mib=sum(s.mem_used_mib for s in group) / len(group),
                        power_w=sum(s.power_w for s in group) / len(group),
                        temp_c=sum(s.temp_c for s in group) / len(group),
                    )
                    for (gpu_id, bucket), group in rows.items()
                ],
                batch_size=2000,
            )
            deleted, _ = old.delete()
        folded[f"{source}->{target}"] = deleted
    return folded
