from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from console.audit.api import AuditFilterSerializer
from console.audit.auth import require_cap
from console.audit.selectors import audit_actions, audit_event_list
from console.core.roles import Cap
from console.core.types import HtmxHttpRequest


@require_cap(Cap.AUDIT_VIEW)
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    raw = {k: v for k, v in request.GET.items() if k in AuditFilterSerializer().fields and v}
    filters = AuditFilterSerializer(data=raw)
    valid = filters.is_valid()
    # Scoped to the reader's projects unless the reader is an admin (RELIABILITY S16).
    events = audit_event_list(reader=request.user, **(filters.validated_data if valid else {}))
    if not valid:
        events = events.none()
    actions = audit_actions(reader=request.user)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": raw,
        "errors": filters.errors if not valid else {},
        "actions": sorted({a.split(".")[0] + "." for a in actions} | set(actions)),
    }
    template = "audit/list.html#table" if request.htmx else "audit/list.html"
    return render(request, template, context, status=200 if valid else 400)
