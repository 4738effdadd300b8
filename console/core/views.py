from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.accounts.roles import Cap
from console.audit.selectors import audit_event_list
from console.core import health
from console.core.auth import require_cap
from console.jobs import selectors as job_selectors
from console.projects.selectors import project_list


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = health.database_status()
    broker = health.broker_status()
    ok = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if ok else "degraded", "database": database, "broker": broker},
        status=200 if ok else 503,
    )


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
    return render(request, "core/home.html", context)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "core/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal error; it has been logged."}, status=500)
    return render(request, "core/500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"CSRF check failed: {reason}"}, status=403)
    return render(
        request,
        "core/403.html",
        {
            "reason": "Your form expired or came from elsewhere "
            "(CSRF check failed). Reload the page and try again."
        },
        status=403,
    )
