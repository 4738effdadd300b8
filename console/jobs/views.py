from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from console.audit.auth import forbidden, require_cap
from console.core.errors import Forbidden, ServiceError
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.jobs import kinds, selectors, services
from console.jobs.models import Job, JobState
from console.projects.selectors import project_get, project_list
from gpu_agent.spec import spec_fields


@require_cap(Cap.VIEW)
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in ("state", "kind", "project")}
    jobs = selectors.job_list(user=request.user, **filters)[:200]
    context = {
        "jobs": jobs,
        "filters": filters,
        "states": JobState.choices,
        "kinds": kinds.all_kinds(),
        "projects": project_list(user=request.user),
        "any_active": any(not job.is_terminal for job in jobs),
    }
    template = "jobs/list.html#table" if request.htmx else "jobs/list.html"
    return render(request, template, context)


@require_cap(Cap.VIEW)
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    kind = kinds.get(job.kind)
    context = {
        "job": job,
        "kind": kind,
        "can_manage": has_cap(request.user, Cap.JOBS_MANAGE),
        "can_review": has_cap(request.user, Cap.REVIEW) and job.requested_by_id != request.user.pk,
    }
    template = "jobs/detail.html#status" if request.htmx else "jobs/detail.html"
    return render(request, template, context)


def _parse_field(raw: str, type_name: str) -> Any:
    raw = raw.strip()
    if raw == "" and "null" in type_name:
        return None
    if type_name.startswith("int"):
        return int(raw)
    if type_name.startswith("float"):
        return float(raw)
    if type_name.startswith("bool"):
        return raw in {"on", "true", "1"}
    return raw


@require_http_methods(["GET", "POST"])
@require_cap(Cap.JOBS_SUBMIT)
def job_new(request: HtmxHttpRequest) -> HttpResponse:
    available = [k for k in kinds.all_kinds() if k.generic and has_cap(request.user, k.submit_cap)]
    kind = kinds.get(request.POST.get("kind") or request.GET.get("kind") or "") or (
        available[0] if available else None
    )
    projects = project_list(user=request.user)
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    # A kind with a service of its own gets no fields here: job_submit refuses it.
    fields = spec_fields(kind.spec) if kind and kind.generic else []
    if request.method == "POST" and kind is not None:
        params: dict[str, Any] = {}
        for f in fields:
            raw = request.POST.get(f["name"], "")
            values[f["name"]] = raw
            try:
                value = _parse_field(raw, f["type"])
            except ValueError:
                errors[f["name"]] = [f"must be {f['type']}"]
                continue
            if value is not None or "null" in f["type"]:
                params[f["name"]] = value
        project = project_get(user=request.user, slug=request.POST.get("project", ""))
        if project is None:
            errors["project"] = ["Choose one of your projects."]
        if not errors and project is not None:
            try:
                job = services.job_submit(
                    actor=request.user,
                    project=project,
                    kind=kind.name,
                    params=params,
                    name=request.POST.get("name", "")[:200],
                )
            except services.KindNeedsService as exc:
                errors["non_field"] = [exc.message]
            except services.SpecInvalid as exc:
                errors = exc.errors
            except Forbidden as exc:
                return forbidden(request, exc.message)
            except ServiceError as exc:
                errors["non_field"] = [exc.message]
            else:
                messages.success(request, f"Job {job.pk} submitted.")
                return redirect("jobs:detail", job_id=job.pk)
    fields = [
        {
            **f,
            "value": values.get(f["name"], "" if f["default"] is None else f["default"]),
            "errors": errors.get(f["name"], []),
        }
        for f in fields
    ]
    context = {
        "kinds": available,
        "kind": kind,
        "fields": fields,
        "projects": projects,
        "errors": errors,
        "non_field_errors": errors.get("non_field", []),
        "values": values,
        "selected_project": request.POST.get("project", ""),
    }
    status = 400 if errors else 200
    template = "jobs/new.html#form" if request.htmx and request.method == "GET" else "jobs/new.html"
    return render(request, template, context, status=status)


ACTIONS: dict[str, Callable[..., Job]] = {
    "cancel": services.job_cancel,
    "pause": services.job_pause,
    "resume": services.job_resume,
    "approve": services.job_approve,
    "reject": services.job_reject,
}


@require_POST
@require_cap(Cap.VIEW)
def job_action(request: HtmxHttpRequest, job_id: int, action: str) -> HttpResponse:
    if selectors.job_get(user=request.user, job_id=job_id) is None or action not in ACTIONS:
        raise Http404("No such job.")
    try:
        ACTIONS[action](actor=request.user, job_id=job_id)
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job {job_id}: {action} done.")
    return redirect("jobs:detail", job_id=job_id)
