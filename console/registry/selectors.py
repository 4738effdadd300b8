"""Registry reads, scoped to the projects the user may see (another team's versions are
absent), and the model page's comparisons."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDate

from console.core.errors import Conflict, NotFound
from console.projects.selectors import project_list
from console.registry.artifacts import SUMS_FILE, sha256_file, sums_text
from console.registry.models import (
    Evaluation,
    Feedback,
    ModelVersion,
    RatingScale,
    Sentiment,
    WeightFormat,
)
from console.registry.services import model_folder


def model_version_list(*, user, project: str = "", name: str = "") -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.filter(project__in=project_list(user=user)).select_related(
        "project", "run", "parent", "created_by", "job"
    )
    if project:
        versions = versions.filter(project__slug=project)
    if name:
        versions = versions.filter(name=name)
    return versions


def model_version_get(*, user, version_id: int) -> ModelVersion | None:
    return model_version_list(user=user).filter(pk=version_id).first()


def model_family(version: ModelVersion) -> list[ModelVersion]:
    """The version's family: the full-precision root, then its derived versions."""
    root = version.parent if version.parent_id else version
    children = list(root.children.order_by("id"))
    return [root, *children]


# The vLLM releases whose pinned compressed-tensors reads the folders Forge writes
# (gpu_agent.models.quantize.VLLM_VERSIONS; a test keeps the two equal).
VLLM_VERSIONS = ">=0.10,<=0.34"
# vLLM's --dtype for an unquantized version's precision.
VLLM_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def serving_requirements(version: ModelVersion) -> dict[str, Any]:
    """What each serving stack needs to load the version: {"format", "legacy",
    "transformers", "vllm": {"quantization", "dtype", "versions"}, "summary"}."""
    legacy = version.weight_format == WeightFormat.FORGE_LEGACY
    compressed = version.weight_format == WeightFormat.COMPRESSED_TENSORS
    if version.weight_format == WeightFormat.ONNX:
        return {
            "format": version.get_weight_format_display(),
            "legacy": False,
            "transformers": None,
            "vllm": None,
            "summary": "onnxruntime (run_onnx.py in the folder); TensorRT via trtexec",
        }
    if legacy:
        return {
            "format": version.get_weight_format_display(),
            "legacy": True,
            "transformers": None,
            "vllm": None,
            "summary": "Forge-only (legacy): no serving stack loads it; re-quantize the parent",
        }
    dtype = VLLM_DTYPES.get(version.precision, "bfloat16")
    vllm = {
        "quantization": "compressed-tensors" if compressed else None,
        "dtype": "bfloat16" if compressed else dtype,
        "versions": VLLM_VERSIONS if compressed else None,
    }
    needs = "transformers + compressed-tensors" if compressed else "transformers"
    flag = f"--quantization {vllm['quantization']} " if compressed else ""
    return {
        "format": version.get_weight_format_display(),
        "legacy": False,
        "transformers": needs,
        "vllm": vllm,
        "summary": f"{needs}; vLLM {flag}--dtype {vllm['dtype']}",
    }


def comparison_rows(version: ModelVersion) -> list[dict[str, Any]]:
    """The measured comparison table of the family: method, size, peak memory,
    tokens/s (batch 1), speed-up and perplexity change versus the parent."""
    family = model_family(version)
    root = family[0]
    base = root.measured or {}
    base_tps = _tps(base)
    rows = []
    for v in family:
        m = v.measured or {}
        tps = _tps(m)
        ppl = m.get("perplexity")
        rows.append(
            {
                "version": v,
                "method": v.quant_method or v.precision,
                "serving": serving_requirements(v)["summary"],
                "size_bytes": m.get("size_bytes", v.size_bytes),
                "peak_memory_bytes": m.get("peak_memory_bytes"),
                "tokens_per_s": tps,
                "speedup": (tps / base_tps) if tps and base_tps else None,
                "perplexity": ppl,
                "perplexity_delta": (
                    m.get("perplexity_delta") if v.parent_id else (0.0 if ppl is not None else None)
                ),
                "size_ratio": (
                    m.get("size_bytes", v.size_bytes) / base.get("size_bytes", root.size_bytes)
                    if (base.get("size_bytes") or root.size_bytes)
                    else None
                ),
                "current": v.pk == version.pk,
            }
        )
    return rows


def _tps(measured: dict[str, Any]) -> float | None:
    value = measured.get("tokens_per_s")
    if isinstance(value, dict):
        value = value.get("1") or next(iter(value.values()), None)
    return float(value) if isinstance(value, int | float) else None


def evaluation_list(version: ModelVersion) -> list[Evaluation]:
    """Evaluations of the whole family (compared across versions), newest first."""
    family = model_family(version)
    return list(
        Evaluation.objects.filter(model_version__in=family)
        .select_related("model_version", "created_by")
        .order_by("-created_at", "-id")
    )


def perplexity_chart(version: ModelVersion) -> dict[str, list]:
    """The latest perplexity of each version of the family, for the bar chart."""
    labels, values = [], []
    for v in model_family(version):
        latest = v.evaluations.filter(kind="perplexity").order_by("-created_at", "-id").first()
        ppl = (latest.result or {}).get("perplexity") if latest else None
        if ppl is None:
            ppl = (v.measured or {}).get("perplexity")
        if ppl is not None:
            labels.append(str(v))
            values.append(round(float(ppl), 4))
    return {"labels": labels, "values": values}


