from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from console.fleet.models import Allocation, Gpu, GpuSample, Node


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


def node_allocations(*, node: Node, limit: int = 50) -> QuerySet[Allocation]:
    return node.allocations.select_related("job", "job__project")[:limit]
