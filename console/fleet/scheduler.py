"""Placement: pick a node with enough free GPUs and hold them exclusively.

Exclusivity is the database's job: AllocatedGpu has a unique index on the GPU
over active rows, so when two dispatchers race for the last GPU one insert
fails and that dispatcher tries the next candidate (or leaves the job waiting).
"""

from __future__ import annotations

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


def allocation_place(*, job_id: int, attempt: int, gpus: int) -> Allocation | None:
    """Allocate `gpus` GPUs of one node to this attempt, or return None when none has room."""
    for node in _candidates(gpus):
        try:
            with transaction.atomic():
                allocation = Allocation.objects.create(job_id=job_id, attempt=attempt, node=node)
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
        except IntegrityError:
            continue  # lost a race for these GPUs: try the next node
    return None
