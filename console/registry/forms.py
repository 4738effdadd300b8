from __future__ import annotations

from typing import cast

from django import forms

from console.registry.models import FeedbackSource, Sentiment
from console.registry.specs import (
    GROUP_SIZES,
    MAX_CALIBRATION_SEQUENCES,
    MAX_PROMPTS,
    MIN_CALIBRATION_SEQUENCES,
    QUANT_METHODS,
)


class RegisterForm(forms.Form):
    run = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    step = forms.IntegerField(min_value=0, max_value=2**63 - 1, widget=forms.HiddenInput)
    name = forms.CharField(max_length=100, label="Model name")


class SamplingForm(forms.Form):
    temperature = forms.FloatField(min_value=0, max_value=5, initial=0.7)
    top_p = forms.FloatField(min_value=0.01, max_value=1, initial=0.92, label="Top-p")
    repetition_penalty = forms.FloatField(min_value=1, max_value=5, initial=1.2)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=2048, initial=64, label="Max tokens")


class EvaluateForm(SamplingForm):
    kind = forms.ChoiceField(
        choices=[("perplexity", "Perplexity (validation split)"), ("generation", "Generation")],
        initial="perplexity",
        label="Evaluation",
    )
    corpus = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    max_sequences = forms.IntegerField(min_value=1, max_value=100_000, initial=256)
    prompts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=f"One prompt per line (at most {MAX_PROMPTS}).",
        initial="The court ruled that\n机器学习",
    )

    field_order = ["kind", "corpus", "max_sequences", "prompts"]

    def __init__(self, *args, corpora=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["corpus"]).choices = [
            ("", "the source run's corpus")
        ] + [(c.pk, str(c)) for c in corpora]

    def clean_prompts(self) -> list[str]:
        lines = [p.strip() for p in self.cleaned_data.get("prompts", "").splitlines()]
        return [p for p in lines if p]


METHOD_LABELS = {
    "w4a16": "W4A16: int4 weights (compressed-tensors)",
    "w8a16": "W8A16: int8 weights (compressed-tensors)",
    "fp8": "FP8: W8A8-FP8 for Hopper / Ada GPUs (compressed-tensors)",
    "bf16": "BF16 (a cast)",
    "fp16": "FP16 (a cast)",
}


class QuantizeForm(forms.Form):
    method = forms.ChoiceField(
        choices=[(m, METHOD_LABELS[m]) for m in QUANT_METHODS], initial="w4a16"
    )
    algorithm = forms.ChoiceField(
        choices=[
            ("rtn", "Round to nearest: no data, seconds"),
            ("gptq", "GPTQ: calibrated on a dataset version, better accuracy"),
        ],
        initial="rtn",
        help_text="GPTQ applies to W4A16 and W8A16.",
    )
    group_size = forms.TypedChoiceField(
        coerce=int, choices=[(g, g) for g in GROUP_SIZES], initial=128, help_text="W4A16 only."
    )
    calibration_corpus = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Calibration set",
        help_text="GPTQ: a tokenized dataset version made with the model's tokenizer; "
        "recorded in the new version's lineage.",
    )
    calibration_samples = forms.IntegerField(
        min_value=MIN_CALIBRATION_SEQUENCES,
        max_value=MAX_CALIBRATION_SEQUENCES,
        initial=128,
        label="Calibration sequences",
    )

    def __init__(self, *args, corpora=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["calibration_corpus"]).choices = [
            ("", "none (round to nearest)")
        ] + [(c.pk, str(c)) for c in corpora]


class PlaygroundForm(SamplingForm):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    seed = forms.IntegerField(min_value=0, max_value=2**32 - 1, initial=0)

    field_order = ["prompt"]


YES_NO = [("", "any"), ("yes", "yes"), ("no", "no")]


class FeedbackFilterForm(forms.Form):
    """The feedback page's and the feedback API's filters (GET parameters)."""

    sentiment = forms.ChoiceField(
        choices=[("", "any"), *Sentiment.choices], required=False, label="Rating"
    )
    source = forms.ChoiceField(choices=[("", "any"), *FeedbackSource.choices], required=False)
    corrected = forms.ChoiceField(choices=YES_NO, required=False, label="With a correction")
    flagged = forms.ChoiceField(choices=YES_NO, required=False)
    app = forms.CharField(max_length=100, required=False)
    q = forms.CharField(max_length=200, required=False, label="Text contains")

    def clean(self) -> dict:
        data = super().clean() or {}
        for name in ("app", "q"):
            if "\x00" in (data.get(name) or ""):
                self.add_error(name, "Not valid text.")
        return data

    def filters(self) -> dict:
        """feedback_list's keyword arguments (call after is_valid())."""
        data = self.cleaned_data
        yes_no = {"": None, "yes": True, "no": False}
        return {
            "sentiment": data.get("sentiment", ""),
            "source": data.get("source", ""),
            "corrected": yes_no[data.get("corrected") or ""],
            "flagged": yes_no[data.get("flagged") or ""],
            "app": (data.get("app") or "").strip(),
            "q": (data.get("q") or "").strip(),
        }


class FeedbackForm(forms.Form):
    """A rating of one playground answer (the prompt, output and sampling come back from
    the page as hidden fields; the service masks PII and checks every field)."""

    prompt = forms.CharField(widget=forms.HiddenInput, strip=False)
    output = forms.CharField(widget=forms.HiddenInput, strip=False, required=False)
    temperature = forms.FloatField(widget=forms.HiddenInput, required=False)
    top_p = forms.FloatField(widget=forms.HiddenInput, required=False)
    repetition_penalty = forms.FloatField(widget=forms.HiddenInput, required=False)
    max_new_tokens = forms.IntegerField(widget=forms.HiddenInput, required=False)
    seed = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # Sent by the button pressed: "Good answer" (1) or "Bad answer" (-1).
    rating = forms.TypedChoiceField(choices=[("1", "good"), ("-1", "bad")], coerce=int)
    correction = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        strip=False,
        label="A better answer (optional)",
    )
    flagged = forms.BooleanField(required=False, label="Flag for review (harmful or unsafe)")

    SAMPLING = ("temperature", "top_p", "repetition_penalty", "max_new_tokens", "seed")

    def sampling(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in self.SAMPLING if data.get(k) is not None}
