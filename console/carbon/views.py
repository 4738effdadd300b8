"""The Carbon page: the forecast the scheduler plans with (chart), the provider's
state and any warning, and the carbon-aware jobs with their chosen starts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.audit.auth import require_cap
from console.carbon import selectors
from console.core.roles import Cap


@require_cap(Cap.VIEW)
def carbon_home(request: HttpRequest) -> HttpResponse:
    chart, source, warning = selectors.forecast_series()
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
