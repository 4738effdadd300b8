"""Data reads, scoped to the projects the user may see (another team's objects are
invisible: S3)."""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

from django.db.models import Count, Max, QuerySet

from console.data.artifacts import data_storage
from console.data.engine.chat_template import (
    DEFAULT_TEMPLATE,
    TemplateError,
    read_template,
    render_sample,
)
from console.data.engine.clean import rule_catalog
from console.data.engine.versions import DOCUMENTS
from console.data.models import Dataset, DatasetKind, DatasetVersion, TokenizedCorpus, Tokenizer
from console.data.services import DATA_KINDS
from console.jobs.models import Job
from console.projects.selectors import project_list


def dataset_list(*, user, project: str = "") -> QuerySet[Dataset]:
    datasets = (
        Dataset.objects.filter(project__in=project_list(user=user))
        .select_related("project", "created_by")
        .annotate(version_count=Count("versions"), latest_number=Max("versions__number"))
        .order_by("name", "id")  # Meta.ordering does not apply to a GROUP BY query
    )
    if project:
        datasets = datasets.filter(project__slug=project)
    return datasets


def dataset_get(*, user, dataset_id: int) -> Dataset | None:
    return dataset_list(user=user).filter(pk=dataset_id).first()


def version_list(*, user, dataset: int | None = None, project: str = "") -> QuerySet:
    versions = DatasetVersion.objects.filter(
        dataset__project__in=project_list(user=user)
    ).select_related("dataset", "dataset__project", "parent", "created_by")
    if dataset is not None:
        versions = versions.filter(dataset_id=dataset)
    if project:
        versions = versions.filter(dataset__project__slug=project)
    return versions


def version_get(*, user, version_id: int) -> DatasetVersion | None:
    return version_list(user=user).filter(pk=version_id).first()


def tokenizer_list(*, user, project: str = "", version: int | None = None) -> QuerySet:
    tokenizers = Tokenizer.objects.filter(project__in=project_list(user=user)).select_related(
        "project", "version", "version__dataset", "created_by"
    )
    if project:
        tokenizers = tokenizers.filter(project__slug=project)
    if version is not None:
        tokenizers = tokenizers.filter(version_id=version)
    return tokenizers


def tokenizer_get(*, user, tokenizer_id: int) -> Tokenizer | None:
    return tokenizer_list(user=user).filter(pk=tokenizer_id).first()


def corpus_list(*, user, project: str = "", version: int | None = None) -> QuerySet:
    corpora = TokenizedCorpus.objects.filter(project__in=project_list(user=user)).select_related(
        "project", "version", "version__dataset", "tokenizer", "created_by"
    )
    if project:
        corpora = corpora.filter(project__slug=project)
    if version is not None:
        corpora = corpora.filter(version_id=version)
    return corpora


def corpus_get(*, user, corpus_id: int) -> TokenizedCorpus | None:
    return corpus_list(user=user).filter(pk=corpus_id).first()


def dataset_jobs(*, dataset: Dataset, limit: int = 10) -> list[Job]:
    """The latest data jobs about a dataset (ingests into it, runs on its versions)."""
    version_ids = set(dataset.versions.values_list("pk", flat=True))
    recent = (
        Job.objects.filter(project_id=dataset.project_id, kind__in=DATA_KINDS)
        .select_related("requested_by")
        .order_by("-created_at", "-id")[:300]
    )
    found = [
        job
        for job in recent
        if job.spec.get("dataset_id") == dataset.pk or job.spec.get("version_id") in version_ids
    ]
    return found[:limit]


def job_output(*, user, job_id: int) -> Any | None:
    """What a data job made (a version, a tokenizer or a corpus), if the user may see it."""
    projects = project_list(user=user)
    for model in (DatasetVersion, Tokenizer, TokenizedCorpus):
        scope = "dataset__project__in" if model is DatasetVersion else "project__in"
        found = model.objects.filter(job_id=job_id, **{scope: projects}).first()
        if found is not None:
            return found
    return None


def version_lineage(*, version: DatasetVersion) -> list[DatasetVersion]:
    """The version's ancestors, oldest first, then the version itself."""
    chain = [version]
    seen = {version.pk}
    while chain[0].parent_id and chain[0].parent_id not in seen:
        parent = DatasetVersion.objects.select_related("dataset").get(pk=chain[0].parent_id)
        seen.add(parent.pk)
        chain.insert(0, parent)
    return chain


def version_sample(*, version: DatasetVersion, count: int = 5, chars: int = 400) -> list[str]:
    """The first documents of a version, cut to ``chars`` characters each (none for a
    version of chat or preference records: ``version_records``)."""
    if version.dataset.kind != DatasetKind.TEXT:
        return []
    try:
        path = data_storage().path(version.storage_key) / DOCUMENTS
        with path.open("rb") as f:
            return [json.loads(line)["text"][:chars] for line in islice(f, count)]
    except (OSError, ValueError, KeyError):
        return []


def version_records(*, version: DatasetVersion, count: int = 5) -> list[dict[str, Any]]:
    """The first records of a chat or preference version (none for text)."""
    if version.dataset.kind == DatasetKind.TEXT:
        return []
    try:
        path = data_storage().path(version.storage_key) / DOCUMENTS
        with path.open("rb") as f:
            return [json.loads(line) for line in islice(f, count)]
    except (OSError, ValueError):
        return []


def cleaning_rules() -> list[dict[str, Any]]:
    return rule_catalog()


def tokenizer_chat_template(*, tokenizer: Tokenizer) -> dict[str, Any]:
    """The tokenizer's chat template (None: it has none), Forge's default, and the sample
    conversation rendered with the template in use (or the default), token by token with
    the loss mask; ``error`` when the stored template no longer renders."""
    folder = data_storage().path(tokenizer.storage_key)
    template = read_template(folder)
    shown = template if template is not None else DEFAULT_TEMPLATE
    try:
        sample, error = render_sample(folder, shown), ""
    except (TemplateError, OSError) as exc:
        sample, error = None, str(exc)
    return {"template": template, "default": DEFAULT_TEMPLATE, "sample": sample, "error": error}