class _Sink(io.RawIOBase):
    """A write-only stream whose written bytes the zip generator hands out in chunks."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks = []
        return out


def model_zip_stream(version: ModelVersion) -> Iterator[bytes]:
    """The version's folder as a zip (stored, no compression: safetensors barely
    compress), with a SHA256SUMS file, streamed without a temporary file. Callers verify
    the folder against the manifest first."""
    folder = model_folder(version)
    sink = _Sink()
    prefix = f"{version.name}-v{version.number}"
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in version.files:
            info = zipfile.ZipInfo(f"{prefix}/{entry['path']}")
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry["bytes"]
            with (
                (folder / entry["path"]).open("rb") as src,
                archive.open(info, "w", force_zip64=True) as dst,
            ):
                while block := src.read(1024 * 1024):
                    dst.write(block)
                    yield sink.take()
        archive.writestr(f"{prefix}/{SUMS_FILE}", sums_text(version.files))
    yield sink.take()


def model_file_checked(version: ModelVersion, path: str) -> tuple[Path, dict[str, Any]]:
    """One file of the version and its manifest entry, after checking it against its
    recorded sha256: NotFound when the manifest has no such file, Conflict when the
    file on disk no longer matches it."""
    entry = next((f for f in version.files if f["path"] == path), None)
    if entry is None:
        raise NotFound("No such file in this version.")
    file_path = model_folder(version) / entry["path"]
    if (
        not file_path.is_file()
        or file_path.is_symlink()
        or sha256_file(file_path) != entry["sha256"]
    ):
        raise Conflict(f"{path}: sha256 does not match the manifest (tampered or corrupted).")
    return file_path, entry


# ------------------------------------------------------------------ feedback

FEEDBACK_FILTERS = ("sentiment", "source", "corrected", "flagged", "app", "q")


def feedback_list(
    *,
    version: ModelVersion,
    sentiment: str = "",
    source: str = "",
    corrected: bool | None = None,
    flagged: bool | None = None,
    app: str = "",
    q: str = "",
) -> QuerySet[Feedback]:
    """A version's feedback, newest first, narrowed by what the feedback page and the
    API filter on (empty/None: no filter; ``q``: text in the prompt, output or correction).
    The caller got ``version`` through ``model_version_get`` (the user may see it)."""
    items = Feedback.objects.filter(model_version=version).select_related("created_by")
    if sentiment:
        items = items.filter(sentiment=sentiment)
    if source:
        items = items.filter(source=source)
    if corrected is not None:
        items = items.exclude(correction="") if corrected else items.filter(correction="")
    if flagged is not None:
        items = items.filter(flagged=flagged)
    if app:
        items = items.filter(app=app)
    if q:
        items = items.filter(
            Q(prompt__icontains=q) | Q(output__icontains=q) | Q(correction__icontains=q)
        )
    return items


def feedback_summary(items: QuerySet[Feedback]) -> dict[str, Any]:
    """Counts for the feedback page: by sentiment, corrected and flagged, the mean of the
    star ratings, and per day (UTC) the count of each sentiment, for the chart."""
    totals = items.aggregate(
        total=Count("id"),
        corrected=Count("id", filter=~Q(correction="")),
        flagged=Count("id", filter=Q(flagged=True)),
        mean_stars=Avg("rating", filter=Q(scale=RatingScale.STARS)),
    )
    by_sentiment = dict(
        items.order_by()
        .values_list("sentiment")
        .annotate(n=Count("id"))
        .values_list("sentiment", "n")
    )
    per_day: dict[str, dict[str, int]] = {}
    rows = (
        items.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values_list("day", "sentiment")
        .annotate(n=Count("id"))
    )
    for day, sentiment, n in rows:
        per_day.setdefault(day.isoformat(), {})[sentiment] = n
    days = sorted(per_day)
    return {
        **totals,
        "by_sentiment": {s: by_sentiment.get(s, 0) for s in Sentiment.values},
        "days": days,
        "series": {s: [per_day[d].get(s, 0) for d in days] for s in Sentiment.values},
        "apps": sorted(a for a in items.order_by().values_list("app", flat=True).distinct() if a),
    }


EXPORT_LAYOUTS = ("sft", "preference")


def feedback_exportable(items: QuerySet[Feedback], layout: str) -> QuerySet[Feedback]:
    """The items that make a training row in ``layout`` (see feedback_export_rows)."""
    if layout == "sft":
        return items.filter(~Q(correction="") | (Q(sentiment=Sentiment.POSITIVE) & ~Q(output="")))
    if layout == "preference":
        return items.exclude(correction="").exclude(output="")
    raise ValueError(f"unknown export layout {layout!r}")


def feedback_export_rows(items: QuerySet[Feedback], layout: str) -> Iterator[dict[str, Any]]:
    """Training rows from feedback, oldest first, in the layouts the ecosystem's trainers
    read (TRL's SFT and DPO trainers, LLaMA-Factory, Axolotl):

    - ``sft``: ``{"messages": [user prompt, assistant answer]}`` for every item with a
      correction (the correction is the answer) and every positive item without one
      (its own output is the answer);
    - ``preference``: ``{"prompt", "chosen", "rejected"}`` for every item with a
      correction and an output (the correction is preferred to what the model said).

    Each row carries ``feedback_id`` for lineage. Texts are as stored: PII masked."""
    chosen = feedback_exportable(items, layout)
    for item in chosen.order_by("created_at", "id").iterator(chunk_size=500):
        if layout == "sft":
            yield {
                "messages": [
                    {"role": "user", "content": item.prompt},
                    {"role": "assistant", "content": item.correction or item.output},
                ],
                "feedback_id": item.pk,
            }
        else:
            yield {
                "prompt": item.prompt,
                "chosen": item.correction,
                "rejected": item.output,
                "feedback_id": item.pk,
            }
