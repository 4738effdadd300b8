from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval", "awaiting approval"
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
ACTIVE_STATES = frozenset(set(JobState) - TERMINAL_STATES)


class Job(models.Model):
    """Every long-running thing (pipelines, training, quantization, evaluation, export).

    PostgreSQL holds the truth; Celery only carries messages. ``attempt`` is the
    fencing token: a message for an older attempt cannot claim the job.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=20, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    spec = models.JSONField(default=dict, help_text="Exactly the validated spec the executor runs.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    queue = models.CharField(max_length=100, blank=True, help_text="Celery queue that executes it.")

    requires_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    not_before = models.DateTimeField(
        null=True, blank=True, help_text="Do not start before this time."
    )
    deadline = models.DateTimeField(null=True, blank=True, help_text="Should finish by this time.")

    # Carbon-aware scheduling (console.carbon): the scheduler picks the start (and, when
    # interruptible, the windows) with the lowest forecast emissions before the deadline.
    carbon_aware = models.BooleanField(default=False)
    carbon_interruptible = models.BooleanField(default=False)
    expected_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expected running time (estimated when not given)."
    )
    carbon_plan = models.JSONField(null=True, blank=True, help_text="The scheduler's decision.")
    attempt = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)

    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=300, blank=True)
    log_tail = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    checkpoint = models.JSONField(null=True, blank=True, help_text="Where to resume from.")
    error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last message sent for it.")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "enqueued_at"])]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.kind})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    # -- the carbon plan, read for pages (console.carbon writes it)

    @property
    def carbon_windows(self) -> list[tuple[datetime, datetime]]:
        return [
            (datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in (self.carbon_plan or {}).get("windows") or []
        ]

    @property
    def carbon_start(self) -> datetime | None:
        start = (self.carbon_plan or {}).get("start")
        return datetime.fromisoformat(start) if start else None

    @property
    def carbon_expected_kg(self) -> float:
        return float((self.carbon_plan or {}).get("expected_g") or 0) / 1000

    @property
    def carbon_now_kg(self) -> float:
        return float((self.carbon_plan or {}).get("now_g") or 0) / 1000

    @property
    def carbon_hours(self) -> float:
        return float((self.carbon_plan or {}).get("expected_seconds") or 0) / 3600

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()
