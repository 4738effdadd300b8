"""Energy, emissions and cost of jobs: the only writes of JobUsage.

Per allocation (one job attempt on one node, holding GPUs from created_at until
released_at, or now while it runs):

- energy: each held GPU's NVML power samples integrated over the interval
  (console.energy.integrate); a GPU without a sample there draws its share of the node
  power model (node_power_model_watts / the node's GPUs); a CPU-only allocation draws
  the whole node power model;
- emissions: the allocation's kWh x the mean carbon intensity over its interval
  (console.carbon.selectors.intensity_between);
- cost: node_hourly_price(node, gpus) x hours, at the node's price tier.

Jobs run by console workers (no allocation) are not metered and get no row.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.energy.integrate import SECONDS_PER_HOUR, Sample, integrate_power
from console.energy.models import JobUsage, Method
from console.fleet.models import Allocation, Gpu, GpuSample, Node
from console.fleet.selectors import node_hourly_price, node_power_model_watts, node_price_tier
from console.jobs.models import ACTIVE_STATES, TERMINAL_STATES, Job

log = logging.getLogger(__name__)

# Telemetry of a finished job may still arrive from the agent's spool for this long.
SETTLE_SECONDS = 300
# How far before an interval a sample may lie and still hold into it (2 x 15 minutes).
LOOKBACK = timedelta(seconds=2 * 900)
CENT = Decimal("0.0001")


def currency() -> str:
    return str(getattr(settings, "FORGE_CURRENCY", "USD") or "USD")[:8]


def _month(job: Job, now: datetime) -> date:
    when = (job.finished_at or job.started_at or job.created_at or now).astimezone(UTC)
    return date(when.year, when.month, 1)


def _intensity(start: datetime, end: datetime) -> tuple[float | None, str]:
    try:
        from console.carbon.selectors import intensity_between
    except ImportError:  # pragma: no cover - console.carbon ships it
        return None, "unavailable (console.carbon has no intensity_between)"
    return intensity_between(start, end)


def _gpu_energy(gpu: Gpu, start: datetime, end: datetime, share_w: float) -> dict[str, Any]:
    rows = GpuSample.objects.filter(gpu=gpu, at__gte=start - LOOKBACK, at__lt=end).values_list(
        "at", "power_w", "resolution_seconds"
    )
    samples = [Sample(at=at, power_w=w, resolution_seconds=res) for at, w, res in rows]
    integral = integrate_power(samples, start, end)
    if integral.samples:
        return {
            "gpu": gpu.index,
            "method": Method.NVML.value,
            "kwh": integral.estimate_wh() / 1000.0,
            "samples": integral.samples,
            "coverage": round(integral.covered_s / integral.interval_s, 4),
        }
    return {
        "gpu": gpu.index,
        "method": Method.POWER_MODEL.value,
        "kwh": share_w * integral.interval_s / SECONDS_PER_HOUR / 1000.0,
        "samples": 0,
        "coverage": 0.0,
    }


def _combine(methods: set[str]) -> str:
    if len(methods) == 1:
        return next(iter(methods))
    return Method.MIXED.value if methods else Method.POWER_MODEL.value


def allocation_usage(allocation: Allocation, *, now: datetime) -> dict[str, Any]:
    """One allocation's figures (a breakdown entry)."""
    node = allocation.node
    start = allocation.created_at
    end = max(start, allocation.released_at or now)
    seconds = (end - start).total_seconds()
    hours = seconds / SECONDS_PER_HOUR
    gpus = [held.gpu for held in allocation.held.select_related("gpu").order_by("gpu__index")]
    model_w = node_power_model_watts(node)
    if gpus:
        share_w = model_w / max(len(gpus), Gpu.objects.filter(node=node).count())
        per_gpu = [_gpu_energy(gpu, start, end, share_w) for gpu in gpus]
        kwh = sum(g["kwh"] for g in per_gpu)
        method = _combine({g["method"] for g in per_gpu})
        samples = sum(g["samples"] for g in per_gpu)
    else:
        per_gpu = []
        kwh = model_w * hours / 1000.0
        method, samples = Method.POWER_MODEL.value, 0
    intensity, source = _intensity(start, end)
    tier = node_price_tier(node)
    hourly = node_hourly_price(node, len(gpus))
    cost = (hourly * Decimal(str(hours))).quantize(CENT)
    return {
        "node": node.name,
        "attempt": allocation.attempt,
        "rank": allocation.node_rank,
        "gpus": [g.index for g in gpus],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "open": allocation.released_at is None,
        "seconds": round(seconds, 3),
        "hours": hours,
        "kwh": kwh,
        "method": method,
        "samples": samples,
        "power_model_w": model_w if method != Method.NVML else None,
        "per_gpu": per_gpu,
        "price_tier": tier,
        "price_tier_label": Node.PriceTier(tier).label if tier in Node.PriceTier else tier,
        "hourly_price": str(hourly),
        "cost": str(cost),
        "intensity_g_per_kwh": intensity,
        "intensity_source": source,
        "gco2e": None if intensity is None else kwh * intensity,
    }


