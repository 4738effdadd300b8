"""The dashboard: a member's projects, job counts, recent jobs and activity."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.audit.auth import require_cap
from console.audit.selectors import audit_event_list
from console.core.roles import Cap
from console.jobs import selectors as job_selectors
from console.projects.selectors import project_list


@require_cap(Cap.VIEW)
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    counts = job_selectors.job_state_counts(user=user)
    projects = project_list(user=user)
    # Scoped like the audit log: the reader's projects, every project for an admin only.
    activity = audit_event_list(reader=user)
    context = {
        "projects": projects,
        "counts": counts,
        "active": sum(
            counts.get(s, 0) for s in ("queued", "scheduled", "dispatched", "running", "paused")
        ),
        "recent_jobs": job_selectors.job_list(user=user)[:8],
        "activity": activity.exclude(action__startswith="auth.")[:12],
        "daily": json.dumps(job_selectors.job_daily_counts(user=user)),
    }
    return render(request, "home/home.html", context)
