"""Runs REST API. Reads need a role in the run's project (another team's runs answer
404); launching needs the 'training.write' capability (ML engineers, admins)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.core.permissions import IsMember, require
from console.core.roles import Cap
from console.data.selectors import corpus_get
from console.projects.selectors import project_get
from console.runs import selectors, services
from console.runs.forms import COMPARE_MAX_RUNS, parse_run_ids
from console.runs.serializers import (
    PresetSerializer,
    RunCompareRowSerializer,
    RunCreateSerializer,
    RunDetailSerializer,
    RunSerializer,
)
from console.runs.views import parse_gpu_query, tensorboard_response
from gpu_agent.train.presets import CUSTOM, custom_fields

PROJECT_PARAM = OpenApiParameter("project", str, description="Project slug.")


class RunListApi(ListAPIView):
    serializer_class = RunSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsMember(), require(Cap.TRAINING_WRITE)()]
        return [IsMember()]

    @extend_schema(parameters=[PROJECT_PARAM])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.run_list(
            user=self.request.user, project=self.request.query_params.get("project", "")
        )

    @extend_schema(request=RunCreateSerializer, responses={201: RunDetailSerializer})
    def post(self, request: Request) -> Response:
        payload = RunCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        slug = data.pop("project")
        corpus = corpus_get(user=request.user, corpus_id=data.pop("corpus"))
        if corpus is None:
            raise serializers.ValidationError({"corpus": ["No such tokenized corpus."]})
        project = project_get(user=request.user, slug=slug) if slug else corpus.project
        if project is None:
            raise serializers.ValidationError(
                {"project": ["No such project, or you are not a member."]}
            )
        run = services.run_create(
            actor=request.user,
            project=project,
            corpus=corpus,
            deepspeed_json=data.pop("deepspeed"),
            **data,
        )
        return Response(RunDetailSerializer(run).data, status=status.HTTP_201_CREATED)


class RunDetailApi(APIView):
    permission_classes = [IsMember]

    @extend_schema(responses=RunDetailSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(user=request.user, run_id=run_id)
        if run is None:
            raise Http404
        return Response(RunDetailSerializer(run).data)


class RunTensorboardApi(APIView):
    """The run's TensorBoard event files as a zip (404 until it wrote the first)."""

    permission_classes = [IsMember]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, run_id: int) -> FileResponse:
        run = selectors.run_get(user=request.user, run_id=run_id)
        if run is None:
            raise Http404
        return tensorboard_response(run)


class RunCompareApi(APIView):
    """The compare table of up to 10 runs. Runs you cannot see are left out like runs
    that do not exist; 404 when none is left."""

    permission_classes = [IsMember]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "runs",
                str,
                required=True,
                description=f"Run ids, comma-separated (1 to {COMPARE_MAX_RUNS}).",
            )
        ],
        responses=RunCompareRowSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        try:
            ids = parse_run_ids(request.query_params.getlist("runs"))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"runs": exc.messages}) from None
        runs = selectors.run_compare_runs(user=request.user, run_ids=ids)
        if not runs:
            raise Http404
        rows = selectors.run_compare_rows(runs=runs)
        return Response(RunCompareRowSerializer(rows, many=True).data)


class PresetListApi(APIView):
    """Each preset with its parameter count and memory table, then "custom": the
    fields a custom model sets (POST /api/v1/runs/ with preset "custom" and model)."""

    permission_classes = [IsMember]

    @extend_schema(
        parameters=[
            OpenApiParameter("gpus_per_node", int, description="GPUs per node (default 1)."),
            OpenApiParameter("nodes", int, description="Nodes (default 1)."),
            OpenApiParameter("vocab_size", int, description="Vocabulary (default 52000)."),
            OpenApiParameter("seq_len", int, description="Sequence length (default 2048)."),
            OpenApiParameter("micro_batch", int, description="Micro-batch per GPU (default 4)."),
        ],
        responses=PresetSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        args = {}
        bounds = {
            "gpus_per_node": (1, 1, 64),
            "nodes": (1, 1, 4096),
            "vocab_size": (52_000, 1, 10_000_000),
            "seq_len": (2048, 8, 1_048_576),
            "micro_batch": (4, 1, 4096),
        }
        for name, (default, low, high) in bounds.items():
            raw = request.query_params.get(name, "")
            if not raw:
                args[name] = default
                continue
            if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
                raise serializers.ValidationError({name: [f"must be between {low} and {high}"]})
            args[name] = int(raw)
        rows = [{**row, "fields": []} for row in selectors.preset_table(**args)]
        custom = {
            "name": CUSTOM,
            "params": None,
            "hidden_size": None,
            "num_layers": None,
            "num_heads": None,
            "vocab_size": args["vocab_size"],
            "memory": [],
            "fields": custom_fields(),
        }
        return Response([*rows, custom])


class _GpuWindowSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    node_rank = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True)


