"""Metric storage: points in packed chunks, plus exact rollups for charts.

A training run reports tens of metrics at every step; one database row per point
makes PostgreSQL, not Python, the ceiling of ingest. So points arrive and are
kept as chunks: one row per series per ingested batch, with the steps and values
packed as little-endian int64 and float64 arrays. Charts of long series read
rollups (count, first and last step, min and max with their steps, per block of
2**level steps) that the same transaction merges; every point stays available
for export and zoom (console.metrics.selectors.metric_points).
"""

from __future__ import annotations

from django.db import models

from gpu_agent.spec import METRIC_NAME_MAX

# Rollup block sizes, as powers of two: 64, 1,024, 16,384 and 262,144 steps.
ROLLUP_LEVELS = (6, 10, 14, 18)


class MetricChunk(models.Model):
    """Points of one series (job, attempt, name) from one ingested batch, steps ascending."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="+", db_index=False)
    attempt = models.PositiveIntegerField()
    name = models.CharField(max_length=METRIC_NAME_MAX)
    first_step = models.BigIntegerField()
    last_step = models.BigIntegerField()
    count = models.PositiveIntegerField()
    steps = models.BinaryField()  # int64 little-endian, ascending
    values = models.BinaryField()  # float64 little-endian, same order

    class Meta:
        indexes = [
            models.Index(fields=["job", "name", "last_step"], name="metric_chunk_job_name_last")
        ]

    def __str__(self) -> str:
        return f"{self.name}[{self.first_step}..{self.last_step}] n={self.count}"


class MetricRollup(models.Model):
    """One block of 2**level steps of one series (all attempts): count, first and
    last step, and the min and max with the steps they occurred at. Kept exact at
    ingest (console.metrics.services)."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=METRIC_NAME_MAX)
    level = models.PositiveSmallIntegerField()
    block = models.BigIntegerField()
    count = models.BigIntegerField()
    min_value = models.FloatField()
    min_step = models.BigIntegerField()
    max_value = models.FloatField()
    max_step = models.BigIntegerField()
    first_step = models.BigIntegerField()
    last_step = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "name", "level", "block"], name="metric_rollup_block"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}[{self.level}:{self.block}] n={self.count}"
