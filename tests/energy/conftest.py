"""Rows for energy tests: a node with GPUs, a job holding some of them, power samples.
Carbon intensity is the real console.carbon selector, on its constant provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from console.fleet.models import AllocatedGpu, Allocation, Gpu, GpuSample, Node
from console.jobs.models import JobState
from tests.factories import JobFactory

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
INTENSITY = 250.0


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def _carbon_and_prices(settings):
    settings.FORGE_CARBON_PROVIDER = "constant"
    settings.FORGE_CARBON_CONSTANT = INTENSITY
    settings.FORGE_GPU_HOUR_PRICE = 2.5
    settings.FORGE_CPU_NODE_WATTS = 200.0
    settings.FORGE_CURRENCY = "EUR"


def make_node(name: str = "gpu-a", *, gpus: int = 4, **fields) -> Node:
    node = Node.objects.create(name=name, **fields)
    for index in range(gpus):
        Gpu.objects.create(node=node, index=index, model="NVIDIA H200", memory_mib=143771)
    return node


def make_job(project, *, kind: str = "demo.node", state=JobState.SUCCEEDED, **fields):
    fields.setdefault("started_at", at(0))
    if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
        fields.setdefault("finished_at", at(60))
    return JobFactory(project=project, kind=kind, state=state, queue="", **fields)


def allocate(job, node, indices, *, start=None, end=None, attempt: int = 1, rank: int = 0):
    allocation = Allocation.objects.create(
        job=job, attempt=attempt, node=node, node_rank=rank, gpu_indices=indices
    )
    Allocation.objects.filter(pk=allocation.pk).update(created_at=start or at(0), released_at=end)
    for gpu in Gpu.objects.filter(node=node, index__in=indices):
        AllocatedGpu.objects.create(allocation=allocation, gpu=gpu, active=end is None)
    allocation.refresh_from_db()
    return allocation


def samples(node, index, *, start, end, watts: float, every: int = 10, resolution: int = 0):
    gpu = Gpu.objects.get(node=node, index=index)
    rows, t = [], start
    while t < end:
        rows.append(
            GpuSample(
                gpu=gpu,
                at=t,
                resolution_seconds=resolution,
                util=90.0,
                util_max=95.0,
                mem_used_mib=1024.0,
                power_w=watts,
                temp_c=60.0,
            )
        )
        t += timedelta(seconds=resolution or every)
    GpuSample.objects.bulk_create(rows)


@pytest.fixture
def gpu_job(personas):
    """A finished job that held gpu0 and gpu1 of node gpu-a (on-demand, 4 GPUs) for an
    hour, both sampled every 10 s at 400 W."""
    node = make_node("gpu-a", price_on_demand=Decimal("3.00"), price_spot=Decimal("1.00"))
    job = make_job(personas.project)
    allocate(job, node, [0, 1], start=at(0), end=at(60))
    for index in (0, 1):
        samples(node, index, start=at(0), end=at(60), watts=400.0)
    return job, node
