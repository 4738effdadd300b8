"""Page-side permission checks: one decorator, audit-logged 403s."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.audit.services import audit_record
from console.core.roles import Cap, has_cap


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    audit_record(
        action="access.denied",
        actor=request.user,
        object_type="page",
        object_id=request.method or "",
        object_repr=request.path[:200],
    )
    return render(request, "core/403.html", {"reason": reason}, status=403)


def require_cap(cap: Cap) -> Callable:
    """Login required, then the capability; otherwise a 403 page and an audit event."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_cap(request.user, cap):
                return forbidden(request, f"This page needs the '{cap.value}' permission.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
