"""The Carbon page: the forecast the scheduler plans with (chart), the provider's
state and any warning, and the carbon-aware jobs with their chosen starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from console.accounts.roles import Cap
from console.carbon import selectors
from console.core.auth import require_cap


def forecast_chart(now: datetime | None = None) -> tuple[dict, str, str]:
    """(chart data: UTC times and g/kWh, the source, the warning)."""
    now = now or timezone.now().astimezone(UTC)
    forecast, warning = selectors.forecast_current(now)
    points = [p for p in forecast.points if p.start + timedelta(minutes=p.minutes) > now]
    return (
        {
            "times": [p.start.isoformat() for p in points],
            "values": [round(p.g_per_kwh, 2) for p in points],
            "now": now.isoformat(),
        },
        forecast.source,
        warning,
    )


@require_cap(Cap.VIEW)
def carbon_home(request: HttpRequest) -> HttpResponse:
    chart, source, warning = forecast_chart()
    values = chart["values"]
    return render(
        request,
        "carbon/home.html",
        {
            "chart": chart,
            "source": source,
            "warning": warning,
            "low": min(values) if values else None,
            "high": max(values) if values else None,
            "snapshots": selectors.snapshots_recent(10),
            "jobs": selectors.carbon_jobs(user=request.user)[:50],
        },
    )
