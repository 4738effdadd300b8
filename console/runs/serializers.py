from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework import serializers

from console.core.api import ErrorMessageField
from console.data.models import TokenizedCorpus
from console.jobs.models import Job
from console.projects.models import Project
from console.runs.models import Checkpoint, Run
from console.runs.services import PRESET_LR
from gpu_agent.train.presets import CUSTOM, CUSTOM_FIELDS, PRESETS


class CheckpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Checkpoint
        fields = ["id", "step", "tag", "dir", "created_at"]


class RunSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    state = serializers.CharField(read_only=True)
    corpus: serializers.PrimaryKeyRelatedField[TokenizedCorpus] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    job: serializers.PrimaryKeyRelatedField[Job] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "project",
            "name",
            "created_by",
            "job",
            "corpus",
            "preset",
            "params",
            "state",
            "created_at",
        ]


class RunDetailSerializer(RunSerializer):
    checkpoints = CheckpointSerializer(many=True, read_only=True)
    progress = serializers.IntegerField(source="job.progress", read_only=True, default=0)
    error = ErrorMessageField(
        source="job.error",
        read_only=True,
        default="",
        help_text="Why the run failed: the message; a traceback is on its job's log.",
    )
    carbon_plan = serializers.JSONField(
        source="job.carbon_plan",
        read_only=True,
        default=None,
        help_text="The carbon-aware scheduler's decision: start, windows (UTC), expected "
        "gCO2e against starting now, savings_pct, reason, forecast source and warning.",
    )
    not_before = serializers.DateTimeField(source="job.not_before", read_only=True, default=None)
    deadline = serializers.DateTimeField(source="job.deadline", read_only=True, default=None)

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "progress",
            "error",
            "carbon_plan",
            "not_before",
            "deadline",
            "spec",
            "deepspeed",
            "checkpoints",
        ]


class RunCreateSerializer(serializers.Serializer):
    project = serializers.SlugField(
        required=False, allow_blank=True, default="", help_text="Default: the corpus's project."
    )
    corpus = serializers.IntegerField(min_value=1)
    preset = serializers.CharField(
        max_length=40, help_text=f"{', '.join(PRESETS)}, or {CUSTOM!r} with `model`."
    )
    base_preset = serializers.CharField(
        max_length=40,
        required=False,
        allow_null=True,
        default=None,
        help_text=f"With preset {CUSTOM!r}: the preset whose values `model` changes "
        "(default tiny). Refused with a named preset.",
    )
    model = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        help_text=f"With preset {CUSTOM!r}: the fields to change ({', '.join(CUSTOM_FIELDS)}); "
        "the vocabulary follows the corpus's tokenizer. Refused with a named preset. "
        "GET /api/v1/presets/ lists the fields and their bounds.",
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    steps = serializers.IntegerField(min_value=1, max_value=100_000_000)
    micro_batch = serializers.IntegerField(min_value=1, max_value=4096, default=4)
    grad_accum = serializers.IntegerField(min_value=1, max_value=4096, default=8)
    zero_stage = serializers.IntegerField(min_value=0, max_value=3, default=3)
    offload_optimizer = serializers.BooleanField(default=False)
    offload_params = serializers.BooleanField(default=False)
    gpus_per_node = serializers.IntegerField(
        min_value=0,
        max_value=64,
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: 1 when an online node has a GPU, else 0 (CPU processes, gloo).",
    )
    nodes = serializers.IntegerField(min_value=1, max_value=4096, default=1)
    checkpoint_every = serializers.IntegerField(min_value=1, default=500)
    max_restarts = serializers.IntegerField(
        min_value=0,
        max_value=100,
        default=2,
        help_text="Restarts from the latest complete checkpoint after a crash or a lost node.",
    )
    eval_every = serializers.IntegerField(min_value=1, default=250)
    lr = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Peak learning rate (AdamW), above 0 and below 1. Default: the preset's ("
        + ", ".join(f"{name} {value:g}" for name, value in PRESET_LR.items())
        + "; custom: its base preset's).",
    )
    warmup_steps = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="Linear warm-up from 0 to the peak. Default: a tenth of the steps, at most 1000.",
    )
    schedule_steps = serializers.IntegerField(
        min_value=1,
        max_value=100_000_000,
        required=False,
        allow_null=True,
        default=None,
        help_text="The learning rate decays linearly to 0 at this step (WarmupDecayLR); at "
        "least `steps`. Default: `steps`.",
    )
    bf16 = serializers.BooleanField(required=False, allow_null=True, default=None)
    activation_checkpointing = serializers.BooleanField(default=True)
    deepspeed = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The DeepSpeed config to launch with (default: made from the fields).",
    )
    carbon_aware = serializers.BooleanField(
        default=False,
        help_text="Start in the lowest-carbon time before the deadline (console.carbon).",
    )
    interruptible = serializers.BooleanField(
        default=False, help_text="May pause and resume between low-carbon windows."
    )
    not_before = serializers.DateTimeField(required=False, allow_null=True, default=None)
    deadline = serializers.DateTimeField(required=False, allow_null=True, default=None)
    expected_hours = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1 / 60,
        max_value=2160,
        help_text="Expected duration; default: estimated from tokens and measured tokens/s.",
    )


class CustomFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "bool"])
    min = serializers.FloatField(allow_null=True, help_text="Lowest value (floats: exclusive).")
    max = serializers.FloatField(allow_null=True, help_text="Highest value (inclusive).")
    help = serializers.CharField()


class PresetSerializer(serializers.Serializer):
    """A named preset (its shape, exact parameter count and memory table), or the
    "custom" entry (shape, count and memory null: they follow the fields you set)."""

    name = serializers.CharField()
    params = serializers.IntegerField(allow_null=True)
    hidden_size = serializers.IntegerField(allow_null=True)
    num_layers = serializers.IntegerField(allow_null=True)
    num_heads = serializers.IntegerField(allow_null=True)
    vocab_size = serializers.IntegerField()
    memory = serializers.ListField(child=serializers.DictField())
    fields = CustomFieldSerializer(  # type: ignore[assignment]  # the API's field name
        many=True, help_text="What a custom model may set (empty for a named preset)."
    )


class RunCompareRowSerializer(serializers.Serializer):
    """One run of GET /api/v1/runs/compare/: what it trains and how far it got."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    label = serializers.CharField(  # type: ignore[assignment]  # the API's field name
        help_text='"run <id> · <name>", as the charts label it.'
    )
    project = serializers.SlugField()
    job = serializers.IntegerField(allow_null=True)
    state = serializers.CharField()
    preset = serializers.CharField()
    params = serializers.IntegerField(help_text="The model's parameter count.")
    corpus = serializers.IntegerField()
    corpus_name = serializers.CharField()
    gpus_per_node = serializers.IntegerField(allow_null=True, help_text="0: CPU processes.")
    nodes = serializers.IntegerField(allow_null=True)
    micro_batch = serializers.IntegerField(allow_null=True)
    grad_accum = serializers.IntegerField(allow_null=True)
    lr = serializers.FloatField(allow_null=True, help_text="Peak learning rate.")
    steps = serializers.IntegerField(allow_null=True, help_text="Optimizer steps planned.")
    latest_step = serializers.IntegerField(allow_null=True)
    last_loss = serializers.FloatField(allow_null=True, help_text="Train loss at latest_step.")
    best_eval_loss = serializers.FloatField(allow_null=True)
