"""Data REST API: datasets, uploads, versions, cleaning, tokenizers, tokenized corpora.

Reads need a role in the object's project (another team's objects answer 404);
writes need the 'data.write' capability. Endpoints that start work return the job
(201), whose progress is at /api/v1/jobs/{id}/; its result's ``output_url`` and the
lists below show what it made once it succeeded.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.core.ids import id_query_param
from console.core.permissions import IsMember, require
from console.core.roles import Cap
from console.data import selectors, services
from console.data.serializers import (
    ChatTemplateSerializer,
    CleaningRuleSerializer,
    CleanSerializer,
    DatasetCreateSerializer,
    DatasetImportSerializer,
    DatasetSerializer,
    DatasetUploadSerializer,
    DatasetVersionDetailSerializer,
    DatasetVersionSerializer,
    TokenizedCorpusDetailSerializer,
    TokenizedCorpusSerializer,
    TokenizerDetailSerializer,
    TokenizerSerializer,
    TokenizerTrainSerializer,
    TokenizeSerializer,
)
from console.data.uploads import DataUploadHandler
from console.jobs.serializers import JobDetailSerializer
from console.projects.selectors import project_get


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def too_large_message() -> str:
    limit = settings.FORGE_DATA_MAX_UPLOAD_BYTES
    return (
        f"The file is larger than the upload limit of {limit:,} bytes "
        "(FORGE_DATA_MAX_UPLOAD_BYTES). Register big files as a server path instead."
    )


class _WritesNeedData:
    """GET for members; POST needs the 'data.write' capability."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsMember(), require(Cap.DATA_WRITE)()]
        return [IsMember()]


def _created_job(job) -> Response:
    return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)


PROJECT_PARAM = OpenApiParameter("project", str, description="Project slug.")
JOB_CREATED = {201: OpenApiResponse(JobDetailSerializer, description="The job that does it.")}


# ------------------------------------------------------------------ datasets


class DatasetListApi(_WritesNeedData, ListAPIView):
    serializer_class = DatasetSerializer

    @extend_schema(parameters=[PROJECT_PARAM])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.dataset_list(
            user=self.request.user, project=self.request.query_params.get("project", "")
        )

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request: Request) -> Response:
        payload = DatasetCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        project = project_get(user=request.user, slug=data["project"])
        if project is None:
            raise serializers.ValidationError(
                {"project": ["No such project, or you are not a member."]}
            )
        dataset = services.dataset_create(
            actor=request.user,
            project=project,
            name=data["name"],
            description=data.get("description", ""),
            text_field=data["text_field"],
            kind=data["kind"],
            columns=data.get("columns") or None,
        )
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset.pk)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


def _dataset(request: Request, dataset_id: int):
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    if dataset is None:
        raise Http404
    return dataset


class DatasetDetailApi(APIView):
    @extend_schema(responses=DatasetSerializer)
    def get(self, request: Request, dataset_id: int) -> Response:
        return Response(DatasetSerializer(_dataset(request, dataset_id)).data)


