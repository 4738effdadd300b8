"""Registry REST API. Reads need a role in the version's project (another team's
versions and runs answer 404); registering, evaluating and quantizing need
'training.write' and answer 201 with the job that does it."""

from __future__ import annotations

import json

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.core.errors import Conflict
from console.core.permissions import IsMember, require
from console.core.roles import Cap
from console.data.selectors import corpus_get, dataset_get
from console.jobs.serializers import JobDetailSerializer
from console.registry import selectors, services
from console.registry.artifacts import manifest_problems
from console.registry.feedback import feedback_create, feedback_exported, feedback_to_dataset
from console.registry.forms import FeedbackFilterForm
from console.registry.models import FeedbackSource, ModelVersion
from console.registry.serializers import (
    EvaluateSerializer,
    FeedbackCreateSerializer,
    FeedbackSerializer,
    FeedbackToDatasetSerializer,
    ModelRegisterSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    QuantizeSerializer,
)
from console.runs.selectors import run_get

JOB_CREATED = {201: OpenApiResponse(JobDetailSerializer, description="The job that does it.")}


def _created_job(job) -> Response:
    return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)


def _version(request: Request, version_id: int):
    version = selectors.model_version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404
    return version


def _corpus(request: Request, corpus_id: int | None):
    if corpus_id is None:
        return None
    corpus = corpus_get(user=request.user, corpus_id=corpus_id)
    if corpus is None:
        raise serializers.ValidationError({"corpus": ["No such tokenized corpus."]})
    return corpus


class _Writes:
    def get_permissions(self):
        if self.request.method == "POST":
            return [IsMember(), require(Cap.TRAINING_WRITE)()]
        return [IsMember()]


class ModelListApi(_Writes, ListAPIView):
    serializer_class = ModelVersionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, description="Project slug."),
            OpenApiParameter("name", str, description="The model's name."),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        filters = {key: params.get(key, "") for key in ("project", "name")}
        for key, value in filters.items():
            if "\x00" in value or len(value) > 200:  # PostgreSQL refuses NUL in text
                raise serializers.ValidationError({key: ["Not a valid name."]})
        return selectors.model_version_list(user=self.request.user, **filters)

    @extend_schema(request=ModelRegisterSerializer, responses=JOB_CREATED)
    def post(self, request: Request) -> Response:
        """Register a run's complete checkpoint as the next version of a model."""
        payload = ModelRegisterSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = run_get(user=request.user, run_id=data["run"])
        if run is None:
            raise Http404
        job = services.model_register(
            actor=request.user, run=run, step=data["step"], name=data["name"]
        )
        return _created_job(job)


class ModelDetailApi(APIView):
    permission_classes = [IsMember]

    @extend_schema(responses=ModelVersionDetailSerializer)
    def get(self, request: Request, version_id: int) -> Response:
        return Response(ModelVersionDetailSerializer(_version(request, version_id)).data)


class ModelEvaluateApi(APIView):
    permission_classes = [IsMember, require(Cap.TRAINING_WRITE)]

    @extend_schema(request=EvaluateSerializer, responses=JOB_CREATED)
    def post(self, request: Request, version_id: int) -> Response:
        version = _version(request, version_id)
        payload = EvaluateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        corpus = _corpus(request, data.pop("corpus", None))
        job = services.model_evaluate(actor=request.user, version=version, corpus=corpus, **data)
        return _created_job(job)


class ModelQuantizeApi(APIView):
    permission_classes = [IsMember, require(Cap.TRAINING_WRITE)]

    @extend_schema(request=QuantizeSerializer, responses=JOB_CREATED)
    def post(self, request: Request, version_id: int) -> Response:
        version = _version(request, version_id)
        payload = QuantizeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = services.model_quantize(
            actor=request.user,
            version=version,
            method=data["method"],
            algorithm=data["algorithm"],
            group_size=int(data["group_size"]),
            corpus=_corpus(request, data.get("corpus")),
            calibration_corpus=_corpus(request, data.get("calibration_corpus")),
            calibration_samples=data["calibration_samples"],
            calibration_seq_len=data["calibration_seq_len"],
        )
        return _created_job(job)


class ModelExportOnnxApi(APIView):
    """Export a full-precision version to ONNX (a job; the ONNX version appears when
    onnxruntime's greedy tokens match transformers')."""

    permission_classes = [IsMember, require(Cap.TRAINING_WRITE)]

    @extend_schema(request=None, responses=JOB_CREATED)
    def post(self, request: Request, version_id: int) -> Response:
        version = _version(request, version_id)
        return _created_job(services.model_export_onnx(actor=request.user, version=version))


