from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.data.engine.shards import index_warnings
from console.data.models import Dataset, DatasetKind, DatasetVersion, TokenizedCorpus, Tokenizer
from console.projects.models import Project

MAX_ID = 2**63 - 1


def _user_field() -> serializers.SlugRelatedField[User]:
    # Null when the user was deleted (on_delete=SET_NULL) or for the demo loader.
    return serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)


class DatasetSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    created_by = _user_field()
    version_count = serializers.IntegerField(read_only=True)
    latest_number = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Number of the newest version."
    )

    class Meta:
        model = Dataset
        fields = [
            "id",
            "project",
            "name",
            "description",
            "text_field",
            "kind",
            "columns",
            "version_count",
            "latest_number",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class DatasetCreateSerializer(serializers.Serializer):
    project = serializers.SlugField(help_text="Slug of a project you are a member of.")
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    text_field = serializers.CharField(
        required=False, default="text", max_length=100, help_text="JSONL key / Parquet column."
    )
    kind = serializers.ChoiceField(
        choices=DatasetKind.choices,
        default=DatasetKind.TEXT,
        help_text="text (pretraining), chat (conversations) or preference (DPO pairs).",
    )
    columns = serializers.DictField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text='chat from a prompt/response file: {"prompt": ..., "response": ..., '
        '"system": ...} column names; omitted: each line has "messages".',
    )


class DatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A .jsonl, .parquet, .txt, .zip or .tar.gz file, streamed to disk."
    )
    text_field = serializers.CharField(
        required=False, max_length=100, help_text="Defaults to the dataset's text field."
    )


class DatasetImportSerializer(serializers.Serializer):
    path = serializers.CharField(
        max_length=1000, help_text="A file or folder under FORGE_DATA_IMPORT_ROOT."
    )
    text_field = serializers.CharField(required=False, max_length=100)


class DatasetVersionSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        source="dataset.project", slug_field="slug", read_only=True
    )
    created_by = _user_field()

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "dataset",
            "dataset_name",
            "project",
            "number",
            "parent",
            "origin",
            "source",
            "pipeline",
            "documents",
            "bytes",
            "text_bytes",
            "sha256",
            "language_mix",
            "storage_key",
            "job",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class DatasetVersionDetailSerializer(DatasetVersionSerializer):
    class Meta(DatasetVersionSerializer.Meta):
        fields = [*DatasetVersionSerializer.Meta.fields, "report"]
        read_only_fields = fields


class CleanSerializer(serializers.Serializer):
    steps = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=50,
        help_text='Rules in order, [{"rule": "mask_email", "params": {}}, ...]; '
        "see /api/v1/cleaning-rules/.",
    )
    workers = serializers.IntegerField(required=False, default=1, min_value=1, max_value=32)


class CleaningRuleSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the API's field name
    help = serializers.CharField()
    kind = serializers.CharField(help_text="map (per document) or dedup (across documents).")
    pii_type = serializers.CharField(allow_null=True)
    fields = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]  # the API's field name


class TokenizerSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    created_by = _user_field()

    class Meta:
        model = Tokenizer
        fields = [
            "id",
            "project",
            "name",
            "version",
            "algorithm",
            "vocab_size_requested",
            "vocab_size",
            "min_frequency",
            "special_tokens",
            "bytes_per_token",
            "storage_key",
            "sha256",
            "job",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class TokenizerDetailSerializer(TokenizerSerializer):
    class Meta(TokenizerSerializer.Meta):
        fields = [*TokenizerSerializer.Meta.fields, "stats"]
        read_only_fields = fields


class TokenizerTrainSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Version id.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    vocab_size = serializers.IntegerField(
        required=False, default=52_000, min_value=260, max_value=1_000_000
    )
    min_frequency = serializers.IntegerField(
        required=False, default=2, min_value=1, max_value=1_000_000
    )
    max_documents = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID
    )


class TokenizedCorpusSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    created_by = _user_field()
    warnings = serializers.SerializerMethodField(
        help_text="What makes it a poor or impossible training set (too few training "
        "sequences, no validation), with the numbers; empty when it is fine."
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, corpus: TokenizedCorpus) -> list[str]:
        return index_warnings(corpus.index or {})

    class Meta:
        model = TokenizedCorpus
        fields = [
            "id",
            "project",
            "version",
            "tokenizer",
            "seq_len",
            "dtype",
            "val_fraction",
            "seed",
            "add_bos",
            "total_tokens",
            "train_tokens",
            "val_tokens",
            "sequences",
            "padding_tokens",
            "shards",
            "storage_key",
            "job",
            "created_by",
            "created_at",
            "warnings",
        ]
        read_only_fields = fields


class TokenizedCorpusDetailSerializer(TokenizedCorpusSerializer):
    class Meta(TokenizedCorpusSerializer.Meta):
        fields = [*TokenizedCorpusSerializer.Meta.fields, "index"]
        read_only_fields = fields


class TokenizeSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Version id.")
    tokenizer = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Tokenizer id.")
    seq_len = serializers.IntegerField(
        required=False, default=2048, min_value=8, max_value=1_048_576
    )
    val_fraction = serializers.FloatField(
        required=False, default=0.01, min_value=0.0, max_value=0.5
    )
    seed = serializers.IntegerField(required=False, default=0, min_value=-(2**63), max_value=MAX_ID)
    add_bos = serializers.BooleanField(required=False, default=False)


class ChatTemplateSerializer(serializers.Serializer):
    template = serializers.CharField(
        trim_whitespace=False,
        help_text="Jinja, Hugging Face's chat template convention; the assistant's content "
        "inside {% generation %} … {% endgeneration %}.",
    )
