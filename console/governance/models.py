"""Governance: checklist templates, and reviews of model versions against them.

A Review copies its template's items into ReviewItem rows when it opens, so editing a
template never changes a running review. Nothing here changes state by itself: every
transition goes through ``console.governance.services`` (browser, API and admin alike).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class EvidenceKind(models.TextChoices):
    TEXT = "text"
    LINK = "link"
    FILE = "file"
    CHECK = "check", "automated check"


class CheckKind(models.TextChoices):
    NONE = "none"
    BIAS = "bias"
    TOXICITY = "toxicity"
    PII = "pii", "PII leakage"
    FACTCHECK = "factcheck", "fact check"


class EvidenceStorage(FileSystemStorage):
    """Evidence files live under FORGE_DATA_DIR/governance/, read at each use (not at
    import), so the setting may change under tests and between deployments."""

    @property
    def base_location(self) -> str:
        return str(Path(settings.FORGE_DATA_DIR) / "governance")

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def evidence_storage() -> FileSystemStorage:
    return EvidenceStorage()


def _evidence_path(item: ReviewItem, filename: str) -> str:
    return f"review-{item.review_id}/item-{item.pk}/{Path(filename).name}"


def _check_kinds(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("List one or more of: " + ", ".join(EvidenceKind.values) + ".")
    bad = [v for v in value if v not in EvidenceKind.values]
    if bad:
        raise ValidationError(f"Unknown evidence kinds: {bad}; use {EvidenceKind.values}.")


def _all_kinds() -> list[str]:
    return list(EvidenceKind.values)


class ChecklistTemplate(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    required_approvers = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Distinct reviewers (never the submitter) who must approve.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=50)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    evidence_kinds = models.JSONField(
        default=_all_kinds,
        validators=[_check_kinds],
        help_text='Allowed evidence, a list of "text", "link", "file", "check".',
    )
    check_kind = models.CharField(max_length=20, choices=CheckKind.choices, default=CheckKind.NONE)
    threshold = models.FloatField(null=True, blank=True, help_text="Pass threshold of the check.")
    required = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["template", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="governance_uniq_item_key")
        ]

    def __str__(self) -> str:
        return self.title


class ReviewState(models.TextChoices):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review", "in review"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested", "changes requested"
    REJECTED = "rejected"


OPEN_STATES = (
    ReviewState.DRAFT,
    ReviewState.SUBMITTED,
    ReviewState.IN_REVIEW,
    ReviewState.CHANGES_REQUESTED,
)
FINAL_STATES = (ReviewState.APPROVED, ReviewState.REJECTED)


class Review(models.Model):
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="reviews"
    )
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(
        ChecklistTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template_name = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=ReviewState.choices, default=ReviewState.DRAFT)
    round = models.PositiveSmallIntegerField(
        default=1, help_text="1, then +1 at each resubmission after changes were requested."
    )
    required_approvers = models.PositiveSmallIntegerField(default=2)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(state__in=[s.value for s in OPEN_STATES]),
                name="governance_one_open_review",
            )
        ]

    def __str__(self) -> str:
        return f"Review {self.pk} of {self.version}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def editable(self) -> bool:
        return self.state in (ReviewState.DRAFT, ReviewState.CHANGES_REQUESTED)

    @property
    def decidable(self) -> bool:
        return self.state in (ReviewState.SUBMITTED, ReviewState.IN_REVIEW)


class ReviewItem(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=50)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    evidence_kinds = models.JSONField(default=_all_kinds)
    check_kind = models.CharField(max_length=20, choices=CheckKind.choices, default=CheckKind.NONE)
    threshold = models.FloatField(null=True, blank=True)
    required = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)
    evidence_text = models.TextField(blank=True)
    evidence_link = models.URLField(max_length=500, blank=True)
    evidence_file = models.FileField(
        storage=evidence_storage, upload_to=_evidence_path, max_length=255, blank=True
    )
    check_result = models.JSONField(null=True, blank=True)
    check_job = models.ForeignKey(
        "jobs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The last automated check job started on this item.",
    )
    passed = models.BooleanField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["review", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "key"], name="governance_uniq_review_item")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def has_evidence(self) -> bool:
        return bool(
            self.evidence_text.strip()
            or self.evidence_link
            or self.evidence_file
            or self.check_result is not None
        )


class DecisionKind(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes", "request changes"


class Decision(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="decisions")
    round = models.PositiveSmallIntegerField(default=1)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=20, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "round", "reviewer"], name="governance_one_decision_per_reviewer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision}"
