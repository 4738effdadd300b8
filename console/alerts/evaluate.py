"""Rule evaluation.

on_metrics() runs on the ingest path (the ``metrics`` effect in
settings.LIFECYCLE_EFFECTS), inside the ingest transaction, once per batch of a job
attempt's metrics: for a job that is not a run it costs one cached dictionary lookup;
for a run, three small queries (its state row, its open alerts, the state update) plus
the rare fire or resolve, with numpy over the batch's values, never a Python loop per point.

evaluate_periodic() runs from the Celery beat task alerts.evaluate: GPU utilisation
of the GPUs a running run holds (fleet telemetry) and stalled metrics. When a stall
alert fires, the agents running the run are asked for its processes' Python stacks
(console.fleet.services.job_stacks_request); they come back as a StackDump, shown
with the alert on the run's page.

Semantics, per rule: an alert opens at the first point that breaks the rule (unless
one is open already) and is resolved once the latest point no longer does.

A threshold rule on the learning rate (metric ``lr``) judges only the points between
the end of the run's warm-up (its spec's scheduler.warmup_steps) and
LR_JUDGED_UNTIL (90%) of its schedule's total steps: the warm-up from 0 and the final
decay to 0 are the schedule doing its job (``lr_judged``). A point outside breaks
nothing, so the alert of an earlier breach resolves there.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import cast

import numpy as np
from django.db import transaction
from django.db.models import Avg
from django.utils import timezone

from console.alerts import cache
from console.alerts.defaults import LR_JUDGED_UNTIL
from console.alerts.models import PERIODIC_KINDS, Alert, AlertRule, AlertState, RuleKind
from console.alerts.services import alert_fire, alerts_resolve

log = logging.getLogger(__name__)
MIN_MEDIAN_POINTS = 10  # a rolling median needs min(window, this) earlier points


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _normal(rule: cache.Rule | AlertRule) -> str:
    lo, hi = rule.normal_low, rule.normal_high
    if lo is None and hi is None:
        return ""
    lo_text = _fmt(lo) if lo is not None else "…"
    hi_text = _fmt(hi) if hi is not None else "…"
    return f" (normal {lo_text}\u2013{hi_text})"


def _threshold(rule: cache.Rule, values: np.ndarray) -> np.ndarray:
    bad = np.zeros(values.shape, dtype=bool)
    if rule.low is not None:
        bad |= values < rule.low
    if rule.high is not None:
        bad |= values > rule.high
    return bad


def lr_judged(steps: np.ndarray, run_rules: cache.RunRules) -> np.ndarray:
    """Which of these steps an lr threshold judges: from the end of warm-up to
    LR_JUDGED_UNTIL of the schedule (every step when the run's schedule is unknown)."""
    judged = np.ones(steps.shape, dtype=bool)
    if run_rules.warmup_steps is not None:
        judged &= steps >= run_rules.warmup_steps
    if run_rules.total_steps is not None:
        judged &= steps <= math.floor(LR_JUDGED_UNTIL * run_rules.total_steps)
    return judged


def _threshold_message(rule: cache.Rule, step: int, value: float) -> str:
    side = (
        f"below {_fmt(rule.low)}"
        if rule.low is not None and value < rule.low
        # a rule has low, high or both, and the agent sends finite values only
        else f"above {_fmt(cast(float, rule.high))}"
    )
    return f"{rule.metric} = {_fmt(value)} at step {step}: {side}{_normal(rule)}"


def _medians(history: list[float], values: np.ndarray, window: int) -> np.ndarray:
    """For each new value, the median of the `window` values before it (NaN where
    fewer than min(window, MIN_MEDIAN_POINTS) came before)."""
    combined = np.concatenate([np.asarray(history, dtype=float), values])
    start = len(history)
    out = np.full(values.shape, np.nan)
    need = min(window, MIN_MEDIAN_POINTS)
    # Points with a full window before them: all at once.
    first_full = max(start, window)
    if first_full < len(combined):
        windows = np.lib.stride_tricks.sliding_window_view(combined[:-1], window)
        out[first_full - start :] = np.median(windows[first_full - window :], axis=1)
    # The first points of a series (fewer than `window` before them): at most `window`.
    for k in range(start, min(first_full, len(combined))):
        if k >= need:
            out[k - start] = np.median(combined[max(0, k - window) : k])
    return out


def on_metrics(job_id: int, attempt: int, by_name: dict[str, tuple[list, list]]) -> None:
    """The ingest path's ``metrics`` effect. Alerts never cost a batch: a failure here is
    logged and rolled back to a savepoint, and the batch's points are kept."""
    run_rules = cache.rules_for_job(job_id)
    if run_rules is None:
        return
    try:
        with transaction.atomic():
            _evaluate_batch(run_rules, attempt, by_name)
    except Exception:
        log.exception("alert evaluation failed for job %s#%s (the batch is kept)", job_id, attempt)


def _evaluate_batch(
    run_rules: cache.RunRules, attempt: int, by_name: dict[str, tuple[list, list]]
) -> None:
    run_id = run_rules.run_id
    state, _ = AlertState.objects.get_or_create(run_id=run_id)
    open_rules = set(
        Alert.objects.filter(run_id=run_id, resolved_at__isnull=True).values_list(
            "rule_id", flat=True
        )
    )
    fire: list[tuple[cache.Rule, int, float | None, str]] = []
    clear: list[int] = []
    keep: dict[str, int] = {}  # metric -> how many recent values spike/drop rules need
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def series(name: str) -> tuple[np.ndarray, np.ndarray] | None:
        if name not in by_name:
            return None
        if name not in arrays:
            steps, values = by_name[name]
            arrays[name] = (np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=float))
        return arrays[name]

    for rule in run_rules.rules:
        if rule.kind == RuleKind.NOT_FINITE:
            event = _not_finite(rule, by_name, series)
            if event is not None:
                bad_step, last_ok = event
                if bad_step is not None and rule.id not in open_rules:
                    fire.append(
                        (
                            rule,
                            bad_step,
                            None,
                            f"{rule.metric} is NaN or infinite at step {bad_step}",
                        )
                    )
                if last_ok:
                    clear.append(rule.id)
            continue
        got = series(rule.metric)
        if got is None:
            continue
        steps, values = got
        if rule.kind == RuleKind.THRESHOLD:
            bad = _threshold(rule, values)
            if rule.metric == "lr":
                bad &= lr_judged(steps, run_rules)
            bad |= ~np.isfinite(values)
            message = _threshold_message
        else:
            keep[rule.metric] = max(keep.get(rule.metric, 0), rule.window)
            medians = _medians(state.recent.get(rule.metric, []), values, rule.window)
            with np.errstate(invalid="ignore"):
                limit = rule.factor * medians
                ok_median = medians > 0
                if rule.kind == RuleKind.SPIKE:
                    bad = ok_median & (values > limit)
                else:
                    bad = ok_median & (values < limit)

            def message(rule, step, value, medians=medians, steps=steps):
                median = float(medians[int(np.searchsorted(steps, step))])
                word = "spiked to" if rule.kind == RuleKind.SPIKE else "dropped to"
                return (
                    f"{rule.metric} {word} {_fmt(value)} at step {step}: "
                    f"{_fmt(value / median)} x its rolling median {_fmt(median)}"
                )

        if bad.any():
            if rule.id not in open_rules:
                i = int(np.argmax(bad))
                value = float(values[i])
                fire.append((rule, int(steps[i]), value, message(rule, int(steps[i]), value)))
            if not bad[-1]:
                clear.append(rule.id)
        elif rule.id in open_rules:
            clear.append(rule.id)

    for rule, step, fired_value, text in fire:
        alert_fire(rule=rule, run_id=run_id, step=step, value=fired_value, message=text)
    # A rule whose alert opened and cleared within this batch is resolved too.
    alerts_resolve(
        rule_ids=[r for r in clear if r in open_rules or any(f[0].id == r for f in fire)]
    )

    recent = dict(state.recent)
    for name, window in keep.items():
        _, values = arrays[name]
        recent[name] = (list(recent.get(name, [])) + values[-window:].tolist())[-window:]
    last_steps = [int(s[-1]) for s, _ in (by_name[n] for n in by_name) if len(s)]
    AlertState.objects.filter(pk=state.pk).update(
        attempt=attempt,
        last_metric_at=timezone.now(),
        last_step=max(last_steps) if last_steps else state.last_step,
        recent=recent,
    )


