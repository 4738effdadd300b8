from __future__ import annotations

from django.db import models


class Method(models.TextChoices):
    NVML = "nvml", "NVML power samples"
    POWER_MODEL = "power model", "node power model"
    MIXED = "mixed", "NVML samples and the node power model"


class JobUsage(models.Model):
    """Energy, emissions and cost of one job over all its allocations (attempts x nodes).

    Written only by ``services.job_usage_refresh``: live while the job runs, ``final``
    once it is terminal and its late telemetry has had time to arrive."""

    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="usage")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day (UTC) of the month the job finished or started.")
    energy_kwh = models.FloatField(default=0.0)
    gco2e = models.FloatField(
        null=True, blank=True, help_text="Empty when no carbon intensity was available."
    )
    mean_intensity_g_per_kwh = models.FloatField(null=True, blank=True)
    intensity_source = models.CharField(max_length=200, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    currency = models.CharField(max_length=8, default="USD")
    gpu_hours = models.FloatField(default=0.0)
    node_hours = models.FloatField(default=0.0)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.NVML)
    breakdown = models.JSONField(default=list, help_text="One entry per allocation.")
    computed_at = models.DateTimeField()
    final = models.BooleanField(default=False)

    class Meta:
        ordering = ["-month", "-energy_kwh"]
        indexes = [
            models.Index(fields=["project", "month"]),
            models.Index(fields=["month"]),
            models.Index(fields=["final", "computed_at"]),
        ]

    def __str__(self) -> str:
        return f"usage of job {self.job_id}: {self.energy_kwh:.3f} kWh"

    @property
    def kgco2e(self) -> float | None:
        return None if self.gco2e is None else self.gco2e / 1000.0
