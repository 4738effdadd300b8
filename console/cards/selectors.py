"""The model card's contents, read from the registry, the run, its metric series and
(when that app is installed) the governance review. Nothing here writes."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from console.metrics.selectors import metric_points
from console.registry.models import ModelVersion
from console.registry.selectors import comparison_rows, feedback_list, feedback_summary

log = logging.getLogger(__name__)

DEFAULT_INTENDED_USE = (
    "A language model trained on this console's own data for research and internal "
    "evaluation. It has not been assessed for any use beyond the evaluations listed "
    "on this card; check its review outcome before deploying it, and evaluate it on "
    "your own task and data before relying on its output."
)
NO_REVIEW = "no review yet"


def _link(base_url: str, name: str, *args: Any) -> str:
    return base_url + reverse(name, args=args)


def _final_value(job_id: int | None, name: str, step: int | None) -> dict[str, Any] | None:
    """The last point of a series at or before ``step``: {"step", "value"}."""
    if job_id is None:
        return None
    steps, values = metric_points(job_id=job_id, name=name, hi=None if step is None else step + 1)
    if not len(steps):
        return None
    return {"step": int(steps[-1]), "value": float(values[-1])}


def _deepspeed_summary(ds: dict[str, Any]) -> list[tuple[str, Any]]:
    zero = ds.get("zero_optimization") or {}
    rows: list[tuple[str, Any]] = [
        ("ZeRO stage", zero.get("stage")),
        ("bf16", (ds.get("bf16") or {}).get("enabled")),
        ("fp16", (ds.get("fp16") or {}).get("enabled")),
        ("train batch size", ds.get("train_batch_size")),
        ("micro batch per GPU", ds.get("train_micro_batch_size_per_gpu")),
        ("gradient accumulation", ds.get("gradient_accumulation_steps")),
        ("gradient clipping", ds.get("gradient_clipping")),
        ("optimizer offload", (zero.get("offload_optimizer") or {}).get("device")),
        ("parameter offload", (zero.get("offload_param") or {}).get("device")),
    ]
    return [(k, v) for k, v in rows if v is not None]


def review_outcome(version: ModelVersion) -> dict[str, Any]:
    """{"state", "approvers", "text"} from governance's latest Review of the version,
    read defensively: the app may be missing, or its models shaped differently."""
    outcome: dict[str, Any] = {"state": None, "approvers": [], "text": NO_REVIEW}
    try:
        review_model = apps.get_model("governance", "Review")
    except LookupError:
        return outcome
    try:
        with transaction.atomic():  # a failed query must not poison the caller's transaction
            fk = next(
                f.name
                for f in review_model._meta.concrete_fields
                if f.is_relation and f.related_model is ModelVersion
            )
            review = review_model.objects.filter(**{fk: version}).order_by("-pk").first()
            if review is None:
                return outcome
            state = str(getattr(review, "state", None) or getattr(review, "status", "") or "")
            display = getattr(review, "get_state_display", None)
            text = str(display()) if callable(display) and state else state
            outcome.update(state=state, text=text or NO_REVIEW)
            outcome["approvers"] = _approvers(review)
    except (StopIteration, LookupError, FieldError, DatabaseError, AttributeError, ValueError):
        log.warning("could not read the governance review of %s", version.pk, exc_info=True)
    return outcome


def review_checklist(version: ModelVersion) -> list[dict[str, Any]]:
    """Every checklist item of the version's latest review with its check result: the
    verdict, the automated result, a result recorded by hand (who, when, why) and, when
    that result replaced a failed automated one, the failure (``waived``). Read as
    defensively as ``review_outcome``; the shapes come from governance's display."""
    from console.governance.display import check_view

    try:
        item_model = apps.get_model("governance", "ReviewItem")
        review_model = apps.get_model("governance", "Review")
    except LookupError:
        return []
    try:
        with transaction.atomic():
            review = review_model.objects.filter(version=version).order_by("-pk").first()
            if review is None:
                return []
            items = list(
                item_model.objects.filter(review=review)
                .select_related("check_job", "checked_by")
                .order_by("order", "pk")
            )
    except (LookupError, FieldError, DatabaseError, ValueError):
        log.warning("could not read the review checklist of %s", version.pk, exc_info=True)
        return []
    return [_checklist_row(item, check_view(item)) for item in items]


def _result_text(auto: dict[str, Any]) -> str:
    text = f"{auto['metric']}: {auto['value']}"
    if auto["threshold"]:
        text += f" ({auto['direction'] or 'threshold'} {auto['threshold']})"
    return text


def _run_text(auto: dict[str, Any]) -> str:
    parts = []
    if auto["job"]:
        parts.append(f"job {auto['job']}")
    if auto["run_by"]:
        parts.append(f"run by {auto['run_by']}")
    if auto["at"]:
        parts.append(f"at {auto['at']}")
    return ", ".join(parts)


