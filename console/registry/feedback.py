"""Feedback writes: one rated prediction of a model version, from the playground or from
an application that serves the model (``POST /api/v1/models/<id>/feedback/``).

``feedback_create`` is the only way a Feedback row is made. It checks everything before
writing (the version may be used by the actor: a member of its project with the
'feedback' permission, the version not archived; the rating is on its scale; texts are
non-empty where required, within FORGE_FEEDBACK_MAX_CHARS and free of NUL bytes; the
sampling settings are the playground's, within their ranges), then masks PII in the
prompt, the output and the correction with the data pipeline's detectors (every
``pii_*`` rule, default masks) and stores only the masked text: a rating never brings
an e-mail address or a card number into the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from console.audit.services import audit_record
from console.core.errors import Conflict, FieldErrors, Forbidden, InvalidInput
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.data.artifacts import incoming_dir
from console.data.engine.rules import mask_pii
from console.data.models import Dataset, DatasetKind
from console.data.services import dataset_create, dataset_upload
from console.data.uploads import StagedUpload
from console.jobs.models import Job
from console.registry.models import (
    Feedback,
    FeedbackSource,
    ModelVersion,
    RatingScale,
    Sentiment,
    Status,
)
from console.registry.selectors import EXPORT_LAYOUTS, feedback_export_rows, feedback_list

# The sampling settings a feedback item may carry: the playground's (forms.SamplingForm),
# with ranges wide enough for an application's own settings.
SAMPLING_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 5.0),
    "top_p": (0.0, 1.0),
    "repetition_penalty": (1.0, 5.0),
    "max_new_tokens": (1, 32_768),
    "seed": (0, 2**32 - 1),
}
INTEGER_SAMPLING = frozenset({"max_new_tokens", "seed"})
APP_MAX_CHARS = 100
COMMENT_MAX_CHARS = 500


def sentiment_of(scale: str, rating: int) -> Sentiment:
    if scale == RatingScale.THUMBS:
        return Sentiment.POSITIVE if rating > 0 else Sentiment.NEGATIVE
    if rating >= 4:
        return Sentiment.POSITIVE
    return Sentiment.NEUTRAL if rating == 3 else Sentiment.NEGATIVE


def _check_text(
    errors: dict[str, list[str]], name: str, value: Any, *, required: bool, limit: int
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = ["must be text"]
        return ""
    if "\x00" in value:
        errors[name] = ["must not contain NUL bytes"]
    elif required and not value.strip():
        errors[name] = ["must not be empty"]
    elif len(value) > limit:
        errors[name] = [f"is {len(value):,} characters, over the limit of {limit:,}"]
    return value


def _check_rating(errors: dict[str, list[str]], scale: Any, rating: Any) -> None:
    if scale not in RatingScale.values:
        errors["scale"] = [f"must be one of {', '.join(RatingScale.values)}"]
        return
    if isinstance(rating, bool) or not isinstance(rating, int):
        errors["rating"] = ["must be a whole number"]
    elif scale == RatingScale.THUMBS and rating not in (-1, 1):
        errors["rating"] = ["on the thumbs scale: 1 (up) or -1 (down)"]
    elif scale == RatingScale.STARS and not 1 <= rating <= 5:
        errors["rating"] = ["on the stars scale: 1 to 5"]


def _check_sampling(errors: dict[str, list[str]], sampling: Any) -> dict[str, float | int]:
    if sampling is None:
        return {}
    if not isinstance(sampling, dict):
        errors["sampling"] = ["must be an object of sampling settings"]
        return {}
    clean: dict[str, float | int] = {}
    problems = []
    for key, value in sampling.items():
        if key not in SAMPLING_RANGES:
            problems.append(f"unknown setting {str(key)[:40]!r}")
            continue
        lo, hi = SAMPLING_RANGES[key]
        integer = key in INTEGER_SAMPLING
        numeric = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not numeric or not math.isfinite(value):
            problems.append(f"{key} must be {'a whole number' if integer else 'a number'}")
        elif not lo <= value <= hi:
            problems.append(f"{key} must be between {lo:g} and {hi:g}")
        else:
            clean[key] = value
    if problems:
        errors["sampling"] = problems
    return clean


def feedback_create(
    *,
    actor: Actor,
    version: ModelVersion,
    prompt: Any,
    output: Any,
    scale: Any,
    rating: Any,
    correction: Any = "",
    sampling: Any = None,
    flagged: bool = False,
    comment: Any = "",
    app: Any = "",
    source: str = FeedbackSource.API,
) -> Feedback:
    """Store one rated prediction of ``version`` (see the module's docstring). The
    caller has already checked that the actor may see the version (another project's
    versions answer 404 before this is reached)."""
    if not has_cap(actor, Cap.FEEDBACK):
        raise Forbidden(f"This needs the '{Cap.FEEDBACK.value}' permission.")
    if version.status == Status.ARCHIVED:
        raise Conflict(f"{version} is archived: it takes no feedback (restore it to draft).")
    limit = settings.FORGE_FEEDBACK_MAX_CHARS
    errors: dict[str, list[str]] = {}
    prompt = _check_text(errors, "prompt", prompt, required=True, limit=limit)
    output = _check_text(errors, "output", output, required=False, limit=limit)
    correction = _check_text(errors, "correction", correction, required=False, limit=limit)
    comment = _check_text(errors, "comment", comment, required=False, limit=COMMENT_MAX_CHARS)
    app = _check_text(errors, "app", app, required=False, limit=APP_MAX_CHARS)
    if app and not app.isprintable():
        errors["app"] = ["must be printable text (a name)"]
    _check_rating(errors, scale, rating)
    clean_sampling = _check_sampling(errors, sampling)
    if not isinstance(flagged, bool):
        errors["flagged"] = ["must be true or false"]
    if source not in FeedbackSource.values:
        errors["source"] = [f"must be one of {', '.join(FeedbackSource.values)}"]
    if errors:
        raise FieldErrors(errors)
    masked: dict[str, int] = {}
    texts = {}
    for name, text in (("prompt", prompt), ("output", output), ("correction", correction)):
        texts[name], found = mask_pii(text)
        for pii_type, hits in found.items():
            masked[pii_type] = masked.get(pii_type, 0) + hits
    return Feedback.objects.create(
        model_version=version,
        prompt=texts["prompt"],
        output=texts["output"],
        correction=texts["correction"].strip() and texts["correction"],
        sampling=clean_sampling,
        scale=scale,
        rating=rating,
        sentiment=sentiment_of(scale, rating),
        flagged=flagged,
        comment=mask_pii(comment)[0].strip(),
        pii_masked=masked,
        source=source,
        app=app.strip(),
        created_by=actor if actor.is_authenticated else None,
    )


def feedback_exported(
    *, actor: Actor, version: ModelVersion, layout: str, filters: dict[str, Any]
) -> None:
    """Record in the audit log that ``actor`` downloaded ``version``'s feedback as
    training rows (selectors.feedback_export_rows), with the filters applied."""
    audit_record(
        action="feedback.export",
        actor=actor,
        obj=version,
        project_id=version.project_id,
        after={
            "layout": layout,
            "filters": {k: v for k, v in filters.items() if v not in ("", None)},
        },
    )


def feedback_to_dataset(
    *,
    actor: Actor,
    version: ModelVersion,
    layout: str,
    filters: dict[str, Any],
    dataset: Dataset | None = None,
    name: str = "",
) -> Job:
    """Turn ``version``'s filtered feedback into the next version of a fine-tuning
    dataset: ``sft`` rows into a chat dataset, ``preference`` pairs into a preference
    dataset, of the version's project (``dataset``, or a new one named ``name``). The
    rows are staged as a JSONL upload and ingested by an ordinary ``data.ingest`` job,
    which checks every record and masks PII again; the result is reviewed and used like
    any dataset version. Refused before anything is written when no item makes a row."""
    if not has_cap(actor, Cap.DATA_WRITE):
        raise Forbidden(f"Making a dataset needs the '{Cap.DATA_WRITE.value}' permission.")
    if layout not in EXPORT_LAYOUTS:
        raise FieldErrors({"layout": [f"One of: {', '.join(EXPORT_LAYOUTS)}."]})
    kind = DatasetKind.CHAT if layout == "sft" else DatasetKind.PREFERENCE
    if dataset is not None and (dataset.project_id != version.project_id or dataset.kind != kind):
        raise FieldErrors(
            {"dataset": [f"Choose a {kind} dataset of {version.project.name} (or a new name)."]}
        )
    staged = incoming_dir() / f"feedback-{uuid.uuid4().hex}.jsonl"
    digest = hashlib.sha256()
    rows = 0
    with staged.open("wb") as out:
        for row in feedback_export_rows(feedback_list(version=version, **filters), layout):
            line = json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n"
            out.write(line)
            digest.update(line)
            rows += 1
    try:
        if rows == 0:
            raise InvalidInput(
                f"No feedback item makes a {layout} row with these filters: SFT rows need a "
                "better answer or a positive rating, preference pairs a better answer."
            )
        filename = f"feedback-{version.name}-v{version.number}-{layout}.jsonl"
        upload = StagedUpload(
            path=staged,
            name=filename,
            size=staged.stat().st_size,
            sha256=digest.hexdigest(),
            content_type="application/x-ndjson",
        )
        with transaction.atomic():
            if dataset is None:
                dataset = dataset_create(
                    actor=actor,
                    project=version.project,
                    name=name or f"{version.name} v{version.number} feedback ({layout})",
                    description=f"Feedback on {version} ({layout} rows).",
                    kind=kind,
                )
            job = dataset_upload(actor=actor, dataset=dataset, upload=upload)
            audit_record(
                action="feedback.to_dataset",
                actor=actor,
                obj=version,
                project_id=version.project_id,
                after={
                    "layout": layout,
                    "rows": rows,
                    "dataset": dataset.pk,
                    "job": job.pk,
                    "filters": {k: v for k, v in filters.items() if v not in ("", None)},
                },
            )
        return job
    finally:
        staged.unlink(missing_ok=True)