class _GpuSeriesSerializer(serializers.Serializer):
    key = serializers.CharField(help_text='"node/gpuN".')
    node = serializers.CharField()
    index = serializers.IntegerField()
    model = serializers.CharField()
    memory_gib = serializers.FloatField()
    windows = _GpuWindowSerializer(many=True, help_text="One per allocation that held it.")
    downsampled = serializers.BooleanField()
    t = serializers.ListField(child=serializers.DateTimeField())
    util = serializers.ListField(child=serializers.FloatField(allow_null=True))
    mem_gib = serializers.ListField(child=serializers.FloatField(allow_null=True))
    power_w = serializers.ListField(child=serializers.FloatField(allow_null=True))


class RunGpusSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    job = serializers.IntegerField(allow_null=True)
    active = serializers.BooleanField()
    uses_gpus = serializers.BooleanField()
    max_points = serializers.IntegerField()
    gpus = _GpuSeriesSerializer(many=True)


class RunGpusApi(APIView):
    """Utilisation %, memory used (GiB) and power (W) over time of every GPU the run's
    job held, one series per GPU, within each allocation's window (every attempt, every
    node); null values mark the break between attempts. ``after`` asks for newer
    samples only; long series are downsampled by time buckets (max utilisation kept)."""

    permission_classes = [IsMember]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after", OpenApiTypes.DATETIME, description="Only samples after this time."
            ),
            OpenApiParameter(
                "max_points",
                int,
                description=f"Points per GPU at most, 10 to 5000 (default "
                f"{selectors.GPU_MAX_POINTS}).",
            ),
        ],
        responses=RunGpusSerializer,
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(user=request.user, run_id=run_id)
        if run is None:
            raise Http404
        try:
            after, max_points = parse_gpu_query(request.query_params)
        except ValueError as exc:
            name = str(exc).split(":", 1)[0]
            raise serializers.ValidationError({name: [str(exc)]}) from None
        return Response(selectors.run_gpu_series(run=run, after=after, max_points=max_points))


# ------------------------------------------------------------------ run approval


class RunApprovalDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class _RunDecisionApi(APIView):
    """Approve or reject a run the launch policy held: a reviewer who is not the
    launcher (403 and an audit event otherwise); 409 when it is not awaiting approval."""

    permission_classes = [IsMember]

    def decide(self, request: Request, run_id: int, comment: str):
        raise NotImplementedError

    def post(self, request: Request, run_id: int) -> Response:
        if selectors.run_get(user=request.user, run_id=run_id) is None:
            raise Http404
        payload = RunApprovalDecisionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        self.decide(request, run_id, payload.validated_data.get("comment", ""))
        run = selectors.run_get(user=request.user, run_id=run_id)
        return Response(RunDetailSerializer(run).data)


class RunApproveApi(_RunDecisionApi):
    @extend_schema(request=RunApprovalDecisionSerializer, responses=RunDetailSerializer)
    def post(self, request: Request, run_id: int) -> Response:
        return super().post(request, run_id)

    def decide(self, request: Request, run_id: int, comment: str):
        return services.run_approve(actor=request.user, run_id=run_id, comment=comment)


class RunRejectApi(_RunDecisionApi):
    @extend_schema(request=RunApprovalDecisionSerializer, responses=RunDetailSerializer)
    def post(self, request: Request, run_id: int) -> Response:
        return super().post(request, run_id)

    def decide(self, request: Request, run_id: int, comment: str):
        return services.run_reject(actor=request.user, run_id=run_id, comment=comment)
