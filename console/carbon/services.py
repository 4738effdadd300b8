"""Carbon-aware scheduling writes.

- ``forecast_refresh``: the beat task's fetch from the configured provider; a failure is
  stored as such (the Carbon page warns) and plans go on with the last good forecast or
  the constant fallback (``selectors.forecast_current``): no job waits for a provider.
- ``job_plan_on_schedule``: a before_schedule effect (settings.LIFECYCLE_EFFECTS). A
  carbon-aware job gets its plan the first time it is scheduled (start, windows when interruptible,
  expected gCO2e against starting now); ``not_before`` becomes the start of the next
  window. Deferral lives in PostgreSQL (not_before), not in a Celery ETA (R3).
- ``carbon_windows_tick``: the beat task that pauses an interruptible job at the end of
  its window (checkpoint, then stop: the jobs core's pause) and resumes it at the start
  of the next one.

Capacity: planned jobs' windows are counted per slot against the fleet's GPUs (or nodes,
for CPU jobs), so deferred jobs do not all pile into the same cheap hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.carbon import selectors
from console.carbon.engine import Plan, PlanError, ProviderError, plan
from console.carbon.models import ForecastSnapshot
from console.jobs import kinds
from console.jobs.models import Job, JobState
from console.jobs.services import _enqueue_on_commit, job_transition

log = logging.getLogger(__name__)

GPU_WATTS = 700.0  # an H100/H200 SXM at full load: the planner's power estimate per GPU
DEFAULT_SECONDS = 3600
KEEP_SNAPSHOTS = 500
PLANNED_STATES = (JobState.QUEUED, JobState.SCHEDULED, JobState.DISPATCHED, JobState.RUNNING,
                  JobState.PAUSED)  # fmt: skip


def _now() -> datetime:
    return timezone.now().astimezone(UTC)


# ------------------------------------------------------------------ forecasts


def forecast_refresh(*, now: datetime | None = None) -> ForecastSnapshot:
    """Fetch the forecast from the configured provider and keep it (or its error)."""
    now = now or _now()
    start = now - timedelta(hours=1)
    end = now + timedelta(hours=settings.FORGE_CARBON_HORIZON_HOURS)
    name = settings.FORGE_CARBON_PROVIDER
    try:
        provider = selectors.provider_configured()
        name = provider.name
        forecast = provider.forecast(start, end)
    except (ProviderError, ValueError, OSError) as exc:
        log.warning("carbon forecast from %s failed: %s", name, exc)
        snapshot = ForecastSnapshot.objects.create(
            provider=str(name)[:200], fetched_at=now, ok=False, error=str(exc)[:2000]
        )
    else:
        snapshot = ForecastSnapshot.objects.create(
            provider=provider.name[:200],
            fetched_at=now,
            ok=True,
            start=forecast.start,
            end=forecast.end,
            data=forecast.to_json(),
        )
    stale = ForecastSnapshot.objects.order_by("-fetched_at", "-id").values_list("pk", flat=True)
    old = list(stale[KEEP_SNAPSHOTS : KEEP_SNAPSHOTS + 1000])
    if old:
        ForecastSnapshot.objects.filter(pk__in=old).delete()
    return snapshot


# ------------------------------------------------------------------ durations and demand


def _spec(job: Job) -> Any:
    from gpu_agent.spec import spec_from_dict

    kind = kinds.get(job.kind)
    return kind, (spec_from_dict(kind.spec, job.spec) if kind else None)


def job_demand(job: Job) -> tuple[int, int, float]:
    """(GPUs, nodes, estimated watts) of a job; CPU jobs count a node each."""
    try:
        kind, spec = _spec(job)
    except Exception:  # a spec that no longer parses: count it as one node's worth
        return 0, 1, float(settings.FORGE_CPU_NODE_WATTS)
    if kind is None or kind.runs_on != "node":
        return 0, 0, float(settings.FORGE_CPU_NODE_WATTS)
    gpus = kind.gpus(spec) if kind.gpus else 0
    nodes = kind.nodes(spec) if kind.nodes else 1
    watts = gpus * nodes * GPU_WATTS if gpus else nodes * float(settings.FORGE_CPU_NODE_WATTS)
    return gpus, nodes, watts


def expected_duration(job: Job) -> tuple[timedelta, str]:
    """The job's expected running time and how it was found: given by the user; else,
    for a training run, tokens / the tokens per second measured by the latest finished
    run of the same preset on as many GPUs (else estimated from the GPUs' peak FLOP/s
    and FORGE_ESTIMATE_MFU); else one hour."""
    if job.expected_seconds:
        return timedelta(seconds=job.expected_seconds), "given"
    if job.kind == "train.run":
        try:
            return _train_duration(job)
        except Exception:  # never block scheduling on an estimate
            log.exception("estimating the duration of job %s", job.pk)
    return timedelta(seconds=DEFAULT_SECONDS), "default (1 h; give the expected duration)"


def _train_duration(job: Job) -> tuple[timedelta, str]:
    from console.metrics.selectors import metric_points
    from console.policies.selectors import fleet_run_estimate
    from console.runs.models import Run

    _, spec = _spec(job)
    tokens = spec.steps * spec.tokens_per_step
    gpus = spec.gpus_per_node * spec.nodes
    similar = (
        Run.objects.filter(preset=spec.model.preset, job__state=JobState.SUCCEEDED)
        .exclude(job=job)
        .order_by("-created_at")
    )
    for run in similar[:10]:
        other = run.spec or {}
        if other.get("gpus_per_node", 0) * other.get("nodes", 1) != gpus:
            continue
        _, values = metric_points(job_id=cast("int", run.job_id), name="tokens_per_s")
        rates = sorted(float(v) for v in values[-50:] if v > 0)
        if rates:
            rate = rates[len(rates) // 2]
            basis = f"{tokens:,} tokens at {rate:,.0f} tokens/s measured by run {run.pk}"
            return timedelta(seconds=max(60.0, tokens / rate)), basis
    estimate = fleet_run_estimate(spec)
    if not estimate.hours:
        return timedelta(seconds=DEFAULT_SECONDS), "default (1 h; a CPU run has no estimate)"
    seconds = max(60.0, estimate.hours * 3600)
    return timedelta(seconds=seconds), (
        f"{tokens:,} tokens estimated at {estimate.mfu:.0%} MFU (no finished run to measure)"
    )


def _capacity() -> tuple[int, int]:
    from console.fleet.models import Gpu, Node

    nodes = Node.objects.filter(enabled=True)
    gpus = Gpu.objects.filter(node__in=nodes, present=True).count()
    return gpus, nodes.count()


def _blocker(
    job: Job, start: datetime, end: datetime, slot: timedelta
) -> Callable[[datetime], bool] | None:
    """A blocked(slot_start) for the planner: True where the windows of the other planned
    jobs already use the capacity this job needs."""
    gpus, nodes, _ = job_demand(job)
    if nodes == 0:  # console-worker jobs: no GPU capacity to share
        return None
    total_gpus, total_nodes = _capacity()
    need, capacity = (gpus * nodes, total_gpus) if gpus else (nodes, total_nodes)
    if capacity <= 0:
        return None
    used: dict[int, int] = {}
    step = slot.total_seconds()
    others = Job.objects.filter(carbon_aware=True, state__in=PLANNED_STATES).exclude(pk=job.pk)
    for other in others.exclude(carbon_plan=None).only("pk", "kind", "spec", "carbon_plan"):
        og, on, _ = job_demand(other)
        if on == 0 or bool(og) != bool(gpus):
            continue
        units = og * on if og else on
        for w_start, w_end in cast("dict[str, Any]", other.carbon_plan).get("windows") or []:
            a = datetime.fromisoformat(w_start).timestamp()
            b = datetime.fromisoformat(w_end).timestamp()
            a = max(a, start.timestamp() - step)
            k = int(a // step)
            while k * step < min(b, end.timestamp()):
                used[k] = used.get(k, 0) + units
                k += 1
    if not used:
        return None
    return lambda t: used.get(int(t.timestamp() // step), 0) + need > capacity


# ------------------------------------------------------------------ planning


def _plan_dict(result: Plan, **extra: Any) -> dict[str, Any]:
    return {
        "start": result.start.isoformat(),
        "windows": [[a.isoformat(), b.isoformat()] for a, b in result.windows],
        "expected_g": round(result.expected_g, 3),
        "now_g": round(result.now_g, 3),
        "savings_pct": round(result.savings_pct, 2),
        "deadline_met": result.deadline_met,
        "reason": result.reason,
        **extra,
    }


def job_plan(job: Job, *, now: datetime | None = None) -> dict[str, Any]:
    """Plan ``job`` against the current forecast; store the plan and its not_before."""
    now = now or _now()
    forecast, warning = selectors.forecast_current(now)
    duration, basis = expected_duration(job)
    _, _, watts = job_demand(job)
    deadline = job.deadline
    not_before = job.not_before if job.not_before and job.not_before > now else None
    blocked = _blocker(job, now, deadline or forecast.end, forecast.resolution)
    try:
        result = plan(
            forecast,
            now=now,
            duration=duration,
            deadline=deadline,
            not_before=not_before,
            interruptible=job.carbon_interruptible,
            watts=watts,
            blocked=blocked,
        )
    except PlanError as exc:  # e.g. the deadline passed while awaiting approval
        start = not_before or now
        result = Plan(start, [(start, start + duration)], 0.0, 0.0, 0.0, False, f"{exc}; "
                      "starting as soon as possible")  # fmt: skip
    stored = _plan_dict(
        result,
        source=forecast.source,
        warning=warning,
        planned_at=now.isoformat(),
        expected_seconds=int(duration.total_seconds()),
        duration_basis=basis,
        interruptible=job.carbon_interruptible,
        watts=watts,
    )
    Job.objects.filter(pk=job.pk).update(carbon_plan=stored, not_before=result.start)
    job.carbon_plan, job.not_before = stored, result.start
    audit_record(action="job.carbon_plan", actor=None, obj=job, after=stored)
    return stored


def _windows(job: Job) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(a), datetime.fromisoformat(b))
        for a, b in (job.carbon_plan or {}).get("windows") or []
    ]


def _next_start(job: Job, now: datetime) -> datetime | None:
    """Now when inside a window, else the start of the next one; None when past them all."""
    for a, b in _windows(job):
        if a <= now < b:
            return now
        if a > now:
            return a
    return None


def job_plan_on_schedule(job: Job) -> None:
    """A before_schedule effect (the job row is locked): plan a carbon-aware job once; a job
    scheduled again (resumed, requeued) waits for its next window."""
    if not job.carbon_aware:
        return
    plan_ = job.carbon_plan or {}
    if not plan_ or plan_.get("overridden"):
        if not plan_:
            job_plan(job)
        return
    now = _now()
    nxt = _next_start(job, now) or now
    if job.not_before != nxt:
        Job.objects.filter(pk=job.pk).update(not_before=nxt)
        job.not_before = nxt


# ------------------------------------------------------------------ windows


def carbon_windows_tick(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Pause interruptible carbon-aware jobs whose window ended (when another window
    follows), and resume the ones this scheduler paused once their next window opens."""
    now = now or _now()
    done: dict[str, list[int]] = {"paused": [], "resumed": []}
    running = Job.objects.filter(
        carbon_aware=True, carbon_interruptible=True, state=JobState.RUNNING
    ).exclude(carbon_plan=None)
    for job in running:
        plan_ = job.carbon_plan or {}
        if plan_.get("overridden"):
            continue
        nxt = _next_start(job, now)
        if nxt is None or nxt <= now:  # inside a window, or past the last: keep running
            continue
        kind = kinds.get(job.kind)
        if kind is None or not kind.interruptible:
            continue
        why = f"carbon-aware: window ended; resumes at {nxt:%Y-%m-%d %H:%M} UTC"
        with transaction.atomic():
            paused = job_transition(
                job_id=job.pk,
                to=JobState.PAUSED,
                expect=[JobState.RUNNING],
                reason=why,
                progress_message=why,
            )
            if paused is None:
                continue
            plan_ = {**plan_, "paused_by_scheduler": True,
                     "pauses": int(plan_.get("pauses", 0)) + 1}  # fmt: skip
            Job.objects.filter(pk=job.pk).update(carbon_plan=plan_, not_before=nxt)
        done["paused"].append(job.pk)
    waiting = Job.objects.filter(carbon_aware=True, state=JobState.PAUSED).exclude(carbon_plan=None)
    for job in waiting:
        plan_ = job.carbon_plan or {}
        if not plan_.get("paused_by_scheduler") or (job.not_before and job.not_before > now):
            continue
        with transaction.atomic():
            resumed = job_transition(
                job_id=job.pk,
                to=JobState.QUEUED,
                expect=[JobState.PAUSED],
                reason="carbon-aware: next low-carbon window",
                progress_message="carbon-aware: resuming in the next low-carbon window",
            )
            if resumed is None:
                continue
            plan_ = {**plan_, "paused_by_scheduler": False,
                     "resumes": int(plan_.get("resumes", 0)) + 1}  # fmt: skip
            Job.objects.filter(pk=job.pk).update(carbon_plan=plan_)
            _enqueue_on_commit(job.pk, "jobs.schedule", [job.pk], "scheduler")
        done["resumed"].append(job.pk)
    return done
