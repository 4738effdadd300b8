from __future__ import annotations

import json
import re
from typing import Any, cast

from django import forms

from console.runs.services import PRESET_LR
from gpu_agent.train.presets import CUSTOM, CUSTOM_FIELDS, FLOAT_BOUNDS, PRESETS, preset_values
from gpu_agent.train.spec import ModelSpec

# The custom model's form fields are named as the services name their errors
# ("model.hidden_size"), so an error from ModelSpec.check() lands on its field.
MODEL_PREFIX = "model."
MODEL_LABELS = {
    "hidden_size": "Hidden size",
    "num_layers": "Layers",
    "num_heads": "Attention heads",
    "intermediate_size": "Intermediate size",
    "max_positions": "Max positions",
    "rope_theta": "RoPE theta",
    "tie_embeddings": "Tie embeddings",
    "norm_eps": "Norm epsilon",
    "initializer_range": "Initializer range",
}


def _model_field(name: str) -> forms.Field:
    """Optional (empty keeps the base preset's value); the bounds are ModelSpec's, checked
    by the service, and shown to the browser as min/max."""
    label, help_text = MODEL_LABELS[name], CUSTOM_FIELDS[name]
    if name in ModelSpec.LIMITS:
        low, high = ModelSpec.LIMITS[name]
        widget = forms.NumberInput(attrs={"min": low, "max": high, "step": 1})
        return forms.IntegerField(required=False, label=label, help_text=help_text, widget=widget)
    if name in FLOAT_BOUNDS:
        widget = forms.NumberInput(attrs={"step": "any", "min": 0, "max": FLOAT_BOUNDS[name][1]})
        return forms.FloatField(required=False, label=label, help_text=help_text, widget=widget)
    return forms.BooleanField(required=False, label=label, help_text=help_text)


