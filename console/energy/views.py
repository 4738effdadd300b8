"""Energy pages: a job's usage panel (the run and model pages load it with htmx; a plain
browser gets it as a page of its own; it says what its figures are from the job's state
now: live while it runs, so far while paused, final once it ended) and "Energy and
cost", the totals per project and per month, the most energy-hungry jobs and a chart of
monthly emissions."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from console.audit.auth import require_cap
from console.core.roles import Cap
from console.core.types import HtmxHttpRequest
from console.energy import selectors
from console.energy.services import currency
from console.jobs.models import Job, JobState
from console.jobs.selectors import job_get

TOP_JOBS = 10


@require_cap(Cap.VIEW)
def job_panel(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    context = {
        "job": job,
        "usage": selectors.job_usage(job),
        "not_metered": selectors.job_metering(job),
        "live": not job.is_terminal,
        "phase": _phase(job),
    }
    template = "energy/usage_panel.html#panel" if request.htmx else "energy/usage_panel.html"
    return render(request, template, context)


def _phase(job: Job) -> str:
    """What the figures are, from the job's state now (not from when they were taken):
    "running" (live), "paused" (so far), "ended" (final or settling), "waiting"."""
    if job.state in (JobState.RUNNING, JobState.DISPATCHED):
        return "running"
    if job.state == JobState.PAUSED:
        return "paused"
    return "ended" if job.is_terminal else "waiting"


@require_cap(Cap.VIEW)
def energy_home(request: HtmxHttpRequest) -> HttpResponse:
    by_month = selectors.usage_totals(request.user, group="month")
    return render(
        request,
        "energy/home.html",
        {
            "by_project": selectors.usage_totals(request.user, group="project"),
            "by_month": by_month,
            "top_jobs": list(selectors.usage_top_jobs(user=request.user, limit=TOP_JOBS)),
            "series": selectors.monthly_emissions_series(by_month),
            "currency": currency(),
        },
    )
