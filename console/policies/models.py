"""Launch policies: which runs of a project wait for a reviewer before they dispatch,
and the record of each run that had to (why, the estimate, who decided and how)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from gpu_agent.train.presets import CUSTOM, PRESETS


class RunApprovalPolicy(models.Model):
    """Set by an admin, one per project. A run waits for approval when any threshold is
    exceeded or its preset is listed; an empty threshold does not apply."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="run_approval_policy"
    )
    enabled = models.BooleanField(default=True)
    max_gpu_hours = models.FloatField(
        null=True,
        blank=True,
        help_text="Estimated GPU-hours (GPUs x nodes x estimated hours) above which a run waits.",
    )
    max_cost = models.FloatField(
        null=True,
        blank=True,
        help_text="Estimated cost (GPU-hours x FORGE_GPU_HOUR_PRICE) above which a run waits.",
    )
    presets = models.JSONField(
        default=list,
        blank=True,
        help_text='Presets whose every run waits, e.g. ["deepseek-7b"].',
    )
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "run approval policies"

    def __str__(self) -> str:
        return f"Run approval policy of {self.project}"

    def clean(self) -> None:
        known = [*PRESETS, CUSTOM]
        if not isinstance(self.presets, list) or not all(
            isinstance(p, str) and p in known for p in self.presets
        ):
            raise ValidationError({"presets": f"a list of preset names from {', '.join(known)}"})
        for name in ("max_gpu_hours", "max_cost"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValidationError({name: "must be 0 or more"})


class Decision(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RunApproval(models.Model):
    """A run the policy held: the reasons, the estimate, and the reviewer's decision."""

    run = models.OneToOneField("runs.Run", on_delete=models.CASCADE, related_name="approval")
    reasons = models.JSONField(default=list)
    estimate = models.JSONField(default=dict)
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Approval of run {self.run_id} ({self.decision})"