class RunForm(forms.Form):
    corpus = forms.TypedChoiceField(coerce=int, help_text="A tokenized corpus of your projects.")
    preset = forms.ChoiceField(
        choices=[*((p, p) for p in PRESETS), (CUSTOM, "custom (set the shape below)")],
        initial="tiny",
    )
    base_preset = forms.ChoiceField(
        choices=[(p, p) for p in PRESETS],
        initial="tiny",
        required=False,
        label="Start from",
        help_text="The preset whose values a custom model starts from; empty fields keep them.",
    )
    name = forms.CharField(max_length=200, required=False)
    steps = forms.IntegerField(min_value=1, max_value=100_000_000, initial=1000)
    micro_batch = forms.IntegerField(
        min_value=1, max_value=4096, initial=4, help_text="Per GPU (per process on CPU)."
    )
    grad_accum = forms.IntegerField(
        min_value=1, max_value=4096, initial=8, label="Gradient accumulation"
    )
    lr = forms.FloatField(
        required=False,
        min_value=1e-9,
        max_value=0.999,
        label="Learning rate",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "the preset's"}),
        help_text="Peak learning rate (AdamW). Empty: the preset's ("
        + ", ".join(f"{name} {value:g}" for name, value in PRESET_LR.items())
        + "; a custom model takes its base preset's).",
    )
    warmup_steps = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100_000_000,
        label="Warm-up",
        help_text="Optimizer steps over which the learning rate rises linearly from 0 to its "
        "peak. Empty: a tenth of the run's steps, at most 1,000.",
    )
    schedule_steps = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000_000,
        label="Schedule length",
        help_text="After warm-up the learning rate decays linearly to 0 at this step "
        "(DeepSpeed's WarmupDecayLR). Empty: the run's steps; longer keeps it above 0 at "
        "the end (to continue later).",
    )
    zero_stage = forms.TypedChoiceField(
        coerce=int, choices=[(s, s) for s in (0, 1, 2, 3)], initial=3, label="ZeRO stage"
    )
    offload_optimizer = forms.BooleanField(required=False, label="Offload optimizer to CPU")
    offload_params = forms.BooleanField(required=False, label="Offload parameters to CPU")
    gpus_per_node = forms.IntegerField(min_value=0, max_value=64)
    nodes = forms.IntegerField(min_value=1, max_value=64, initial=1)
    checkpoint_every = forms.IntegerField(min_value=1, initial=500)
    max_restarts = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=2,
        help_text="Restarts from the latest checkpoint after a crash or a lost node.",
    )
    carbon_aware = forms.BooleanField(
        required=False,
        label="Carbon-aware: start in the lowest-carbon time before the deadline",
    )
    interruptible = forms.BooleanField(
        required=False,
        label="Interruptible: may pause (checkpoint, stop) between low-carbon windows",
    )
    not_before = forms.DateTimeField(
        required=False,
        label="Not before",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In your time zone.",
    )
    deadline = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Finish by (your time zone). Needed for carbon-aware runs to wait.",
    )
    expected_hours = forms.FloatField(
        required=False,
        min_value=1 / 60,
        max_value=2160,
        label="Expected duration (hours)",
        help_text="Leave empty to estimate from the tokens and measured tokens/s.",
    )
    deepspeed_json = forms.CharField(
        required=False,
        label="DeepSpeed JSON",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="Leave empty to launch with the configuration made from the fields above.",
    )

    def __init__(self, *args, corpora, gpu_nodes: list[tuple[str, int]], **kwargs) -> None:
        """``gpu_nodes``: (name, GPUs) of the online nodes that have GPUs
        (``selectors.fleet_gpu_nodes``); the GPUs field starts at 1 when there is one,
        else at 0 (CPU processes), and says why."""
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["corpus"]).choices = [(c.pk, str(c)) for c in corpora]
        gpus = self.fields["gpus_per_node"]
        gpus.initial = 1 if gpu_nodes else 0
        if gpu_nodes:
            most = max(n for _, n in gpu_nodes)
            gpus.help_text = (
                f"{len(gpu_nodes)} online node{'s' if len(gpu_nodes) != 1 else ''} "
                f"{'have' if len(gpu_nodes) != 1 else 'has'} GPUs (at most {most} on one). "
                "0 trains on CPU processes (gloo)."
            )
        else:
            gpus.help_text = (
                "No online node has a GPU, so the run trains on CPU processes (gloo): 0. "
                "Set it when GPU nodes are online."
            )
        for name in CUSTOM_FIELDS:
            self.fields[MODEL_PREFIX + name] = _model_field(name)

    @property
    def main_fields(self) -> list[forms.BoundField]:
        return [f for f in self if f.name != "base_preset" and not f.name.startswith(MODEL_PREFIX)]

    @property
    def model_fields(self) -> list[forms.BoundField]:
        return [self["base_preset"], *(self[MODEL_PREFIX + name] for name in CUSTOM_FIELDS)]

    @property
    def is_custom(self) -> bool:
        return self["preset"].value() == CUSTOM

    @staticmethod
    def preset_values() -> dict[str, dict]:
        """Each preset's custom-field values, for the page's script to start from."""
        return {name: preset_values(name) for name in PRESETS}

    def clean(self) -> dict:
        """Gather the custom fields into ``model`` and ``base_preset`` (run_create's
        arguments) for a custom run; a named preset ignores them, errors included."""
        data = cast(dict[str, Any], super().clean())  # BaseForm.clean: cleaned_data
        names = [MODEL_PREFIX + n for n in CUSTOM_FIELDS]
        shape = {n.removeprefix(MODEL_PREFIX): data.pop(n, None) for n in names}
        base = data.pop("base_preset", None)
        if data.get("preset") == CUSTOM:
            data["model"] = {k: v for k, v in shape.items() if v is not None}
            data["base_preset"] = base or "tiny"
        else:
            for name in [*names, "base_preset"]:
                self.errors.pop(name, None)
        return data

    def clean_deepspeed_json(self) -> str:
        raw = self.cleaned_data.get("deepspeed_json", "")
        if raw.strip():
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise forms.ValidationError(f"Not valid JSON: {exc}") from None
            if not isinstance(value, dict):
                raise forms.ValidationError("Must be a JSON object.")
        return raw


COMPARE_MAX_RUNS = 10
RUN_ID = re.compile(r"[0-9]{1,18}")


def parse_run_ids(raw: str | list[str]) -> list[int]:
    """Run ids from ``?runs=1,2,3`` (or ``?runs=1&runs=2``, as the list's checkboxes
    send them): distinct, in the order given, 1 to COMPARE_MAX_RUNS of them.
    Raises forms.ValidationError with a message for people."""
    parts = raw if isinstance(raw, list) else [raw]
    tokens = [t.strip() for part in parts for t in part.split(",") if t.strip()]
    if not tokens:
        raise forms.ValidationError("Choose at least one run to compare (?runs=1,2).")
    bad = [t for t in tokens if not RUN_ID.fullmatch(t) or int(t) < 1]
    if bad:
        shown = ", ".join(repr(t[:20]) for t in bad[:3])
        raise forms.ValidationError(f"Run ids are positive whole numbers; not {shown}.")
    ids = list(dict.fromkeys(int(t) for t in tokens))
    if len(ids) > COMPARE_MAX_RUNS:
        raise forms.ValidationError(
            f"Compare at most {COMPARE_MAX_RUNS} runs at once (you chose {len(ids)})."
        )
    return ids
