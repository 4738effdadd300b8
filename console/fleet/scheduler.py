"""Placement: pick a node (or a group of nodes) with enough free GPUs and hold them
exclusively.

Exclusivity is the database's job: AllocatedGpu has a unique index on the GPU
over active rows, so when two dispatchers race for the last GPU one insert
fails and that dispatcher tries the next candidate (or leaves the job waiting).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from console.fleet.models import AllocatedGpu, Allocation, Gpu, Node


def _candidates(gpus: int):
    nodes = Node.objects.filter(status=Node.Status.ONLINE, enabled=True).annotate(
        active=Count("allocations", filter=Q(allocations__released_at__isnull=True))
    )
    if gpus:
        nodes = nodes.annotate(
            free=Count("gpus", filter=Q(gpus__present=True) & ~Q(gpus__held_by__active=True))
        ).filter(free__gte=gpus)
    return nodes.order_by("active", "name")


def _hold(node: Node, *, job_id: int, attempt: int, gpus: int, node_rank: int) -> Allocation:
    """One node's allocation with its GPUs, or IntegrityError when they went meanwhile."""
    allocation = Allocation.objects.create(
        job_id=job_id, attempt=attempt, node=node, node_rank=node_rank
    )
    if gpus:
        free = list(
            Gpu.objects.filter(node=node, present=True)
            .exclude(held_by__active=True)
            .order_by("index")[:gpus]
        )
        if len(free) < gpus:
            raise IntegrityError("not enough free GPUs any more")
        AllocatedGpu.objects.bulk_create(
            [AllocatedGpu(allocation=allocation, gpu=gpu) for gpu in free]
        )
        allocation.gpu_indices = [gpu.index for gpu in free]
        allocation.save(update_fields=["gpu_indices"])
    return allocation


class _NotEnough(Exception):
    pass


def allocation_place(
    *, job_id: int, attempt: int, gpus: int, nodes: int = 1
) -> list[Allocation] | None:
    """Allocate ``gpus`` GPUs on each of ``nodes`` distinct nodes to this attempt, all or
    none (node ranks 0..nodes-1 in placement order), or return None when the fleet
    has no room now. A multi-node group also gets a rendezvous port on rank 0's node."""
    try:
        with transaction.atomic():
            group: list[Allocation] = []
            for node in _candidates(gpus):
                try:
                    with transaction.atomic():
                        group.append(
                            _hold(
                                node,
                                job_id=job_id,
                                attempt=attempt,
                                gpus=gpus,
                                node_rank=len(group),
                            )
                        )
                except IntegrityError:
                    continue  # lost a race for these GPUs: try the next node
                if len(group) == nodes:
                    break
            if len(group) < nodes:
                raise _NotEnough  # roll back the part of the group already held
            if nodes > 1:
                group[0].master_port = _rendezvous_port(group[0].node)
                group[0].save(update_fields=["master_port"])
            return group
    except (_NotEnough, IntegrityError):  # IntegrityError here: no rendezvous port left
        return None


def _rendezvous_port(node: Node) -> int:
    """A port of FORGE_RENDEZVOUS_PORTS no active group uses on this node: the one after
    the port it last handed out there, so a retried attempt does not reuse the port a
    dying predecessor may still hold."""
    low, high = settings.FORGE_RENDEZVOUS_PORTS
    ports = Allocation.objects.filter(node=node, master_port__isnull=False)
    used = set(ports.filter(released_at__isnull=True).values_list("master_port", flat=True))
    last = ports.order_by("-created_at", "-pk").values_list("master_port", flat=True).first()
    span = high - low + 1
    start = (last - low + 1) % span if last is not None and low <= last <= high else 0
    for offset in range(span):
        port = low + (start + offset) % span
        if port not in used:
            return port
    raise IntegrityError(f"no free rendezvous port in {low}-{high} on {node.name}")
