from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.jobs import kinds, selectors, services
from console.jobs.serializers import (
    JobDetailSerializer,
    JobKindSerializer,
    JobRejectSerializer,
    JobSerializer,
    JobSubmitSerializer,
)
from console.projects.selectors import project_get
from gpu_agent.spec import spec_fields


class JobListApi(ListAPIView):
    serializer_class = JobSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, description="Comma-separated states."),
            OpenApiParameter("kind", str),
            OpenApiParameter("project", str, description="Project slug."),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        q = self.request.query_params
        return selectors.job_list(
            user=self.request.user,
            state=q.get("state", ""),
            kind=q.get("kind", ""),
            project=q.get("project", ""),
        )

    @extend_schema(request=JobSubmitSerializer, responses={201: JobDetailSerializer})
    def post(self, request: Request) -> Response:
        payload = JobSubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        project = project_get(user=request.user, slug=data["project"])
        if project is None:
            raise serializers.ValidationError(
                {"project": ["No such project, or you are not a member."]}
            )
        try:
            job = services.job_submit(
                actor=request.user,
                project=project,
                kind=data["kind"],
                params=data["params"],
                name=data.get("name", ""),
                not_before=data.get("not_before"),
                deadline=data.get("deadline"),
                carbon_aware=data.get("carbon_aware", False),
                interruptible=data.get("interruptible", False),
                expected_seconds=data.get("expected_seconds"),
            )
        except services.KindNeedsService as exc:
            raise serializers.ValidationError({"kind": [exc.message]}) from None
        except services.SpecInvalid as exc:
            raise serializers.ValidationError({"params": exc.errors}) from None
        return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)


def _visible_job(request: Request, job_id: int):
    job = selectors.job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404
    return job


class JobDetailApi(APIView):
    @extend_schema(responses=JobDetailSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(JobDetailSerializer(_visible_job(request, job_id)).data)


class _JobActionApi(APIView):
    action_name = ""

    def perform(self, request: Request, job_id: int):
        raise NotImplementedError

    @extend_schema(request=None, responses=JobDetailSerializer)
    def post(self, request: Request, job_id: int) -> Response:
        _visible_job(request, job_id)
        job = self.perform(request, job_id)
        return Response(JobDetailSerializer(job).data)


class JobCancelApi(_JobActionApi):
    def perform(self, request, job_id):
        return services.job_cancel(actor=request.user, job_id=job_id)


class JobRunNowApi(_JobActionApi):
    """Override a carbon-aware job's plan: start as soon as capacity allows."""

    def perform(self, request, job_id):
        return services.job_run_now(actor=request.user, job=_visible_job(request, job_id))


class JobPauseApi(_JobActionApi):
    def perform(self, request, job_id):
        return services.job_pause(actor=request.user, job_id=job_id)


class JobResumeApi(_JobActionApi):
    def perform(self, request, job_id):
        return services.job_resume(actor=request.user, job_id=job_id)


class JobApproveApi(_JobActionApi):
    def perform(self, request, job_id):
        return services.job_approve(actor=request.user, job_id=job_id)


class JobRejectApi(_JobActionApi):
    @extend_schema(request=JobRejectSerializer, responses=JobDetailSerializer)
    def post(self, request: Request, job_id: int) -> Response:
        return super().post(request, job_id)

    def perform(self, request, job_id):
        payload = JobRejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return services.job_reject(
            actor=request.user, job_id=job_id, reason=payload.validated_data.get("reason", "")
        )


class JobKindListApi(APIView):
    @extend_schema(responses=JobKindSerializer(many=True))
    def get(self, request: Request) -> Response:
        data = [{**kind.__dict__, "fields": spec_fields(kind.spec)} for kind in kinds.all_kinds()]
        return Response(JobKindSerializer(data, many=True).data)