def _checklist_row(item: Any, view: dict[str, Any]) -> dict[str, Any]:
    verdict = {True: "passed", False: "failed", None: "not checked"}[view["verdict"]]
    if view["verdict"] is None and (
        str(getattr(item, "evidence_text", "") or "").strip()
        or getattr(item, "evidence_link", "")
        or getattr(item, "evidence_file", "")
    ):
        verdict = "evidence given, not checked"
    kind = getattr(item, "check_kind", "none") or "none"
    display = getattr(item, "get_check_kind_display", None)
    row: dict[str, Any] = {
        "key": str(getattr(item, "key", "")),
        "title": str(getattr(item, "title", "")),
        "required": bool(getattr(item, "required", True)),
        "check": (str(display()) if callable(display) else kind) if kind != "none" else "",
        "verdict": verdict,
        "result": "",
        "run": "",
        "by_hand": None,
        "waived": None,
    }
    if view["kind"] == "automated":
        row["result"], row["run"] = _result_text(view["auto"]), _run_text(view["auto"])
    elif view["kind"] == "manual":
        manual = view["manual"]
        row["by_hand"] = {"by": manual["by"] or "a reviewer", "at": manual["at"],
                          "note": manual["note"]}  # fmt: skip
        replaced = manual["overrides"]
        if replaced is not None:
            row["replaced"] = {
                "result": _result_text(replaced),
                "run": _run_text(replaced),
                "failed": replaced["passed"] is False,
            }
            if replaced["passed"] is False and view["verdict"] is True:
                row["waived"] = row["replaced"]
            row["result"] = (
                "automated: "
                + row["replaced"]["result"]
                + (" (failed)" if replaced["passed"] is False else "")
            )
            row["run"] = row["replaced"]["run"]
        else:
            row["result"] = "recorded by hand"
    elif view["kind"] == "other":
        row["result"] = "; ".join(f"{k}: {v}" for k, v in view["other"])[:300]
    row.setdefault("replaced", None)
    return row


def _approvers(review: Any) -> list[str]:
    try:
        decision_model = apps.get_model("governance", "Decision")
    except LookupError:
        return []
    fk = next(
        f.name
        for f in decision_model._meta.concrete_fields
        if f.is_relation and f.related_model is type(review)
    )
    decisions = decision_model.objects.filter(**{fk: review}).order_by("pk")
    round_ = getattr(review, "round", None)
    if round_ is not None and any(f.name == "round" for f in decision_model._meta.fields):
        decisions = decisions.filter(round=round_)  # the decisions of the current round
    names = []
    for decision in decisions:
        verdict = ""
        for attr in ("decision", "verdict", "outcome", "action", "state", "kind"):
            if getattr(decision, attr, None):
                verdict = str(getattr(decision, attr)).lower()
                break
        if not verdict.startswith("approv"):
            continue
        who = getattr(decision, "reviewer", None) or getattr(decision, "actor", None)
        name = (
            who.get_username()
            if hasattr(who, "get_username")
            else str(who or getattr(decision, "reviewer_name", ""))
        )
        if name and name not in names:
            names.append(name)
    return names


def _evaluation_row(evaluation) -> dict[str, Any]:
    result = evaluation.result or {}
    if evaluation.kind == "perplexity":
        summary = f"perplexity {result.get('perplexity')}"
        if result.get("tokens") is not None:
            summary += f" over {result['tokens']} tokens"
    else:
        outputs = result.get("outputs") or []
        summary = f"{len(outputs)} generations"
        if result.get("tokens_per_s") is not None:
            summary += f", {float(result['tokens_per_s']):.1f} tokens/s"
    params = ", ".join(f"{k}={v}" for k, v in sorted((evaluation.params or {}).items()))
    return {
        "kind": evaluation.kind,
        "summary": summary,
        "params": params,
        "created_at": evaluation.created_at,
    }


def _tokens_per_s(measured: dict[str, Any]) -> Any:
    tps = measured.get("tokens_per_s")
    if isinstance(tps, dict):
        return ", ".join(f"batch {k}: {float(v):.1f}" for k, v in tps.items())
    return tps


def _feedback_rows(version: ModelVersion) -> list[tuple[str, Any]]:
    """What users said of this version's answers (registry feedback); empty: none yet."""
    summary = feedback_summary(feedback_list(version=version))
    total = summary["total"]
    if not total:
        return []
    by = summary["by_sentiment"]
    rows: list[tuple[str, Any]] = [
        ("rated answers", total),
        ("positive", f"{by['positive']} ({100 * by['positive'] / total:.0f}%)"),
        ("neutral", by["neutral"]),
        ("negative", f"{by['negative']} ({100 * by['negative'] / total:.0f}%)"),
        ("with a better answer", summary["corrected"]),
        ("flagged for review", summary["flagged"]),
    ]
    if summary["mean_stars"] is not None:
        rows.append(("mean of the star ratings", f"{summary['mean_stars']:.2f} of 5"))
    return rows


