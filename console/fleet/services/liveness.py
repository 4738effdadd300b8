"""Node liveness: the agents' heartbeats (with their power reports), and the fleet
reconciler that marks silent nodes offline and hands their jobs to their retry
policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.fleet.models import Allocation, Node
from console.fleet.selectors import node_power_policy
from console.jobs.models import Job, JobState
from console.jobs.services import job_requeue
from gpu_agent.power import PowerHeartbeatReply

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
        "watts": int(cast(float, watts))
        if _number_or_none(watts, 0, 100_000) is not None
        else None,
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
            spool_pending=int(_number_or_none(spool.get("pending"), 0, 2**31 - 1) or 0),
            spool_quarantined=int(_number_or_none(spool.get("quarantined"), 0, 2**31 - 1) or 0),
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


@dataclass
class FleetReport:
    offline: list[str] = field(default_factory=list)
    lost_jobs: list[int] = field(default_factory=list)


def fleet_reconcile(*, now: datetime | None = None) -> FleetReport:
    """Nodes that missed heartbeats go offline; after a grace period their jobs are
    marked lost and handed to their retry policy (requeued, or failed after max_attempts)."""
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
