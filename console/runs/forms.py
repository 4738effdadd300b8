from __future__ import annotations

import json

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