def download_response(version: ModelVersion) -> StreamingHttpResponse:
    """The version's folder as a zip with SHA256SUMS, after checking every file against
    its recorded sha256 (a tampered folder is refused with the mismatch: 409)."""
    problems = manifest_problems(services.model_folder(version), version.files)
    if problems:
        raise Conflict(f"{version} does not match its manifest: {'; '.join(problems[:10])}")
    response = StreamingHttpResponse(
        selectors.model_zip_stream(version), content_type="application/zip"
    )
    name = f"{version.name}-v{version.number}.zip".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class ModelDownloadApi(APIView):
    """The version's folder as a zip (stored) with a SHA256SUMS file; 409 when the
    folder no longer matches its manifest."""

    permission_classes = [IsMember]

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="The files do not match the manifest."),
        }
    )
    def get(self, request: Request, version_id: int) -> StreamingHttpResponse:
        return download_response(_version(request, version_id))


def _form_errors(form) -> dict[str, list[str]]:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


class ModelFeedbackApi(ListAPIView):
    """A version's feedback: applications that serve the model POST each rated
    prediction; GET lists them, newest first, with the feedback page's filters."""

    serializer_class = FeedbackSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsMember(), require(Cap.FEEDBACK)()]
        return [IsMember()]

    @extend_schema(
        parameters=[
            OpenApiParameter("sentiment", str, enum=["positive", "neutral", "negative"]),
            OpenApiParameter("source", str, enum=["playground", "api"]),
            OpenApiParameter("corrected", str, enum=["yes", "no"]),
            OpenApiParameter("flagged", str, enum=["yes", "no"]),
            OpenApiParameter("app", str, description="The application's name."),
            OpenApiParameter("q", str, description="Text in the prompt, output or correction."),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        version = _version(self.request, self.kwargs["version_id"])
        form = FeedbackFilterForm(self.request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(_form_errors(form))
        return selectors.feedback_list(version=version, **form.filters())

    @extend_schema(
        request=FeedbackCreateSerializer,
        responses={201: FeedbackSerializer, 409: OpenApiResponse(description="Archived.")},
    )
    def post(self, request: Request, version_id: int) -> Response:
        """Record one rated prediction (PII in the texts is masked before it is stored)."""
        version = _version(request, version_id)
        payload = FeedbackCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = feedback_create(
            actor=request.user, version=version, source=FeedbackSource.API, **payload.validated_data
        )
        return Response(FeedbackSerializer(item).data, status=status.HTTP_201_CREATED)


def feedback_export_response(request, version: ModelVersion, layout: str, filters: dict):
    """The filtered feedback as JSONL training rows (selectors.feedback_export_rows),
    streamed; the download is recorded in the audit log."""
    feedback_exported(actor=request.user, version=version, layout=layout, filters=filters)
    items = selectors.feedback_list(version=version, **filters)
    rows = selectors.feedback_export_rows(items, layout)
    lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    name = f"{version.name}-v{version.number}-feedback-{layout}.jsonl".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class ModelFeedbackExportApi(APIView):
    """A version's feedback as training data (JSONL): ``layout=sft`` gives chat rows
    (``messages``: the prompt, then the correction or a positively rated output),
    ``layout=preference`` gives ``prompt``/``chosen`` (the correction)/``rejected`` (the
    output) pairs. The feedback list's filters apply."""

    permission_classes = [IsMember]

    @extend_schema(
        parameters=[
            OpenApiParameter("layout", str, enum=list(selectors.EXPORT_LAYOUTS), required=True),
            OpenApiParameter("sentiment", str, enum=["positive", "neutral", "negative"]),
            OpenApiParameter("source", str, enum=["playground", "api"]),
            OpenApiParameter("corrected", str, enum=["yes", "no"]),
            OpenApiParameter("flagged", str, enum=["yes", "no"]),
            OpenApiParameter("app", str),
            OpenApiParameter("q", str),
        ],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR},
    )
    def get(self, request: Request, version_id: int) -> StreamingHttpResponse:
        version = _version(request, version_id)
        layout = request.query_params.get("layout", "")
        if layout not in selectors.EXPORT_LAYOUTS:
            raise serializers.ValidationError(
                {"layout": [f"Choose one of: {', '.join(selectors.EXPORT_LAYOUTS)}."]}
            )
        form = FeedbackFilterForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(_form_errors(form))
        return feedback_export_response(request, version, layout, form.filters())


class ModelFeedbackToDatasetApi(APIView):
    """Make the filtered feedback the next version of a fine-tuning dataset (a
    ``data.ingest`` job; the feedback list's filters are query parameters)."""

    permission_classes = [IsMember, require(Cap.DATA_WRITE)]

    @extend_schema(request=FeedbackToDatasetSerializer, responses=JOB_CREATED)
    def post(self, request: Request, version_id: int) -> Response:
        version = _version(request, version_id)
        payload = FeedbackToDatasetSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        form = FeedbackFilterForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(_form_errors(form))
        dataset = None
        if data.get("dataset"):
            dataset = dataset_get(user=request.user, dataset_id=data["dataset"])
            if dataset is None:
                raise serializers.ValidationError({"dataset": ["No such dataset."]})
        job = feedback_to_dataset(
            actor=request.user,
            version=version,
            layout=data["layout"],
            filters=form.filters(),
            dataset=dataset,
            name=data.get("name", ""),
        )
        return _created_job(job)
