"""Which jobs are runs, and their enabled ingest-path rules, cached per process.

The ingest path's ``metrics`` effect asks for every batch; one query per job every few
seconds answers it (a job that is not a run caches as "no rules"). Edits made in this process are
seen at once (services call forget()); other processes see them within
FORGE_ALERT_RULE_CACHE_SECONDS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    kind: str
    metric: str
    low: float | None
    high: float | None
    factor: float | None
    window: int
    normal_low: float | None
    normal_high: float | None
    severity: str


@dataclass(frozen=True)
class RunRules:
    run_id: int
    rules: tuple[Rule, ...]
    # The run's learning-rate schedule (its spec's scheduler), None when unknown.
    warmup_steps: int | None = None
    total_steps: int | None = None


_entries: dict[int, tuple[float, RunRules | None]] = {}


def rules_for_job(job_id: int) -> RunRules | None:
    """The run of this job and its enabled metric rules; None when it has none."""
    now = time.monotonic()
    hit = _entries.get(job_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    from console.alerts.models import METRIC_KINDS, AlertRule

    rows = list(
        AlertRule.objects.filter(run__job_id=job_id, enabled=True, kind__in=METRIC_KINDS)
        .order_by("id")
        .values_list(
            "run_id",
            "id",
            "name",
            "kind",
            "metric",
            "low",
            "high",
            "factor",
            "window",
            "normal_low",
            "normal_high",
            "severity",
            "run__spec__scheduler__warmup_steps",
            "run__spec__scheduler__total_steps",
        )
    )
    value = (
        RunRules(
            run_id=rows[0][0],
            rules=tuple(Rule(*row[1:-2]) for row in rows),
            warmup_steps=_int(rows[0][-2]),
            total_steps=_int(rows[0][-1]),
        )
        if rows
        else None
    )
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[job_id] = (now + settings.FORGE_ALERT_RULE_CACHE_SECONDS, value)
    return value


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def forget(job_id: int | None) -> None:
    if job_id is not None:
        _entries.pop(job_id, None)


def clear() -> None:
    _entries.clear()
