"""The model card page (with card.md and card.html downloads) and the deployment bundle
download. Visibility as in the registry: another team's version answers 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from console.audit.auth import require_cap
from console.cards import render as card_render
from console.cards import services
from console.cards.selectors import card_data
from console.core.errors import Conflict
from console.core.roles import Cap
from console.registry.models import ModelVersion
from console.registry.selectors import model_version_get


def _version_or_404(request: HttpRequest, version_id: int) -> ModelVersion:
    version = model_version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404("No such model version.")
    return version


def card_file_response(version: ModelVersion, card: dict, fmt: str) -> HttpResponse:
    """card.md or card.html as an attachment."""
    if fmt == "md":
        body, content_type = card_render.card_markdown(card), "text/markdown; charset=utf-8"
    else:
        body, content_type = card_render.card_html(card), "text/html; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    stem = f"{version.name}-v{version.number}-card".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@require_cap(Cap.VIEW)
def card_page(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    return render(request, "cards/page.html", {"card": card_data(version)})


@require_cap(Cap.VIEW)
def card_md(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    return card_file_response(version, card_data(version, base_url=_base_url(request)), "md")


@require_cap(Cap.VIEW)
def card_html(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    return card_file_response(version, card_data(version, base_url=_base_url(request)), "html")


def bundle_response(name: str, data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_cap(Cap.VIEW)
def deployment_bundle(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    try:
        name, data = services.deployment_bundle_export(actor=request.user, version=version)
    except Conflict as exc:
        return render(
            request,
            "registry/refused.html",
            {"version": version, "reason": exc.message},
            status=409,
        )
    return bundle_response(name, data)