# What the training loop (gpu_agent/train/loop.py) reports at every step, when finite.
EVERY_STEP = ("loss", "lr", "tokens_per_s", "samples", "step_seconds")


def _not_finite(rule: cache.Rule, by_name, series) -> tuple[int | None, bool] | None:
    """(first bad step or None, whether the latest step is fine) for the rule's metric,
    or None when the batch says nothing about it. The agent never sends NaN or inf (they
    are not JSON): the training loop leaves a non-finite value out of the step's record,
    so for a metric reported at every step, a step where the other per-step metrics
    arrived without it is a step where it was not finite."""
    own = series(rule.metric)
    others = []
    if rule.metric in EVERY_STEP:
        others = [
            np.asarray(by_name[n][0], dtype=np.int64)
            for n in EVERY_STEP
            if n != rule.metric and n in by_name
        ]
    if own is None and not others:
        return None
    empty = np.empty(0, dtype=np.int64)
    own_steps, own_values = own if own is not None else (empty, np.empty(0))
    finite = np.isfinite(own_values)
    bad = own_steps[~finite]
    if others:
        bad = np.concatenate([bad, np.setdiff1d(np.concatenate(others), own_steps)])
    good = own_steps[finite]
    latest_good = int(good.max()) if len(good) else None
    latest_bad = int(bad.max()) if len(bad) else None
    ok = latest_good is not None and (latest_bad is None or latest_good > latest_bad)
    return (int(bad.min()) if len(bad) else None), ok


