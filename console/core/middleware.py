from __future__ import annotations

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from console.core import context


class RequestContextMiddleware:
    """Give every request an id (kept from X-Request-ID when sane) for logs and audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.request_id_from_header(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = context.set_current(
            context.RequestContext(request_id=request_id, ip=context.client_ip(request.META))
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class NulQueryMiddleware:
    """A page's query string with a NUL byte is refused with 400 before its view runs:
    PostgreSQL text cannot hold NUL, so a filter with one would otherwise fail as a
    database error (500) in whichever list it reached. The API answers the same 400 from
    its exception handler, after authentication and permissions (401/403 come first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return self.get_response(request)
        if any("\x00" in k or any("\x00" in v for v in vs) for k, vs in request.GET.lists()):
            from django.http import HttpResponseBadRequest

            return HttpResponseBadRequest("Query parameters must not contain NUL bytes.")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Everything is served from this origin: the console works air-gapped, no CDN.

    Scripts run only from this origin's files, or inline with this response's nonce
    (``request.csp_nonce``; ``<script nonce="{{ csp_nonce }}">`` in a template): no
    'unsafe-inline', no 'unsafe-eval'. htmx runs with allowEval off (templates/base.html),
    plotly.js is its strict bundle (the full one compiles WebGL code with Function(), which
    the scattergl charts use), and event handlers live in static/js/, not in attributes.

    Styles keep 'unsafe-inline', because a nonce cannot cover what needs it: plotly.js
    (strict bundle too) creates two <style> elements at run time, its chart rules and
    the bundled maplibre stylesheet, and has no nonce option; templates set computed style
    attributes (progress widths, chart heights) that htmx re-applies when it swaps a part
    in; the API docs page (drf-spectacular) has an inline <style>. Without it each chart
    page logs style-src-elem and style-src-attr refusals. Scripts cannot run from a style.
    """

    POLICY = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'nonce-{nonce}'; object-src 'none'; connect-src 'self'; "
        "font-src 'self' data:; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(18)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.POLICY.format(nonce=nonce))
        return response


class UserTimeZoneMiddleware:
    """Times are stored in UTC and shown in the user's zone: the browser names its zone
    in the ``forge_tz`` cookie (static/js/forge.js); an unknown or missing zone is UTC.
    Forms then read entered times in that zone too."""

    COOKIE = "forge_tz"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from django.utils import timezone

        name = request.COOKIES.get(self.COOKIE, "")
        zone = None
        if name and len(name) <= 64 and all(c.isalnum() or c in "/_+-" for c in name):
            try:
                zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                zone = None
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
