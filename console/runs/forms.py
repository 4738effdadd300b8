from __future__ import annotations

import json
import re

from django import forms

from gpu_agent.train.presets import PRESETS


class RunForm(forms.Form):
    corpus = forms.TypedChoiceField(coerce=int, help_text="A tokenized corpus of your projects.")
    preset = forms.ChoiceField(choices=[(p, p) for p in PRESETS], initial="tiny")
    name = forms.CharField(max_length=200, required=False)
    steps = forms.IntegerField(min_value=1, max_value=100_000_000, initial=1000)
    micro_batch = forms.IntegerField(
        min_value=1, max_value=4096, initial=4, help_text="Per GPU (per process on CPU)."
    )
    grad_accum = forms.IntegerField(
        min_value=1, max_value=4096, initial=8, label="Gradient accumulation"
    )
    zero_stage = forms.TypedChoiceField(
        coerce=int, choices=[(s, s) for s in (0, 1, 2, 3)], initial=3, label="ZeRO stage"
    )
    offload_optimizer = forms.BooleanField(required=False, label="Offload optimizer to CPU")
    offload_params = forms.BooleanField(required=False, label="Offload parameters to CPU")
    gpus_per_node = forms.IntegerField(
        min_value=0, max_value=64, initial=1, help_text="0 trains on CPU (gloo)."
    )
    nodes = forms.IntegerField(min_value=1, max_value=64, initial=1)
    checkpoint_every = forms.IntegerField(min_value=1, initial=500)
    max_restarts = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=2,
        help_text="Restarts from the latest checkpoint after a crash or a lost node.",
    )
    deepspeed_json = forms.CharField(
        required=False,
        label="DeepSpeed JSON",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="Leave empty to launch with the configuration made from the fields above.",
    )

    def __init__(self, *args, corpora, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["corpus"].choices = [(c.pk, str(c)) for c in corpora]

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
