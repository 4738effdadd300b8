"""Run reads, scoped to the projects the user may see (another team's runs are absent)."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.db.models import Max, Min, QuerySet

from console.metrics.models import ROLLUP_LEVELS, MetricChunk, MetricRollup
from console.metrics.selectors import metric_series
from console.projects.selectors import project_list
from console.runs.models import Run
from gpu_agent.train.memory import estimate_table
from gpu_agent.train.presets import PRESETS, param_count, preset


def run_list(*, user, project: str = "") -> QuerySet[Run]:
    runs = Run.objects.filter(project__in=project_list(user=user)).select_related(
        "project", "job", "corpus", "created_by"
    )
    if project:
        runs = runs.filter(project__slug=project)
    return runs


def run_get(*, user, run_id: int) -> Run | None:
    return run_list(user=user).filter(pk=run_id).first()


def run_compare_runs(*, user, run_ids: list[int]) -> list[Run]:
    """The runs among ``run_ids`` the user may see, in the order asked. Another team's
    run is left out exactly like a run that does not exist (nothing leaks)."""
    found = {r.pk: r for r in run_list(user=user).filter(pk__in=run_ids)}
    return [found[i] for i in run_ids if i in found]


def run_label(run: Run) -> str:
    return f"run {run.pk} · {run.name}" if run.name else f"run {run.pk}"


def run_compare_rows(*, runs: list[Run]) -> list[dict[str, Any]]:
    """One row per run for the compare table: what it trains (preset, corpus, layout,
    batch, learning rate) and how far it got (state, latest step, last train loss,
    best eval loss), read from the metric chunks and rollups, not from every point."""
    job_ids = [r.job_id for r in runs if r.job_id]
    latest: dict[int, int] = dict(
        MetricChunk.objects.filter(job_id__in=job_ids, name="loss")
        .values("job_id")
        .annotate(step=Max("last_step"))
        .values_list("job_id", "step")
    )
    best_eval: dict[int, float] = dict(
        MetricRollup.objects.filter(job_id__in=job_ids, name="eval_loss", level=ROLLUP_LEVELS[-1])
        .values("job_id")
        .annotate(best=Min("min_value"))
        .values_list("job_id", "best")
    )
    rows = []
    for run in runs:
        spec = run.spec or {}
        step = latest.get(run.job_id) if run.job_id else None
        rows.append(
            {
                "id": run.pk,
                "name": run.name,
                "label": run_label(run),
                "project": run.project.slug,
                "job": run.job_id,
                "state": run.state,
                "preset": run.preset,
                "params": run.params,
                "corpus": run.corpus_id,
                "corpus_name": str(run.corpus),
                "gpus_per_node": spec.get("gpus_per_node"),
                "nodes": spec.get("nodes"),
                "micro_batch": spec.get("micro_batch"),
                "grad_accum": spec.get("grad_accum"),
                "lr": (spec.get("optimizer") or {}).get("lr"),
                "steps": spec.get("steps"),
                "latest_step": step,
                "last_loss": _value_at(run.job_id, "loss", step) if step is not None else None,
                "best_eval_loss": best_eval.get(run.job_id) if run.job_id else None,
            }
        )
    return rows


def _value_at(job_id: int, name: str, step: int) -> float | None:
    """The value stored last for ``step`` (the chunk that ends there, newest attempt)."""
    chunk = (
        MetricChunk.objects.filter(job_id=job_id, name=name, last_step=step)
        .order_by("-id")
        .values_list("values", flat=True)
        .first()
    )
    if chunk is None:
        return None
    values = np.frombuffer(bytes(chunk), dtype="<f8")
    return float(values[-1]) if len(values) else None


def run_compare_series(
    *,
    runs: list[Run],
    name: str,
    after: dict[int, int] | None = None,
    max_points: int = 1000,
) -> list[dict[str, Any]]:
    """One metric of each run (downsampled on the server, spikes kept), with the points
    after ``after[run id]`` only where given: what a compare chart draws or appends."""
    after = after or {}
    out = []
    for run in runs:
        if run.job_id:
            series = metric_series(
                job_id=run.job_id, name=name, max_points=max_points, after_step=after.get(run.pk)
            )
        else:
            series = {"name": name, "steps": [], "values": [], "downsampled": False, "total": 0}
        out.append({"id": run.pk, "label": run_label(run), "state": run.state, **series})
    return out


def preset_table(
    *,
    vocab_size: int = 52_000,
    gpus_per_node: int = 1,
    nodes: int = 1,
    seq_len: int = 2048,
    micro_batch: int = 4,
) -> list[dict]:
    """Each preset's parameter count and memory estimate per ZeRO stage and offload."""
    out = []
    for name in PRESETS:
        model = preset(name, vocab_size=vocab_size)
        table = estimate_table(
            model,
            gpus_per_node=gpus_per_node,
            nodes=nodes,
            seq_len=seq_len,
            micro_batch=micro_batch,
        )
        out.append(
            {
                "name": name,
                "params": param_count(model),
                "hidden_size": model.hidden_size,
                "num_layers": model.num_layers,
                "num_heads": model.num_heads,
                "vocab_size": vocab_size,
                "memory": [e.as_dict() for e in table],
            }
        )
    return out


def run_tensorboard_zip(run: Run) -> IO[bytes] | None:
    """The run's TensorBoard event files (<checkpoint dir>/tensorboard) zipped into a
    spooled temporary file (in memory up to 16 MiB), positioned at its start; None
    until the run wrote its first event file. Symlinks are not followed."""
    folder = Path(run.spec.get("checkpoint", {}).get("dir", "")) / "tensorboard"
    if not folder.is_dir():
        return None
    spooled = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - returned
    with zipfile.ZipFile(spooled, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                path = Path(root) / name
                if path.is_file() and not path.is_symlink():
                    archive.write(path, f"run-{run.pk}/{path.relative_to(folder)}")
    spooled.seek(0)
    return spooled
