"""Alert reads, scoped through the run (another team's run is absent: 404)."""

from __future__ import annotations

from django.db.models import QuerySet

from console.alerts.models import Alert, AlertRule, RuleKind
from console.fleet.models import StackDump
from console.runs.models import Run
from console.runs.selectors import run_get


def run_for_alerts(*, user, run_id: int) -> Run | None:
    return run_get(user=user, run_id=run_id)


def rule_list(*, run: Run) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(run=run).order_by("id")


def rule_get(*, run: Run, rule_id: int) -> AlertRule | None:
    return rule_list(run=run).filter(pk=rule_id).first()


def alert_list(*, run: Run, open_only: bool = False) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(run=run).select_related("rule", "acknowledged_by")
    if open_only:
        alerts = alerts.filter(resolved_at__isnull=True)
    return alerts


def alert_get(*, run: Run, alert_id: int) -> Alert | None:
    return alert_list(run=run).filter(pk=alert_id).first()


def stack_dumps(*, run: Run, limit: int = 5) -> list[StackDump]:
    """The latest Python stacks read from the run's processes (a stall, or a job stuck
    before its first step), newest first."""
    if run.job_id is None:
        return []
    return list(StackDump.objects.filter(job_id=run.job_id).select_related("node")[:limit])


def with_stacks(alerts: list[Alert], dumps: list[StackDump]) -> list[Alert]:
    """Each stall alert gets ``stacks``: the first dump read while it was open."""
    for alert in alerts:
        alert.stacks = None
        if alert.rule.kind != RuleKind.STALL:
            continue
        for dump in reversed(dumps):  # oldest first
            if dump.captured_at >= alert.fired_at and (
                alert.resolved_at is None or dump.captured_at <= alert.resolved_at
            ):
                alert.stacks = dump
                break
    return alerts