# ------------------------------------------------------------------ periodic


def evaluate_periodic(*, now: datetime | None = None) -> dict[str, int]:
    """Stall and GPU-utilisation rules of running runs; their alerts on runs that stopped
    running are resolved (the condition no longer applies)."""
    from console.fleet.models import AllocatedGpu, GpuSample
    from console.fleet.services import job_stacks_request
    from console.jobs.models import JobState

    now = now or timezone.now()
    report = {"rules": 0, "fired": 0, "resolved": 0}
    rules = list(
        AlertRule.objects.filter(
            enabled=True, kind__in=PERIODIC_KINDS, run__job__state=JobState.RUNNING
        )
        .select_related("run__job")
        .order_by("run_id", "id")
    )
    open_rules = set(
        Alert.objects.filter(resolved_at__isnull=True, rule__kind__in=PERIODIC_KINDS).values_list(
            "rule_id", flat=True
        )
    )
    states = {s.run_id: s for s in AlertState.objects.filter(run_id__in={r.run_id for r in rules})}
    watched = set()
    clear: list[int] = []
    for rule in rules:
        watched.add(rule.pk)
        report["rules"] += 1
        job = rule.run.job
        assert job is not None  # the query's run__job__state
        if rule.kind == RuleKind.STALL:
            state = states.get(rule.run_id)
            last = state.last_metric_at if state and state.attempt == job.attempt else None
            since = (
                max(t for t in (last, job.started_at) if t is not None)
                if (last or job.started_at)
                else None
            )
            if since is None:
                continue
            age = (now - since).total_seconds()
            if age > rule.window:
                if rule.pk not in open_rules:
                    step = (
                        f" (last step {state.last_step})"
                        if state and state.last_step is not None
                        else ""
                    )
                    text = f"no new metric point for {int(age)} s while running{step}"
                    if alert_fire(
                        rule=rule,
                        run_id=rule.run_id,
                        step=state.last_step if state else None,
                        value=age,
                        message=text,
                    ):
                        report["fired"] += 1
                        job_stacks_request(
                            job_id=job.pk, attempt=job.attempt, reason=f"{rule.name}: {text}"
                        )
            elif rule.pk in open_rules:
                clear.append(rule.pk)
        elif rule.kind == RuleKind.GPU_UTIL:
            gpus = list(
                AllocatedGpu.objects.filter(
                    allocation__job_id=job.pk,
                    allocation__attempt=job.attempt,
                    allocation__released_at__isnull=True,
                ).values_list("gpu_id", "gpu__node__name", "gpu__index")
            )
            if not gpus:
                continue
            names = {gpu_id: f"{node}/gpu{index}" for gpu_id, node, index in gpus}
            means = dict(
                GpuSample.objects.filter(
                    gpu_id__in=names,
                    resolution_seconds=0,
                    at__gte=now - timedelta(seconds=rule.window),
                    at__lte=now,
                )
                .values("gpu_id")
                .annotate(mean=Avg("util"))
                .values_list("gpu_id", "mean")
            )
            if not means:
                continue  # no telemetry in the window: nothing to judge
            worst = None
            for gpu_id, mean in sorted(means.items()):
                if mean is None or not math.isfinite(mean):
                    continue
                if (rule.low is not None and mean < rule.low) or (
                    rule.high is not None and mean > rule.high
                ):
                    worst = worst or (gpu_id, mean)
            if worst is not None:
                if rule.pk not in open_rules:
                    gpu_id, mean = worst
                    side = (
                        f"below {rule.low:g}"
                        if rule.low is not None and mean < rule.low
                        else f"above {rule.high:g}"
                    )
                    text = (
                        f"{names[gpu_id]} utilisation {mean:.0f}% (mean over {rule.window} s): "
                        f"{side}%{_normal(rule)}"
                    )
                    if alert_fire(
                        rule=rule, run_id=rule.run_id, step=None, value=mean, message=text
                    ):
                        report["fired"] += 1
            elif rule.pk in open_rules:
                clear.append(rule.pk)
    # Periodic alerts whose run no longer runs (or whose rule is off): resolved.
    clear.extend(open_rules - watched)
    report["resolved"] = alerts_resolve(rule_ids=clear)
    return report
