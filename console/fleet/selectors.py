from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from console.fleet.models import Gpu, GpuSample, Node
from console.projects.selectors import project_list


def node_list() -> QuerySet[Node]:
    # Explicit order: Django drops Meta.ordering from GROUP BY (annotated) queries, which
    # left the API's pages of nodes in no defined order.
    return (
        Node.objects.annotate(
            running=Count("allocations", filter=Q(allocations__released_at__isnull=True)),
        )
        .order_by("name")
        .prefetch_related(
            Prefetch(
                "gpus",
                queryset=Gpu.objects.filter(present=True).annotate(
                    busy=Count("held_by", filter=Q(held_by__active=True))
                ),
            ),
        )
    )


def node_get(*, name: str) -> Node | None:
    return node_list().filter(name=name).first()


def gpu_recent_samples(*, nodes: list[Node], minutes: int = 10) -> dict[int, dict[str, list]]:
    """Recent utilisation per GPU id, for sparklines: {gpu_id: {"t": [...], "util": [...]}}."""
    since = timezone.now() - timedelta(minutes=minutes)
    gpu_ids = [gpu.pk for node in nodes for gpu in node.gpus.all()]
    series: dict[int, dict[str, list]] = {
        gpu_id: {"t": [], "util": [], "mem": [], "power": [], "temp": []} for gpu_id in gpu_ids
    }
    rows = (
        GpuSample.objects.filter(gpu_id__in=gpu_ids, at__gte=since)
        .order_by("at")
        .values_list("gpu_id", "at", "util", "mem_used_mib", "power_w", "temp_c")
    )
    for gpu_id, at, util, mem, power, temp in rows:
        s = series[gpu_id]
        s["t"].append(at.isoformat())
        s["util"].append(util)
        s["mem"].append(mem)
        s["power"].append(power)
        s["temp"].append(temp)
    return series


def gpu_history(*, gpu: Gpu, hours: int = 24) -> QuerySet[GpuSample]:
    since = timezone.now() - timedelta(hours=hours)
    return gpu.samples.filter(at__gte=since).order_by("at")


@dataclass(frozen=True, kw_only=True)
class NodeJobRow:
    """One allocation on a node's page. Another project's job is only "busy": no id,
    name, kind, project or state (RELIABILITY S16)."""

    job_id: int | None  # None: another project's job
    name: str
    state: str
    attempt: int | None
    gpu_indices: list[int]
    created_at: datetime
    released_at: datetime | None

    @property
    def busy(self) -> bool:
        return self.job_id is None


def node_allocations(*, node: Node, user: Any, limit: int = 50) -> list[NodeJobRow]:
    """The node's allocations, newest first: the user's projects' jobs in full; another
    project's job only while it holds the node, as "busy" (its past ones are left out)."""
    visible = project_list(user=user)
    rows = (
        node.allocations.filter(Q(job__project__in=visible) | Q(released_at__isnull=True))
        .select_related("job")
        .order_by("-created_at", "-id")[:limit]
    )
    visible_ids = set(visible.values_list("pk", flat=True))
    result = []
    for a in rows:
        mine = a.job.project_id in visible_ids
        result.append(
            NodeJobRow(
                job_id=a.job_id if mine else None,
                name=a.job.name if mine else "",
                state=a.job.state if mine else "busy",
                attempt=a.attempt if mine else None,
                gpu_indices=list(a.gpu_indices),
                created_at=a.created_at,
                released_at=a.released_at,
            )
        )
    return result


# ------------------------------------------------------------------ power model and prices


def node_price_tier(node: Node) -> str:
    """The node's price tier: "on_demand", "spot" or "reserved"."""
    return str(node.price_tier)


def node_hourly_price(node: Node, gpus: int) -> Decimal:
    """What an hour on this node costs: per GPU-hour times ``gpus``, or, with ``gpus`` 0
    (a CPU-only job or node), the same price per node-hour. The price of the node's
    tier; where that is empty, the FORGE_GPU_HOUR_PRICE setting."""
    price = {
        Node.PriceTier.ON_DEMAND: node.price_on_demand,
        Node.PriceTier.SPOT: node.price_spot,
        Node.PriceTier.RESERVED: node.price_reserved,
    }.get(node.price_tier)
    if price is None:
        price = Decimal(str(getattr(settings, "FORGE_GPU_HOUR_PRICE", 2.5)))
    return Decimal(price) * max(1, int(gpus))


def node_power_model_watts(node: Node) -> float:
    """Watts drawn while a job runs on the node where NVML gives no power reading
    (CPU-only nodes): the node's own figure, else FORGE_CPU_NODE_WATTS (200 W)."""
    if node.cpu_power_watts is not None:
        return float(node.cpu_power_watts)
    return float(getattr(settings, "FORGE_CPU_NODE_WATTS", 200.0))


def node_power_policy(node: Node) -> dict[str, Any]:
    """The power policy the node's agent receives with each heartbeat reply."""
    mode = str(node.power_cap_mode)
    watts = node.power_cap_watts
    if mode != Node.PowerCapMode.OFF and watts is None:
        mode = Node.PowerCapMode.OFF  # cannot be saved so, but never send a cap-less enforce
    return {"mode": mode, "watts": watts}


_ACTION_TEXT = {
    "would_set": "would set",
    "set": "set",
    "restored": "restored",
}


def _w(value: Any) -> str:
    return "?" if value is None else f"{float(value):g} W"


def node_power_report_lines(node: Node) -> list[str]:
    """The agent's last power report in words, one line per GPU:
    "dry run: would set GPU 0 from 700 W to 500 W"."""
    report = node.power_cap_report if isinstance(node.power_cap_report, dict) else {}
    if not report:
        return []
    mode = str(report.get("mode", ""))
    label = {"dry_run": "dry run", "enforce": "enforce", "off": "off"}.get(mode, mode or "?")
    lines = []
    if report.get("error"):
        lines.append(f"{label}: {report['error']}")
    gpus = report.get("gpus") if isinstance(report.get("gpus"), dict) else {}
    for index in sorted(gpus, key=lambda k: int(k) if str(k).isdigit() else 0):
        g = gpus[index] if isinstance(gpus[index], dict) else {}
        action = g.get("action")
        if action == "error":
            lines.append(f"{label}: GPU {index}: {g.get('error') or 'error'}")
        elif action in _ACTION_TEXT:
            before = g.get("previous_limit_w", g.get("current_limit_w"))
            lines.append(
                f"{label}: {_ACTION_TEXT[action]} GPU {index} "
                f"from {_w(before)} to {_w(g.get('target_w'))}"
            )
        else:
            lines.append(f"{label}: GPU {index} stays at {_w(g.get('current_limit_w'))}")
    if not lines and mode == "off":
        lines.append("off: power limits left alone")
    return lines
