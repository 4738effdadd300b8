from __future__ import annotations

from rest_framework import serializers

from console.registry.feedback import (
    APP_MAX_CHARS,
    COMMENT_MAX_CHARS,
    INTEGER_SAMPLING,
    SAMPLING_RANGES,
)
from console.registry.models import Evaluation, Feedback, ModelVersion, RatingScale
from console.registry.specs import (
    EVAL_KINDS,
    GROUP_SIZES,
    MAX_CALIBRATION_SEQUENCES,
    MAX_PROMPTS,
    MIN_CALIBRATION_SEQUENCES,
    QUANT_ALGORITHMS,
    QUANT_METHODS,
)


class FileSerializer(serializers.Serializer):
    path = serializers.CharField()
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()


class EvaluationSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "model_version",
            "kind",
            "params",
            "result",
            "job",
            "created_by",
            "created_at",
        ]


class ModelVersionSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug")
    label = serializers.CharField(source="__str__")  # type: ignore[assignment]  # the API's field name
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "name",
            "number",
            "label",
            "status",
            "kind",
            "precision",
            "quant_method",
            "group_size",
            "weight_format",
            "run",
            "step",
            "parent",
            "size_bytes",
            "measured",
            "job",
            "created_by",
            "created_at",
        ]


class ModelVersionDetailSerializer(ModelVersionSerializer):
    files = FileSerializer(many=True)
    evaluations = EvaluationSerializer(many=True)
    children: serializers.PrimaryKeyRelatedField[ModelVersion] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta(ModelVersionSerializer.Meta):
        fields = [
            *ModelVersionSerializer.Meta.fields,
            "checkpoint",
            "folder",
            "files",
            "lineage",
            "evaluations",
            "children",
        ]


class ModelRegisterSerializer(serializers.Serializer):
    run = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    step = serializers.IntegerField(min_value=0, max_value=2**63 - 1)
    name = serializers.CharField(max_length=100)


class EvaluateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EVAL_KINDS, default="perplexity")
    corpus = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, allow_null=True
    )
    max_sequences = serializers.IntegerField(min_value=1, max_value=100_000, default=256)
    prompts = serializers.ListField(
        child=serializers.CharField(max_length=2000), max_length=MAX_PROMPTS, default=list
    )
    temperature = serializers.FloatField(min_value=0, max_value=5, default=0.7)
    top_p = serializers.FloatField(min_value=0.01, max_value=1, default=0.92)
    repetition_penalty = serializers.FloatField(min_value=1, max_value=5, default=1.2)
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=2048, default=64)
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, default=0)


class QuantizeSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=QUANT_METHODS,
        help_text="w4a16 / w8a16: int weights, 16-bit activations; fp8: W8A8-FP8 (Hopper, "
        "Ada); bf16 / fp16: a cast. The quantized ones are written as compressed-tensors.",
    )
    algorithm = serializers.ChoiceField(
        choices=QUANT_ALGORITHMS,
        default="rtn",
        help_text="rtn: round to nearest, no data. gptq: calibrated on calibration_corpus "
        "(w4a16 and w8a16).",
    )
    group_size = serializers.ChoiceField(choices=GROUP_SIZES, default=128)
    corpus = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="Tokenized corpus for the perplexity comparison (default: the run's).",
    )
    calibration_corpus = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="gptq: a tokenized dataset version of the model's tokenizer (train split).",
    )
    calibration_samples = serializers.IntegerField(
        min_value=MIN_CALIBRATION_SEQUENCES, max_value=MAX_CALIBRATION_SEQUENCES, default=128
    )
    calibration_seq_len = serializers.IntegerField(min_value=16, max_value=8192, default=512)


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField(max_length=20)


def _sampling_field(name: str) -> serializers.Field:
    lo, hi = SAMPLING_RANGES[name]
    if name in INTEGER_SAMPLING:
        return serializers.IntegerField(required=False, min_value=int(lo), max_value=int(hi))
    return serializers.FloatField(required=False, min_value=lo, max_value=hi)


class FeedbackSamplingSerializer(serializers.Serializer):
    temperature = _sampling_field("temperature")
    top_p = _sampling_field("top_p")
    repetition_penalty = _sampling_field("repetition_penalty")
    max_new_tokens = _sampling_field("max_new_tokens")
    seed = _sampling_field("seed")


class FeedbackCreateSerializer(serializers.Serializer):
    """One rated prediction. Texts are checked by the service (length, NUL bytes) and
    stored with PII masked."""

    prompt = serializers.CharField(trim_whitespace=False, help_text="The input the model saw.")
    output = serializers.CharField(
        trim_whitespace=False, allow_blank=True, help_text="What the model answered."
    )
    scale = serializers.ChoiceField(choices=RatingScale.choices, default=RatingScale.THUMBS)
    rating = serializers.IntegerField(
        min_value=-1, max_value=5, help_text="thumbs: 1 (up) or -1 (down); stars: 1 to 5."
    )
    correction = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        required=False,
        default="",
        help_text="The answer the rater wanted (becomes SFT data and a preference pair).",
    )
    sampling = FeedbackSamplingSerializer(required=False, help_text="How the output was made.")
    flagged = serializers.BooleanField(required=False, default=False)
    comment = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=COMMENT_MAX_CHARS
    )
    app = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=APP_MAX_CHARS,
        help_text="The application that served the answer (e.g. support-bot).",
    )


class FeedbackSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Feedback
        fields = [
            "id",
            "model_version",
            "prompt",
            "output",
            "sampling",
            "scale",
            "rating",
            "sentiment",
            "correction",
            "flagged",
            "comment",
            "pii_masked",
            "source",
            "app",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class FeedbackToDatasetSerializer(serializers.Serializer):
    layout = serializers.ChoiceField(
        choices=["sft", "preference"],
        help_text="sft: chat rows into a chat dataset; preference: pairs into a preference one.",
    )
    dataset = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="A dataset of the version's project and the layout's kind; omitted: a new one.",
    )
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="The new dataset's name."
    )