class DatasetUploadApi(_WritesNeedData, APIView):
    """Upload a file as multipart/form-data (field ``file``); it is streamed to disk in
    1 MiB chunks and ingested by a ``data.ingest`` job.

    ``curl -H "Authorization: Token $T" -F file=@corpus.jsonl .../upload/``
    """

    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Before anything reads the body (session authentication's CSRF check does).
        self.upload_handler = DataUploadHandler(
            request._request, max_bytes=settings.FORGE_DATA_MAX_UPLOAD_BYTES
        )
        request._request.upload_handlers = [self.upload_handler]
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        handler = getattr(self, "upload_handler", None)
        if handler is not None:
            handler.discard()  # whatever the service did not take
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={
            **JOB_CREATED,
            413: OpenApiResponse(description="The file is over FORGE_DATA_MAX_UPLOAD_BYTES."),
        },
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = _dataset(request, dataset_id)
        files = request.FILES
        if self.upload_handler.too_large:
            raise PayloadTooLarge(too_large_message())
        upload = files.get("file")
        if upload is None or not hasattr(upload, "path"):
            raise serializers.ValidationError({"file": ["Attach the file in the field 'file'."]})
        text_field = request.data.get("text_field") or None
        job = services.dataset_upload(
            actor=request.user, dataset=dataset, upload=upload, text_field=text_field
        )
        return _created_job(job)


class DatasetImportApi(_WritesNeedData, APIView):
    """Register a file or folder on the server, under FORGE_DATA_IMPORT_ROOT."""

    @extend_schema(request=DatasetImportSerializer, responses=JOB_CREATED)
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = _dataset(request, dataset_id)
        payload = DatasetImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = services.dataset_import(
            actor=request.user,
            dataset=dataset,
            path=data["path"],
            text_field=data.get("text_field") or None,
        )
        return _created_job(job)


# ------------------------------------------------------------------ versions and cleaning


class DatasetVersionListApi(ListAPIView):
    serializer_class = DatasetVersionSerializer

    @extend_schema(
        parameters=[PROJECT_PARAM, OpenApiParameter("dataset", int, description="Dataset id.")]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.version_list(
            user=self.request.user,
            dataset=id_query_param(self.request, "dataset"),
            project=self.request.query_params.get("project", ""),
        )


def _version(request: Request, version_id: int):
    version = selectors.version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404
    return version


class DatasetVersionDetailApi(APIView):
    @extend_schema(responses=DatasetVersionDetailSerializer)
    def get(self, request: Request, version_id: int) -> Response:
        return Response(DatasetVersionDetailSerializer(_version(request, version_id)).data)


class DatasetVersionCleanApi(_WritesNeedData, APIView):
    """Clean a version into a new one: the rules in order, each with its parameters."""

    @extend_schema(request=CleanSerializer, responses=JOB_CREATED)
    def post(self, request: Request, version_id: int) -> Response:
        version = _version(request, version_id)
        payload = CleanSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            job = services.version_clean(
                actor=request.user,
                version=version,
                steps=payload.validated_data["steps"],
                workers=payload.validated_data["workers"],
            )
        except services.PipelineInvalid as exc:
            raise serializers.ValidationError({"steps": exc.errors}) from None
        return _created_job(job)


class CleaningRuleListApi(APIView):
    @extend_schema(responses=CleaningRuleSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(CleaningRuleSerializer(selectors.cleaning_rules(), many=True).data)


# ------------------------------------------------------------------ tokenizers and corpora


class TokenizerListApi(_WritesNeedData, ListAPIView):
    serializer_class = TokenizerSerializer

    @extend_schema(
        parameters=[PROJECT_PARAM, OpenApiParameter("version", int, description="Version id.")]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.tokenizer_list(
            user=self.request.user,
            project=self.request.query_params.get("project", ""),
            version=id_query_param(self.request, "version"),
        )

    @extend_schema(request=TokenizerTrainSerializer, responses=JOB_CREATED)
    def post(self, request: Request) -> Response:
        payload = TokenizerTrainSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version = selectors.version_get(user=request.user, version_id=data["version"])
        if version is None:
            raise serializers.ValidationError({"version": ["No such dataset version."]})
        job = services.tokenizer_train(
            actor=request.user,
            version=version,
            name=data.get("name", ""),
            vocab_size=data["vocab_size"],
            min_frequency=data["min_frequency"],
            max_documents=data.get("max_documents"),
        )
        return _created_job(job)


class TokenizerDetailApi(APIView):
    @extend_schema(responses=TokenizerDetailSerializer)
    def get(self, request: Request, tokenizer_id: int) -> Response:
        tokenizer = selectors.tokenizer_get(user=request.user, tokenizer_id=tokenizer_id)
        if tokenizer is None:
            raise Http404
        return Response(TokenizerDetailSerializer(tokenizer).data)


class CorpusListApi(_WritesNeedData, ListAPIView):
    serializer_class = TokenizedCorpusSerializer

    @extend_schema(
        parameters=[PROJECT_PARAM, OpenApiParameter("version", int, description="Version id.")]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.corpus_list(
            user=self.request.user,
            project=self.request.query_params.get("project", ""),
            version=id_query_param(self.request, "version"),
        )

    @extend_schema(request=TokenizeSerializer, responses=JOB_CREATED)
    def post(self, request: Request) -> Response:
        payload = TokenizeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version = selectors.version_get(user=request.user, version_id=data["version"])
        tokenizer = selectors.tokenizer_get(user=request.user, tokenizer_id=data["tokenizer"])
        errors = {}
        if version is None:
            errors["version"] = ["No such dataset version."]
        if tokenizer is None:
            errors["tokenizer"] = ["No such tokenizer."]
        if errors:
            raise serializers.ValidationError(errors)
        job = services.corpus_tokenize(
            actor=request.user,
            version=version,
            tokenizer=tokenizer,
            seq_len=data["seq_len"],
            val_fraction=data["val_fraction"],
            seed=data["seed"],
            add_bos=data["add_bos"],
        )
        return _created_job(job)


class CorpusDetailApi(APIView):
    @extend_schema(responses=TokenizedCorpusDetailSerializer)
    def get(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.corpus_get(user=request.user, corpus_id=corpus_id)
        if corpus is None:
            raise Http404
        return Response(TokenizedCorpusDetailSerializer(corpus).data)


class TokenizerChatTemplateApi(APIView):
    """A tokenizer's chat template (``template``: null when it has none), Forge's
    ``default``, and the sample conversation rendered token by token with the loss mask.
    PUT stores a template once it renders and marks assistant tokens."""

    def get_permissions(self):
        if self.request.method == "PUT":
            return [IsMember(), require(Cap.DATA_WRITE)()]
        return [IsMember()]

    def _tokenizer(self, request: Request, tokenizer_id: int):
        tokenizer = selectors.tokenizer_get(user=request.user, tokenizer_id=tokenizer_id)
        if tokenizer is None:
            raise Http404
        return tokenizer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, tokenizer_id: int) -> Response:
        tokenizer = self._tokenizer(request, tokenizer_id)
        return Response(selectors.tokenizer_chat_template(tokenizer=tokenizer))

    @extend_schema(request=ChatTemplateSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request: Request, tokenizer_id: int) -> Response:
        tokenizer = self._tokenizer(request, tokenizer_id)
        payload = ChatTemplateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.tokenizer_set_chat_template(
            actor=request.user, tokenizer=tokenizer, template=payload.validated_data["template"]
        )
        return Response(selectors.tokenizer_chat_template(tokenizer=tokenizer))
