"""Governance REST API. Reads need a role in the review's project (another team's
reviews answer 404); every change calls console.governance.services. A PATCH of a
review (its state, its approvers) is refused with 403 and audit-logged: state changes
only through submit, approve, reject and request-changes."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.core.errors import Forbidden
from console.core.ids import id_query_param
from console.core.permissions import IsMember, require
from console.core.roles import Cap
from console.governance import checks_input, selectors, services
from console.governance.models import Review
from console.governance.serializers import (
    ReviewCheckRunSerializer,
    ReviewCommentSerializer,
    ReviewDetailSerializer,
    ReviewEvidenceSerializer,
    ReviewItemSerializer,
    ReviewOpenSerializer,
    ReviewSerializer,
    ReviewStatePatchSerializer,
)
from console.jobs.serializers import JobDetailSerializer
from console.registry.selectors import model_version_get
from console.registry.serializers import ModelVersionSerializer

REFUSED = {403: OpenApiResponse(description="Refused and audit-logged; nothing changes.")}


def _review(request: Request, review_id: int) -> Review:
    review = selectors.review_get(user=request.user, review_id=review_id)
    if review is None:
        raise Http404
    return review


def _detail(review: Review, code: int = status.HTTP_200_OK) -> Response:
    review.refresh_from_db()
    return Response(ReviewDetailSerializer(review).data, status=code)


class ReviewListApi(ListAPIView):
    serializer_class = ReviewSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsMember(), require(Cap.TRAINING_WRITE)()]
        return [IsMember()]

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, description="Review state."),
            OpenApiParameter("version", int, description="Model version id."),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.review_list(
            user=self.request.user,
            state=params.get("state", "")[:20],
            version=id_query_param(self.request, "version"),
        )

    @extend_schema(request=ReviewOpenSerializer, responses={201: ReviewDetailSerializer})
    def post(self, request: Request) -> Response:
        """Open a review of a draft model version (one open review per version)."""
        payload = ReviewOpenSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version = model_version_get(user=request.user, version_id=data["version"])
        if version is None:
            raise serializers.ValidationError({"version": ["No such model version."]})
        templates = selectors.template_list()
        if "template" in data:
            template = templates.filter(pk=data["template"]).first()
        else:
            template = templates.filter(name="Model release").first() or templates.first()
        if template is None:
            raise serializers.ValidationError({"template": ["No such active checklist."]})
        review = services.review_open(actor=request.user, version=version, template=template)
        return _detail(review, status.HTTP_201_CREATED)


class ReviewDetailApi(APIView):
    permission_classes = [IsMember]

    @extend_schema(responses=ReviewDetailSerializer)
    def get(self, request: Request, review_id: int) -> Response:
        return _detail(_review(request, review_id))

    @extend_schema(request=ReviewStatePatchSerializer, responses=REFUSED)
    def patch(self, request: Request, review_id: int) -> Response:
        """Always refused: a review's state changes only through its actions."""
        review = _review(request, review_id)
        fields = list(request.data.keys()) if hasattr(request.data, "keys") else []
        services.review_tamper_refused(
            actor=request.user, review=review, via="api patch", fields=[str(f) for f in fields]
        )
        raise Forbidden(
            "A review's state changes only through submit, approve, reject and request-changes."
        )


class ReviewItemApi(APIView):
    permission_classes = [IsMember]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def _item(self, request: Request, review_id: int, item_id: int):
        item = selectors.review_item_get(user=request.user, review_id=review_id, item_id=item_id)
        if item is None:
            raise Http404
        return item

    @extend_schema(responses=ReviewItemSerializer)
    def get(self, request: Request, review_id: int, item_id: int) -> Response:
        return Response(ReviewItemSerializer(self._item(request, review_id, item_id)).data)

    @extend_schema(request=ReviewEvidenceSerializer, responses=ReviewItemSerializer)
    def patch(self, request: Request, review_id: int, item_id: int) -> Response:
        """Record evidence (the submitter, while the review is a draft)."""
        item = self._item(request, review_id, item_id)
        payload = ReviewEvidenceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        item = services.review_item_update(
            actor=request.user,
            item=item,
            text=data.get("evidence_text"),
            link=data.get("evidence_link"),
            file=data.get("evidence_file"),
            clear_file=data.get("clear_file", False),
        )
        return Response(ReviewItemSerializer(item).data)


class ReviewItemCheckApi(APIView):
    """Start the item's automated check: 201 with the job; its result lands on the
    item (``check_result``, ``passed``) when the job succeeds."""

    permission_classes = [IsMember]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request=ReviewCheckRunSerializer,
        responses={201: OpenApiResponse(JobDetailSerializer), **REFUSED},
    )
    def post(self, request: Request, review_id: int, item_id: int) -> Response:
        item = selectors.review_item_get(user=request.user, review_id=review_id, item_id=item_id)
        if item is None:
            raise Http404
        payload = ReviewCheckRunSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        params = dict(payload.validated_data)
        upload = params.pop("qa_file", None)
        if upload is not None:
            params["qa"] = checks_input.qa_from_upload(upload)
        job = services.review_check_start(actor=request.user, item=item, params=params)
        return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)


class ReviewSubmitApi(APIView):
    permission_classes = [IsMember, require(Cap.TRAINING_WRITE)]

    @extend_schema(request=None, responses=ReviewDetailSerializer)
    def post(self, request: Request, review_id: int) -> Response:
        return _detail(
            services.review_submit(actor=request.user, review=_review(request, review_id))
        )


class _DecisionApi(APIView):
    permission_classes = [IsMember, require(Cap.REVIEW)]
    service: staticmethod[..., Review] = staticmethod(services.review_approve)

    @extend_schema(request=ReviewCommentSerializer, responses=ReviewDetailSerializer)
    def post(self, request: Request, review_id: int) -> Response:
        review = _review(request, review_id)
        payload = ReviewCommentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        comment = payload.validated_data.get("comment", "")
        return _detail(self.service(actor=request.user, review=review, comment=comment))


class ReviewApproveApi(_DecisionApi):
    """Approve (four-eyes: never the submitter nor the version's creator)."""

    service = staticmethod(services.review_approve)


class ReviewRejectApi(_DecisionApi):
    """Reject, with a comment: the version goes back to draft."""

    service = staticmethod(services.review_reject)


class ReviewRequestChangesApi(_DecisionApi):
    """Request changes, with a comment: the submitter edits and resubmits."""

    service = staticmethod(services.review_request_changes)


class ModelPromoteApi(APIView):
    permission_classes = [IsMember, require(Cap.TRAINING_WRITE)]

    @extend_schema(
        request=None,
        responses={
            200: ModelVersionSerializer,
            409: OpenApiResponse(description="Not approved."),
        },
    )
    def post(self, request: Request, version_id: int) -> Response:
        """Approved → production, only when the version's latest review is approved."""
        version = model_version_get(user=request.user, version_id=version_id)
        if version is None:
            raise Http404
        version = services.model_promote(actor=request.user, version=version)
        return Response(ModelVersionSerializer(version).data)