def _settled(job: Job, now: datetime) -> bool:
    if job.state not in TERMINAL_STATES:
        return False
    finished = job.finished_at or job.updated_at
    return finished is None or now - finished >= timedelta(seconds=SETTLE_SECONDS)


def job_usage_compute(*, job_id: int, now: datetime | None = None) -> JobUsage | None:
    """Compute and upsert the job's JobUsage; None for a job with no allocation (not
    metered: it ran on a console worker, or never reached a node). Idempotent."""
    now = now or timezone.now()
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return None
    allocations = list(
        Allocation.objects.filter(job=job).select_related("node").order_by("attempt", "node_rank")
    )
    if not allocations:
        return None
    entries = [allocation_usage(a, now=now) for a in allocations]
    kwh = sum(e["kwh"] for e in entries)
    emitted = [e["gco2e"] for e in entries if e["gco2e"] is not None]
    gco2e = sum(emitted) if len(emitted) == len(entries) else None
    sources = sorted({e["intensity_source"] for e in entries})
    if gco2e is not None and kwh > 0:
        mean = gco2e / kwh
    else:
        known = [e["intensity_g_per_kwh"] for e in entries if e["intensity_g_per_kwh"] is not None]
        mean = sum(known) / len(known) if known else None
    values = {
        "project_id": job.project_id,
        "month": _month(job, now),
        "energy_kwh": kwh,
        "gco2e": gco2e,
        "mean_intensity_g_per_kwh": mean,
        "intensity_source": "; ".join(sources)[:200],
        "cost": sum((Decimal(e["cost"]) for e in entries), Decimal(0)),
        "currency": currency(),
        "gpu_hours": sum(len(e["gpus"]) * e["seconds"] for e in entries) / SECONDS_PER_HOUR,
        "node_hours": sum(e["seconds"] for e in entries) / SECONDS_PER_HOUR,
        "method": _combine({e["method"] for e in entries}),
        "breakdown": entries,
        "computed_at": now,
        "final": _settled(job, now),
    }
    usage, _ = JobUsage.objects.update_or_create(job=job, defaults=values)
    return usage


def job_usage_refresh(*, job_id: int, now: datetime | None = None) -> JobUsage | None:
    """job_usage_compute that never raises (it runs from lifecycle effects and beat): errors are
    logged and the job skipped; a savepoint keeps the caller's transaction usable."""
    try:
        with transaction.atomic():
            return job_usage_compute(job_id=job_id, now=now)
    except Exception:
        log.exception("energy: could not compute the usage of job %s", job_id)
        return None


def job_left_active(job_id: int) -> None:
    """A ``job_left_active`` effect (settings.LIFECYCLE_EFFECTS): once the transaction that
    moved the job out of running commits (and fleet's effect, listed before this one,
    released its GPUs), take its figures."""
    transaction.on_commit(lambda: job_usage_refresh(job_id=job_id))


def usage_refresh_due(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: refresh running jobs (live figures) and finished jobs whose figures are not
    final yet (late telemetry), marking them final once settled."""
    now = now or timezone.now()
    running = (
        Allocation.objects.filter(released_at__isnull=True, job__state__in=ACTIVE_STATES)
        .values_list("job_id", flat=True)
        .distinct()
    )
    unsettled = JobUsage.objects.filter(final=False, job__state__in=TERMINAL_STATES).values_list(
        "job_id", flat=True
    )
    recent = (
        Allocation.objects.filter(
            job__state__in=TERMINAL_STATES,
            job__finished_at__gte=now - timedelta(seconds=SETTLE_SECONDS),
        )
        .values_list("job_id", flat=True)
        .distinct()
    )
    job_ids = sorted(set(running) | set(unsettled) | set(recent))
    done = sum(1 for job_id in job_ids if job_usage_refresh(job_id=job_id, now=now) is not None)
    return {"due": len(job_ids), "refreshed": done}
