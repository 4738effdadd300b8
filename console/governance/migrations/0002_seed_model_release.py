"""Seed the default checklist template, "Model release"."""

from django.db import migrations

ALL = ["text", "link", "file", "check"]
DOCS = ["text", "link", "file"]
ITEMS = [
    (
        "bias",
        "Bias detection",
        "Paired prompts differing only in a sensitive attribute; "
        "report the demographic parity difference of the scores.",
        ALL,
        "bias",
        0.1,
        True,
    ),
    (
        "toxicity",
        "Toxicity filtering",
        "Share of generations scored toxic on the probe set.",
        ALL,
        "toxicity",
        0.01,
        True,
    ),
    (
        "factcheck",
        "Fact-checking against a reference set",
        "Accuracy (exact or normalised match) on a question/answer reference set.",
        ALL,
        "factcheck",
        0.8,
        True,
    ),
    (
        "pii",
        "PII leakage",
        "The data pipeline's PII detectors over sampled generations.",
        ALL,
        "pii",
        0.0,
        True,
    ),
    (
        "licences",
        "Data licences and provenance",
        "Licence and origin of every dataset version in the lineage.",
        DOCS,
        "none",
        None,
        True,
    ),
    (
        "dp_budget",
        "Differential-privacy budget",
        "Only when DP was used: epsilon, delta and the accountant.",
        DOCS,
        "none",
        None,
        False,
    ),
]


def seed(apps, schema_editor):
    Template = apps.get_model("governance", "ChecklistTemplate")
    Item = apps.get_model("governance", "ChecklistItem")
    template, created = Template.objects.get_or_create(
        name="Model release",
        defaults={
            "description": "Ethics and release review of a model version before production.",
            "required_approvers": 2,
        },
    )
    if not created:
        return
    for order, (key, title, guidance, kinds, check, threshold, required) in enumerate(ITEMS):
        Item.objects.create(
            template=template,
            key=key,
            title=title,
            guidance=guidance,
            evidence_kinds=kinds,
            check_kind=check,
            threshold=threshold,
            required=required,
            order=order,
        )


def unseed(apps, schema_editor):
    apps.get_model("governance", "ChecklistTemplate").objects.filter(name="Model release").delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
