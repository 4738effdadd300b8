"""Alert rules for training runs, the alerts they fire, and where a run's alerts are sent.

A rule watches one metric of one run (or the GPUs the run holds, or the flow of its
metrics). An alert stays open while its rule's condition holds and is resolved when
it clears: at most one open alert per rule (a partial unique index), so a condition
that holds for hours is one alert, not one per point.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from console.fleet.models import StackDump


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "value below low or above high"
    NOT_FINITE = "not_finite", "value NaN or infinite"
    SPIKE = "spike", "value above factor x rolling median"
    DROP = "drop", "value below factor x rolling median"
    STALL = "stall", "no new metric point for window seconds"
    GPU_UTIL = "gpu_util", "GPU utilisation (%) below low or above high"


class Severity(models.TextChoices):
    WARNING = "warning"
    CRITICAL = "critical"


# Kinds evaluated on the ingest path, as points arrive; the others by the periodic task.
METRIC_KINDS = frozenset({RuleKind.THRESHOLD, RuleKind.NOT_FINITE, RuleKind.SPIKE, RuleKind.DROP})
PERIODIC_KINDS = frozenset({RuleKind.STALL, RuleKind.GPU_UTIL})


class AlertRule(models.Model):
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    metric = models.CharField(
        max_length=64, blank=True, help_text="The metric watched (blank for GPU and stall rules)."
    )
    low = models.FloatField(null=True, blank=True, help_text="Alert below this.")
    high = models.FloatField(null=True, blank=True, help_text="Alert above this.")
    factor = models.FloatField(
        null=True, blank=True, help_text="Spike: above factor x median. Drop: below it."
    )
    window = models.PositiveIntegerField(
        default=0,
        help_text="Spike/drop: points in the rolling median. Stall and GPU: seconds.",
    )
    normal_low = models.FloatField(null=True, blank=True, help_text="Normal range, for display.")
    normal_high = models.FloatField(null=True, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="alerts_rule_run_name")]

    def __str__(self) -> str:
        return f"{self.name} (run {self.run_id})"

    @property
    def normal(self) -> str:
        """The normal range, as shown: "1.8 to 2.5" (with an en dash), "≥ 85", or ""."""
        lo, hi = self.normal_low, self.normal_high
        if lo is not None and hi is not None:
            return f"{_num(lo)}\u2013{_num(hi)}"
        if lo is not None:
            return f"≥ {_num(lo)}"
        if hi is not None:
            return f"≤ {_num(hi)}"
        return ""

    @property
    def condition(self) -> str:
        """When it fires, in words."""
        what = self.metric or "GPU utilisation"
        if self.kind in (RuleKind.THRESHOLD, RuleKind.GPU_UTIL):
            parts = []
            if self.low is not None:
                parts.append(f"below {_num(self.low)}")
            if self.high is not None:
                parts.append(f"above {_num(self.high)}")
            unit = "%" if self.kind == RuleKind.GPU_UTIL else ""
            tail = f" (mean over {self.window} s)" if self.kind == RuleKind.GPU_UTIL else ""
            return f"{what} {' or '.join(parts)}{unit}{tail}"
        if self.kind == RuleKind.NOT_FINITE:
            return f"{what} is NaN or infinite"
        if self.kind == RuleKind.SPIKE:
            return f"{what} above {_num(self.factor)} x median of the last {self.window} points"
        if self.kind == RuleKind.DROP:
            return f"{what} below {_num(self.factor)} x median of the last {self.window} points"
        return f"no new metric point for {self.window} s while running"


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:g}"


class Alert(models.Model):
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    fired_at = models.DateTimeField(auto_now_add=True)
    step = models.BigIntegerField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True, help_text="Webhook delivered.")
    notify_error = models.CharField(max_length=500, blank=True)
    # a stall alert's first stack dump, set by selectors.with_stacks (not a column)
    stacks: StackDump | None

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"], condition=Q(resolved_at__isnull=True), name="alerts_one_open"
            )
        ]
        indexes = [models.Index(fields=["run", "resolved_at"], name="alerts_run_open")]

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertSettings(models.Model):
    """Where a run's alerts go: its own webhook, else FORGE_ALERT_WEBHOOK_URL."""

    run = models.OneToOneField(
        "runs.Run", on_delete=models.CASCADE, primary_key=True, related_name="alert_settings"
    )
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Blank: the console's default webhook."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"alert settings of run {self.run_id}"


class AlertState(models.Model):
    """What the ingest-path evaluator keeps between batches of one run: when its last
    metric point came (for stall rules) and recent values of the metrics that spike and
    drop rules compare against their rolling median."""

    run = models.OneToOneField(
        "runs.Run", on_delete=models.CASCADE, primary_key=True, related_name="alert_state"
    )
    attempt = models.PositiveIntegerField(default=0)
    last_metric_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(null=True, blank=True)
    recent = models.JSONField(default=dict, help_text="{metric: [recent values, oldest first]}")

    def __str__(self) -> str:
        return f"alert state of run {self.run_id}"
