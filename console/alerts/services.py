"""Alert writes: default rules for a new run, rule edits, webhook settings,
acknowledgement, firing and resolving alerts, and sending them to the webhook.

Evaluation itself (which points break which rule) is console.alerts.evaluate."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.alerts import cache, webhooks
from console.alerts.defaults import rules_for_run
from console.alerts.models import Alert, AlertRule, AlertSettings, RuleKind, Severity
from console.audit.services import audit_record
from console.core.errors import FieldErrors, Forbidden
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.runs.models import Run

log = logging.getLogger(__name__)

RULE_FIELDS = (
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
    "enabled",
)
METRIC_NEEDED = {RuleKind.THRESHOLD, RuleKind.NOT_FINITE, RuleKind.SPIKE, RuleKind.DROP}


def _require_write(actor: Actor | None) -> None:
    if actor is not None and not has_cap(actor, Cap.TRAINING_WRITE):
        raise Forbidden(f"Editing alert rules needs the '{Cap.TRAINING_WRITE.value}' permission.")


# ------------------------------------------------------------------ rules


def rules_create_defaults(*, run: Run) -> int:
    """Give a run the default rules, scaled to its preset, vocabulary and learning rate
    (``defaults.rules_for_run``); once: a run that has rules keeps them."""
    if AlertRule.objects.filter(run=run).exists():
        return 0
    rules = rules_for_run(run)
    AlertRule.objects.bulk_create([AlertRule(run=run, **rule) for rule in rules])
    cache.forget(run.job_id)
    return len(rules)


def _number(errors: dict[str, list[str]], data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None or value == "":
        data[name] = None
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.setdefault(name, []).append("must be a number")
        return None
    if not math.isfinite(number) or abs(number) > 1e300:
        errors.setdefault(name, []).append("must be a finite number")
        return None
    data[name] = number
    return number


def rule_clean(data: dict[str, Any]) -> dict[str, Any]:
    """Check a whole rule (every field of RULE_FIELDS); the cleaned fields, or FieldErrors."""
    data = {name: data.get(name) for name in RULE_FIELDS}
    errors: dict[str, list[str]] = {}
    name = str(data["name"] or "").strip()
    if not name or len(name) > 64:
        errors["name"] = ["must be 1-64 characters"]
    data["name"] = name
    kind = data["kind"]
    if kind not in RuleKind.values:
        errors["kind"] = [f"must be one of {', '.join(RuleKind.values)}"]
    metric = str(data["metric"] or "").strip()
    if len(metric) > 64:
        errors["metric"] = ["must be at most 64 characters"]
    elif kind in METRIC_NEEDED and not metric:
        errors["metric"] = [f"a {kind} rule needs the metric it watches"]
    elif kind == RuleKind.GPU_UTIL and metric:
        errors["metric"] = ["a GPU rule watches the run's GPUs, not a metric: leave it blank"]
    data["metric"] = metric
    low, high = _number(errors, data, "low"), _number(errors, data, "high")
    factor = _number(errors, data, "factor")
    normal_low = _number(errors, data, "normal_low")
    normal_high = _number(errors, data, "normal_high")
    window = data["window"]
    if window in (None, ""):
        window = 0
    try:
        window = int(window)
        if isinstance(data["window"], float) and data["window"] != window:
            raise ValueError
    except (TypeError, ValueError):
        errors["window"] = ["must be a whole number"]
        window = 0
    data["window"] = window
    if kind in (RuleKind.THRESHOLD, RuleKind.GPU_UTIL):
        if low is None and high is None and "low" not in errors and "high" not in errors:
            errors["high"] = ["give low, high or both"]
        if low is not None and high is not None and low >= high:
            errors["high"] = ["must be above low"]
    if kind == RuleKind.GPU_UTIL:
        for field, value in (("low", low), ("high", high)):
            if value is not None and not 0 <= value <= 100:
                errors.setdefault(field, []).append("GPU utilisation is 0-100 (%)")
    if kind == RuleKind.SPIKE and (factor is None or factor <= 1):
        errors.setdefault("factor", []).append("a spike rule needs a factor above 1")
    if kind == RuleKind.DROP and (factor is None or not 0 < factor < 1):
        errors.setdefault("factor", []).append("a drop rule needs a factor between 0 and 1")
    spiky = kind in (RuleKind.SPIKE, RuleKind.DROP)
    if spiky and "window" not in errors and not 3 <= window <= 1000:
        errors["window"] = ["the rolling median needs 3-1000 points"]
    timed = kind in (RuleKind.STALL, RuleKind.GPU_UTIL)
    if timed and "window" not in errors and not 1 <= window <= 7 * 86400:
        errors["window"] = ["must be 1 second to 7 days"]
    if normal_low is not None and normal_high is not None and normal_low > normal_high:
        errors["normal_high"] = ["must not be below normal_low"]
    severity = data["severity"] or Severity.WARNING
    if severity not in Severity.values:
        errors["severity"] = [f"must be one of {', '.join(Severity.values)}"]
    data["severity"] = severity
    enabled = data["enabled"]
    data["enabled"] = True if enabled is None else enabled
    if not isinstance(data["enabled"], bool):
        errors["enabled"] = ["must be true or false"]
    if errors:
        raise FieldErrors(errors)
    return data


def _rule_dict(rule: AlertRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


def _name_taken(run: Run, name: str, exclude: int | None = None) -> bool:
    rules = AlertRule.objects.filter(run=run, name=name)
    if exclude is not None:
        rules = rules.exclude(pk=exclude)
    return rules.exists()


@transaction.atomic
def rule_create(*, actor: Actor, run: Run, data: dict[str, Any]) -> AlertRule:
    _require_write(actor)
    fields = rule_clean(data)
    if _name_taken(run, fields["name"]):
        raise FieldErrors({"name": ["this run already has a rule of that name"]})
    rule = AlertRule.objects.create(run=run, **fields)
    audit_record(
        action="alert_rule.create",
        actor=actor,
        obj=rule,
        project_id=run.project_id,
        after=_rule_dict(rule),
    )
    cache.forget(run.job_id)
    return rule


@transaction.atomic
def rule_update(*, actor: Actor, rule: AlertRule, data: dict[str, Any]) -> AlertRule:
    """Change some fields of a rule (the others keep their values). A rule disabled, or
    changed to watch something else, resolves its open alert."""
    _require_write(actor)
    rule = AlertRule.objects.select_for_update().select_related("run").get(pk=rule.pk)
    before = _rule_dict(rule)
    fields = rule_clean({**before, **{k: v for k, v in data.items() if k in RULE_FIELDS}})
    if fields["name"] != rule.name and _name_taken(rule.run, fields["name"], exclude=rule.pk):
        raise FieldErrors({"name": ["this run already has a rule of that name"]})
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()
    changed = {k: v for k, v in fields.items() if before[k] != v}
    if not rule.enabled or {"kind", "metric"} & changed.keys():
        alerts_resolve(rule_ids=[rule.pk])
    if changed:
        audit_record(
            action="alert_rule.update",
            actor=actor,
            obj=rule,
            project_id=rule.run.project_id,
            before={k: before[k] for k in changed},
            after=changed,
        )
    cache.forget(rule.run.job_id)
    return rule


@transaction.atomic
def rule_delete(*, actor: Actor, rule: AlertRule) -> None:
    _require_write(actor)
    run = rule.run
    audit_record(
        action="alert_rule.delete",
        actor=actor,
        obj=rule,
        project_id=run.project_id,
        before=_rule_dict(rule),
    )
    rule.delete()
    cache.forget(run.job_id)


# ------------------------------------------------------------------ webhook settings


def alert_settings_set(*, actor: Actor, run: Run, webhook_url: str) -> AlertSettings:
    """The run's own webhook ("" = the console's default), refused when it points at a
    loopback, link-local or private address (S9) or cannot be resolved. A refusal is
    audit-logged (outside the write's transaction, so it stays)."""
    _require_write(actor)
    url = (webhook_url or "").strip()
    if len(url) > 500:
        raise FieldErrors({"webhook_url": ["must be at most 500 characters"]})
    problem = webhooks.url_problem(url) if url else ""
    if problem:
        audit_record(
            action="alert.webhook_refused",
            actor=actor,
            obj=run,
            after={"url": url[:200], "reason": problem},
        )
        raise FieldErrors({"webhook_url": [problem]})
    with transaction.atomic():
        row, _ = AlertSettings.objects.select_for_update().get_or_create(run=run)
        before = row.webhook_url
        row.webhook_url = url
        row.save()
        audit_record(
            action="alert.settings",
            actor=actor,
            obj=run,
            before={"webhook_url": before},
            after={"webhook_url": url},
        )
    return row


def webhook_url_for(run_id: int) -> str:
    own = AlertSettings.objects.filter(run_id=run_id).values_list("webhook_url", flat=True).first()
    return own or settings.FORGE_ALERT_WEBHOOK_URL


# ------------------------------------------------------------------ alerts


def alert_fire(
    *, rule: Any, run_id: int, step: int | None, value: float | None, message: str
) -> Alert | None:
    """Open an alert for the rule unless one is open already (then nothing happens);
    the webhook is sent after the surrounding transaction commits."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                run_id=run_id,
                rule_id=rule.id,
                severity=rule.severity,
                step=step,
                value=value if value is None or math.isfinite(value) else None,
                message=message[:500],
            )
    except IntegrityError:
        return None  # one is open already (the partial unique index)
    if webhook_url_for(run_id):
        alert_id = alert.pk
        transaction.on_commit(lambda: _notify(alert_id))
    return alert


def _notify(alert_id: int) -> None:
    """Send task ``alerts.notify`` (console/alerts/tasks.py) by its name: this module is
    below the tasks module, which calls it (a process that has the task registered, a
    worker or an eager test, runs it as ``.delay`` would)."""
    from workers.celery import app

    app.signature("alerts.notify", args=(alert_id,)).delay()


def alerts_resolve(*, rule_ids: list[int]) -> int:
    if not rule_ids:
        return 0
    return Alert.objects.filter(rule_id__in=rule_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


@transaction.atomic
def alert_acknowledge(*, actor: Actor, alert: Alert) -> Alert:
    _require_write(actor)
    updated = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor
    )
    alert.refresh_from_db()
    if updated:
        audit_record(
            action="alert.acknowledge",
            actor=actor,
            obj=alert,
            project_id=alert.run.project_id,
        )
    return alert


def _payload(alert: Alert) -> dict[str, Any]:
    path = f"/runs/{alert.run_id}/#alerts"
    return {
        "run": {"id": alert.run_id, "name": alert.run.name, "project": alert.run.project.slug},
        "rule": {"id": alert.rule_id, "name": alert.rule.name, "kind": alert.rule.kind},
        "severity": alert.severity,
        "value": alert.value,
        "step": alert.step,
        "message": alert.message,
        "fired_at": alert.fired_at.isoformat(),
        "resolved": alert.resolved_at is not None,
        "link": settings.FORGE_ALERT_BASE_URL.rstrip("/") + path,
    }


def alert_notify(*, alert_id: int) -> str:
    """Send one alert to its run's webhook (once: a delivered alert is not sent again).
    Raises webhooks.WebhookFailed for a transient failure, for the task to retry."""
    alert = Alert.objects.select_related("run", "run__project", "rule").filter(pk=alert_id).first()
    if alert is None or alert.notified_at is not None:
        return "skipped"
    url = webhook_url_for(alert.run_id)
    if not url:
        return "no webhook"
    try:
        webhooks.post_json(url, _payload(alert))
    except webhooks.WebhookRefused as exc:
        Alert.objects.filter(pk=alert.pk).update(notify_error=f"refused: {exc}"[:500])
        audit_record(
            action="alert.webhook_refused",
            actor=None,
            obj=alert,
            project_id=alert.run.project_id,
            after={"url": url[:200], "reason": str(exc)[:300]},
        )
        log.warning("alert %s: webhook refused: %s", alert.pk, exc)
        return "refused"
    except webhooks.WebhookFailed as exc:
        Alert.objects.filter(pk=alert.pk).update(notify_error=f"failed: {exc}"[:500])
        raise
    Alert.objects.filter(pk=alert.pk).update(notified_at=timezone.now(), notify_error="")
    return "sent"
