"""Page forms. They check types and ranges; the services check the rest (and the
API goes through the same services)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from console.data.engine.clean import rule_catalog
from console.data.models import DatasetKind

MAX_ID = 2**63 - 1
# Switched on when the form first shows: masks, normalisation, filters and dedup; the
# rules that change text beyond that (URLs, special characters) are a choice to make.
DEFAULT_RULES = frozenset(
    {
        "normalize_whitespace",
        "length_filter",
        "quality_filter",
        "mask_email",
        "mask_credit_card",
        "mask_iban",
        "mask_cn_resident_id",
        "mask_ip",
        "mask_phone",
        "exact_dedup",
        "near_dedup",
    }
)


class DatasetForm(forms.Form):
    project = forms.ChoiceField()
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    text_field = forms.CharField(
        max_length=100,
        initial="text",
        help_text="The JSONL key (or Parquet column) that holds the text.",
    )
    kind = forms.ChoiceField(
        choices=DatasetKind.choices,
        initial=DatasetKind.TEXT,
        required=False,
        label="Holds",
        help_text='Chat: JSONL conversations ({"messages": [{"role", "content"}, …]}), '
        "or prompt/response columns named below. Preference: JSONL prompt/chosen/rejected.",
    )
    prompt_column = forms.CharField(max_length=100, required=False, label="Prompt column")
    response_column = forms.CharField(max_length=100, required=False, label="Response column")
    system_column = forms.CharField(max_length=100, required=False, label="System column")

    def columns(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            role: data.get(f"{role}_column", "")
            for role in ("prompt", "response", "system")
            if data.get(f"{role}_column")
        }

    def __init__(self, *args, projects, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["project"]).choices = [
            (p.slug, p.name) for p in projects
        ]


class UploadForm(forms.Form):
    text_field = forms.CharField(
        max_length=100,
        required=False,
        help_text="For JSONL and Parquet; empty: the dataset's text field.",
    )


class ImportForm(forms.Form):
    path = forms.CharField(max_length=1000, help_text="A file or folder under the import root.")
    text_field = forms.CharField(max_length=100, required=False)


class TokenizerForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)
    vocab_size = forms.IntegerField(
        min_value=260,
        max_value=1_000_000,
        initial=52_000,
        help_text="Counts the 256 byte tokens and the special tokens <bos> <eos> <pad> <unk>.",
    )
    min_frequency = forms.IntegerField(
        min_value=1,
        max_value=1_000_000,
        initial=2,
        help_text="A pair of tokens is merged only if it occurs this often.",
    )


class TokenizeForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, label="Dataset version")
    tokenizer = forms.TypedChoiceField(coerce=int)
    seq_len = forms.IntegerField(
        min_value=8, max_value=1_048_576, initial=2048, label="Sequence length"
    )
    val_fraction = forms.FloatField(
        min_value=0.0,
        max_value=0.5,
        initial=0.01,
        label="Validation share",
        help_text="Share of documents held out for validation.",
    )

    def __init__(self, *args, versions, tokenizers, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["version"]).choices = [(v.pk, str(v)) for v in versions]
        cast(forms.ChoiceField, self.fields["tokenizer"]).choices = [
            (t.pk, f"{t.name} ({t.vocab_size:,} tokens)") for t in tokenizers
        ]


# ------------------------------------------------------------------ the cleaning form
#
# Not a Django form: one checkbox per rule ("rules"), and per parameter an input named
# "<rule>.<field>" (a checkbox for booleans), built from the engine's rule catalog.


def _parse(raw: str, type_name: str) -> Any:
    raw = raw.strip()
    if type_name.startswith("int"):
        return int(raw)
    if type_name.startswith("float"):
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(raw)
        return value
    return raw


def clean_form_rules(data=None, errors: dict[str, dict[str, list[str]]] | None = None) -> list:
    """The catalog with each rule's state for the template: checked, and each field's
    value and errors (``errors`` maps a rule name to field errors)."""
    errors = errors or {}
    chosen = set(data.getlist("rules")) if data is not None else DEFAULT_RULES
    rules = []
    for rule in rule_catalog():
        name = rule["name"]
        fields = []
        for f in rule["fields"]:
            key = f"{name}.{f['name']}"
            if f["type"] == "bool":
                value = (key in data) if data is not None and name in chosen else f["default"]
            else:
                value = data.get(key, f["default"]) if data is not None else f["default"]
            fields.append(
                {
                    **f,
                    "key": key,
                    "value": value,
                    "errors": errors.get(name, {}).get(f["name"], []),
                }
            )
        rule_errors = errors.get(name, {})
        rules.append(
            {
                **rule,
                "checked": name in chosen,
                "fields": fields,
                "errors": rule_errors,
                "other_errors": [
                    msg
                    for field, msgs in rule_errors.items()
                    if field not in {f["name"] for f in rule["fields"]}
                    for msg in msgs
                ],
            }
        )
    return rules


def clean_form_steps(data) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[str]]]]:
    """(steps in catalog order, errors by rule name) from the posted cleaning form."""
    chosen = set(data.getlist("rules"))
    steps = []
    errors: dict[str, dict[str, list[str]]] = {}
    for rule in rule_catalog():
        name = rule["name"]
        if name not in chosen:
            continue
        params: dict[str, Any] = {}
        for f in rule["fields"]:
            key = f"{name}.{f['name']}"
            if f["type"] == "bool":
                params[f["name"]] = key in data
                continue
            try:
                params[f["name"]] = _parse(data.get(key, ""), f["type"])
            except ValueError:
                errors.setdefault(name, {})[f["name"]] = [f"must be {f['type']}"]
        steps.append({"rule": name, "params": params})
    unknown = chosen - {rule["name"] for rule in rule_catalog()}
    if unknown:
        errors["pipeline"] = {"rules": [f"unknown rules: {', '.join(sorted(unknown))}"]}
    elif not steps:
        errors["pipeline"] = {"rules": ["Switch on at least one rule."]}
    return steps, errors


def pipeline_errors_by_rule(
    steps: list[dict[str, Any]], errors: dict[str, dict[str, list[str]]]
) -> dict[str, dict[str, list[str]]]:
    """The engine's errors (by step index) keyed by rule name, for the form."""
    out: dict[str, dict[str, list[str]]] = {}
    for key, fields in errors.items():
        if key.isdigit() and int(key) < len(steps):
            out.setdefault(steps[int(key)]["rule"], {}).update(fields)
        else:
            out.setdefault("pipeline", {}).update(fields)
    return out
