"""Carbon intensity forecasts as fetched (the last good one is what plans use)."""

from __future__ import annotations

from django.db import models


class ForecastSnapshot(models.Model):
    """One fetch from the configured provider: its points when it worked (``ok``), or
    the error when it did not (kept for the Carbon page's warning)."""

    provider = models.CharField(max_length=200)
    fetched_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField(default=True)
    error = models.TextField(blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True, help_text="Forecast.to_json()")

    class Meta:
        ordering = ["-fetched_at", "-id"]
        indexes = [models.Index(fields=["ok", "-fetched_at"])]

    def __str__(self) -> str:
        return (
            f"{self.provider} at {self.fetched_at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'error'})"
        )
