"""Model versions (immutable Hugging Face folders with safetensors weights, made by a
``model.export`` or ``model.quantize`` job) and their evaluations.

A ModelVersion row is created only by ``services.model_job_left_active``, in the
transaction that marks its job succeeded. Nothing about a version changes after that
but its ``status``, and only through ``services.model_version_set_status`` (the
governance issue owns approval and production). ``save()`` refuses changes to the
frozen fields as a second line of defence.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Status(models.TextChoices):
    DRAFT = "draft"
    IN_REVIEW = "in_review", "in review"
    APPROVED = "approved"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class Kind(models.TextChoices):
    EXPORT = "export"
    QUANTIZED = "quantized"
    ONNX = "onnx"


class Precision(models.TextChoices):
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    INT8 = "int8"
    INT4 = "int4"
    FP8 = "fp8"


class WeightFormat(models.TextChoices):
    HF = "hf", "Hugging Face (safetensors)"
    COMPRESSED_TENSORS = "compressed-tensors", "compressed-tensors (transformers, vLLM, TGI)"
    # Forge's own int8/int4 layout of before December 2026: only Forge loaded it.
    FORGE_LEGACY = "forge-legacy", "Forge-only (legacy): re-quantize"
    ONNX = "onnx", "ONNX (onnxruntime, TensorRT)"


class ModelVersion(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="model_versions"
    )
    name = models.CharField(max_length=100, help_text="The model's name.")
    number = models.PositiveIntegerField(help_text="1, 2, … per project and name.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.EXPORT)
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.PROTECT, related_name="model_versions"
    )
    checkpoint = models.ForeignKey(
        "runs.Checkpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="model_versions",
    )
    step = models.PositiveBigIntegerField(null=True, blank=True, help_text="Checkpoint step.")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    precision = models.CharField(max_length=10, choices=Precision.choices, default=Precision.FP32)
    quant_method = models.CharField(max_length=40, blank=True)
    group_size = models.PositiveIntegerField(null=True, blank=True)
    weight_format = models.CharField(
        max_length=40, choices=WeightFormat.choices, default=WeightFormat.HF
    )
    folder = models.CharField(max_length=255, unique=True, help_text="Under FORGE_MODELS_DIR.")
    files = models.JSONField(default=list, help_text='[{"path", "bytes", "sha256"}]')
    size_bytes = models.BigIntegerField(default=0)
    lineage = models.JSONField(default=dict, blank=True)
    measured = models.JSONField(default=dict, blank=True)
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_version"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Everything but status (and measured, which a measurement fills in once) is frozen.
    MUTABLE = frozenset({"status", "measured"})

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "number"], name="registry_uniq_version"
            )
        ]

    def __str__(self) -> str:
        suffix = f" ({self.quant_method or self.precision})" if self.kind == Kind.QUANTIZED else ""
        return f"{self.name} v{self.number}{suffix}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            old = type(self).objects.filter(pk=self.pk).values().first()
            if old is not None:
                changed = [
                    f.attname
                    for f in self._meta.concrete_fields
                    if f.attname not in self.MUTABLE
                    and f.name not in self.MUTABLE
                    and old[f.attname] != getattr(self, f.attname)
                ]
                if changed:
                    raise ValidationError(
                        f"A model version is immutable; refused change of {', '.join(changed)}."
                    )
        super().save(*args, **kwargs)

    @property
    def is_legacy(self) -> bool:
        return self.weight_format == WeightFormat.FORGE_LEGACY


class EvalKind(models.TextChoices):
    PERPLEXITY = "perplexity"
    GENERATION = "generation"


class Evaluation(models.Model):
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="evaluations"
    )
    kind = models.CharField(max_length=20, choices=EvalKind.choices)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluation"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.model_version}"


class RatingScale(models.TextChoices):
    THUMBS = "thumbs", "thumbs (up or down)"
    STARS = "stars", "1 to 5 stars"


class Sentiment(models.TextChoices):
    """A rating read the same way on both scales: thumbs up or 4-5 stars is positive,
    thumbs down or 1-2 stars negative, 3 stars neutral."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class FeedbackSource(models.TextChoices):
    PLAYGROUND = "playground"
    API = "api", "API (an application)"


class Feedback(models.Model):
    """One rated prediction of a model version: its prompt, its output, the sampling
    settings that made it, a rating, and optionally a correction (the answer the rater
    would have wanted). Written only by ``feedback.feedback_create``, with PII masked
    by the data pipeline's detectors before it is stored; never changed afterwards."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="feedback"
    )
    prompt = models.TextField()
    output = models.TextField()
    sampling = models.JSONField(default=dict, blank=True)
    scale = models.CharField(max_length=10, choices=RatingScale.choices)
    rating = models.SmallIntegerField(help_text="thumbs: -1 or 1; stars: 1 to 5.")
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices)
    correction = models.TextField(blank=True, help_text="The answer the rater wanted.")
    flagged = models.BooleanField(default=False, help_text="Sent for a person to look at.")
    comment = models.CharField(max_length=500, blank=True)
    pii_masked = models.JSONField(default=dict, blank=True, help_text="PII type -> spans masked.")
    source = models.CharField(max_length=20, choices=FeedbackSource.choices)
    app = models.CharField(max_length=100, blank=True, help_text="The application that sent it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["model_version", "-created_at"], name="registry_fb_version")
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scale="thumbs", rating__in=[-1, 1])
                    | models.Q(scale="stars", rating__gte=1, rating__lte=5)
                ),
                name="registry_fb_rating_in_scale",
            )
        ]

    def __str__(self) -> str:
        return f"{self.sentiment} feedback on {self.model_version}"

    @property
    def rating_label(self) -> str:
        if self.scale == RatingScale.THUMBS:
            return "good" if self.rating > 0 else "bad"
        return "★" * self.rating + "☆" * (5 - self.rating)