def card_data(version: ModelVersion, *, base_url: str = "") -> dict[str, Any]:
    """Everything a model card shows; ``base_url`` makes its links absolute."""
    lineage = version.lineage or {}
    run = version.run
    spec = (run.spec if run else None) or {}
    model = lineage.get("model") or spec.get("model") or {}
    deepspeed = lineage.get("deepspeed") or (run.deepspeed if run else None) or {}
    measured = version.measured or {}
    data_links = []
    for dv in lineage.get("dataset_versions") or []:
        data_links.append(
            {"label": f"dataset version {dv}", "url": _link(base_url, "data:version", dv)}
        )
    if lineage.get("corpus"):
        data_links.append(
            {
                "label": f"tokenized corpus {lineage['corpus']}",
                "url": _link(base_url, "data:corpus", lineage["corpus"]),
            }
        )
    if lineage.get("tokenizer"):
        data_links.append(
            {
                "label": f"tokenizer {lineage['tokenizer']}",
                "url": _link(base_url, "data:tokenizer", lineage["tokenizer"]),
            }
        )
    if version.run_id:
        run_label = f"run {version.run_id}" + (f" ({run.name})" if run and run.name else "")
        data_links.insert(
            0, {"label": run_label, "url": _link(base_url, "runs:detail", version.run_id)}
        )
    if version.parent_id:
        data_links.append(
            {
                "label": f"parent {version.parent}",
                "url": _link(base_url, "registry:detail", version.parent_id),
            }
        )
    job_id = run.job_id if run else None
    training = [
        ("preset", lineage.get("preset") or (run.preset if run else None)),
        ("parameters", run.params if run and run.params else None),
        ("steps", spec.get("steps")),
        ("checkpoint step", version.step),
        ("micro batch", spec.get("micro_batch")),
        ("gradient accumulation", spec.get("grad_accum")),
    ]
    optimizer = spec.get("optimizer") or {}
    scheduler = spec.get("scheduler") or {}
    metrics = [
        ("final training loss", _final_value(job_id, "loss", version.step)),
        ("final eval loss", _final_value(job_id, "eval_loss", version.step)),
    ]
    measured_rows = [
        ("size on disk (bytes)", measured.get("size_bytes", version.size_bytes)),
        ("peak memory (bytes)", measured.get("peak_memory_bytes")),
        ("tokens/s", _tokens_per_s(measured)),
        ("perplexity", measured.get("perplexity")),
    ]
    rows = comparison_rows(version)
    checklist = review_checklist(version)
    return {
        "version": version,
        "title": str(version),
        "url": _link(base_url, "registry:detail", version.pk),
        "generated_at": timezone.now(),
        "intended_use": DEFAULT_INTENDED_USE,
        "lineage_summary": _lineage_sentence(version, lineage),
        "data_links": data_links,
        "training": [(k, v) for k, v in training if v not in (None, "")],
        "model_shape": sorted(model.items()),
        "optimizer": sorted(
            {**optimizer, **{f"scheduler {k}": v for k, v in scheduler.items()}}.items()
        ),
        "deepspeed": _deepspeed_summary(deepspeed),
        "metrics": [(k, v) for k, v in metrics if v is not None],
        "measured": [(k, v) for k, v in measured_rows if v is not None],
        "evaluations": [_evaluation_row(e) for e in version.evaluations.order_by("-created_at")],
        "feedback": _feedback_rows(version),
        "variants": rows if len(rows) > 1 else [],
        "review": review_outcome(version),
        "checklist": checklist,
        "waived": [row for row in checklist if row["waived"]],
        "files": version.files or [],
    }


def _lineage_sentence(version: ModelVersion, lineage: dict[str, Any]) -> str:
    parts = []
    if lineage.get("preset"):
        parts.append(f"a {lineage['preset']} model")
    else:
        parts.append("a model")
    if version.run_id:
        parts.append(f"trained by run {version.run_id} to step {version.step}")
    if lineage.get("corpus"):
        parts.append(f"on tokenized corpus {lineage['corpus']}")
    if lineage.get("dataset_versions"):
        dvs = ", ".join(str(d) for d in lineage["dataset_versions"])
        parts.append(f"built from dataset versions {dvs}")
    text = "This is " + " ".join(parts) + "."
    if version.parent_id:
        method = version.quant_method or version.precision
        text += f" It is a {method} quantization of {version.parent}."
    return text
