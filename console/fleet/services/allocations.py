"""Releasing an attempt's allocations (the lease) and GPUs when its job leaves an
active state."""

from __future__ import annotations

from django.utils import timezone

from console.fleet.models import AllocatedGpu, Allocation


def allocation_release_for_job(job_id: int) -> None:
    """Hook: a job left dispatched/running, so its GPUs are free again."""
    now = timezone.now()
    active = Allocation.objects.filter(job_id=job_id, released_at__isnull=True)
    AllocatedGpu.objects.filter(allocation__in=active, active=True).update(active=False)
    active.update(released_at=now)
