from __future__ import annotations

from django.db import models


class MetricPoint(models.Model):
    """One point of one metric series of a job (loss at step 1200, say)."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="+", db_index=False)
    attempt = models.PositiveIntegerField()
    name = models.CharField(max_length=64)
    step = models.BigIntegerField()
    value = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["job", "name", "step"], name="metric_job_name_step")]

    def __str__(self) -> str:
        return f"{self.name}@{self.step}={self.value}"
