"""Model card and deployment bundle API. Reads need a role in the version's project
(another team's version answers 404); the bundle answers 409 for a version that is not
approved or in production."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from console.cards import services
from console.cards.selectors import card_data
from console.cards.views import bundle_response, card_file_response
from console.core.permissions import IsMember
from console.registry.selectors import model_version_get


def _version(request: Request, version_id: int):
    version = model_version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404
    return version


class _JsonErrors:
    """Answers are files, errors JSON: ``?format=`` picks the card's format here, not a
    DRF renderer."""

    def perform_content_negotiation(self, request, force=False):
        return (JSONRenderer(), JSONRenderer.media_type)


class ModelCardApi(_JsonErrors, APIView):
    """The version's model card, as Markdown (default) or a standalone HTML document."""

    permission_classes = [IsMember]

    @extend_schema(
        operation_id="model_card_retrieve",
        parameters=[
            OpenApiParameter(
                "format", str, enum=["md", "html"], description="md (default) or html."
            )
        ],
        responses={
            (200, "text/markdown"): OpenApiTypes.STR,
            (200, "text/html"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request, version_id: int) -> HttpResponse:
        fmt = request.query_params.get("format", "md")
        if fmt not in {"md", "html"}:
            raise serializers.ValidationError({"format": ["Use md or html."]})
        version = _version(request, version_id)
        base_url = request.build_absolute_uri("/").rstrip("/")
        return card_file_response(version, card_data(version, base_url=base_url), fmt)


class ModelDeploymentApi(_JsonErrors, APIView):
    """The deployment bundle (zip: Kubernetes manifests, serving config, README); 409
    (and a "deploy.refused" audit event) unless the version is approved or in production."""

    permission_classes = [IsMember]

    @extend_schema(
        operation_id="model_deployment_retrieve",
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="The version is not approved."),
        },
    )
    def get(self, request: Request, version_id: int) -> HttpResponse:
        version = _version(request, version_id)
        name, data = services.deployment_bundle_export(actor=request.user, version=version)
        return bundle_response(name, data)
