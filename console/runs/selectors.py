"""Run reads, scoped to the projects the user may see (another team's runs are absent)."""

from __future__ import annotations

import os
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from console.fleet.models import Allocation, Gpu, GpuSample, Node
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


def fleet_gpu_nodes() -> list[tuple[str, int]]:
    """(name, GPUs present) of each online, enabled node that has GPUs."""
    rows = (
        Node.objects.filter(status=Node.Status.ONLINE, enabled=True, gpus__present=True)
        .annotate(n=Count("gpus", filter=Q(gpus__present=True)))
        .order_by("name")
        .values_list("name", "n")
    )
    return [(name, n) for name, n in rows if n]


def default_gpus_per_node() -> int:
    """A launch's GPUs per node when it names none: 1 when an online node has a GPU, else
    0 (CPU processes, gloo), so a CPU-only fleet can run what the form offers."""
    return 1 if fleet_gpu_nodes() else 0


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


# ------------------------------------------------------------------ GPU telemetry of a run

GPU_MAX_POINTS = 600
_MIB_PER_GIB = 1024


def run_gpu_windows(*, run: Run, now: datetime | None = None) -> list[dict[str, Any]]:
    """The GPUs the run's job held, each with the windows it held them in: one window
    per allocation (an attempt on one node), [created_at, released_at or now]. A GPU
    held in several attempts has several windows. Ordered by first attempt, node rank,
    GPU index."""
    if run.job_id is None:
        return []
    now = now or timezone.now()
    allocations = (
        Allocation.objects.filter(job_id=run.job_id)
        .select_related("node")
        .prefetch_related("held__gpu")
        .order_by("attempt", "node_rank")
    )
    by_gpu: dict[int, dict[str, Any]] = {}
    for allocation in allocations:
        gpus = [held.gpu for held in allocation.held.all()]
        if not gpus and allocation.gpu_indices:  # no AllocatedGpu rows: go by the indices
            gpus = list(Gpu.objects.filter(node=allocation.node, index__in=allocation.gpu_indices))
        window = {
            "attempt": allocation.attempt,
            "node_rank": allocation.node_rank,
            "start": allocation.created_at,
            "end": allocation.released_at,
        }
        for gpu in sorted(gpus, key=lambda g: g.index):
            entry = by_gpu.setdefault(
                gpu.pk,
                {
                    "gpu": gpu,
                    "key": f"{allocation.node.name}/gpu{gpu.index}",
                    "node": allocation.node.name,
                    "windows": [],
                },
            )
            entry["windows"].append(window)
    for entry in by_gpu.values():
        entry["windows"].sort(key=lambda w: w["start"])
        for w in entry["windows"]:
            w["until"] = w["end"] or now
    return list(by_gpu.values())


def _in_window(at: datetime, resolution: int, start: datetime, until: datetime) -> bool:
    """A raw sample inside [start, until]; a folded row whose interval overlaps it."""
    if at > until:
        return False
    if resolution == 0:
        return at >= start
    return at + timedelta(seconds=resolution) > start


def _finest(rows: list[tuple]) -> list[tuple]:
    """One GPU's rows (at, resolution, ...) sorted by time, keeping the finest resolution
    available for each time range: a coarser row is kept only before the first row of
    every finer resolution (compaction folds the oldest rows first)."""
    first: dict[int, datetime] = {}
    for row in rows:
        if row[1] not in first or row[0] < first[row[1]]:
            first[row[1]] = row[0]
    return [row for row in rows if all(row[0] < at for res, at in first.items() if res < row[1])]


def _downsample(points: list[dict[str, Any]], max_points: int) -> list[dict[str, Any]]:
    """At most ``max_points`` points, by equal time buckets over the points' span: each
    bucket keeps its first time, its highest utilisation (spikes stay visible) and its
    mean memory and power. Gap markers (None values) are kept as they are."""
    if len(points) <= max_points:
        return points
    real = [p for p in points if p["util"] is not None]
    if not real:
        return points
    t0, t1 = real[0]["at"].timestamp(), real[-1]["at"].timestamp()
    width = (t1 - t0) / max(max_points - 1, 1) or 1.0
    out: list[dict[str, Any]] = []
    bucket: list[dict[str, Any]] = []
    current = None

    def flush() -> None:
        if bucket:
            out.append(
                {
                    "at": bucket[0]["at"],
                    "util": max(p["util"] for p in bucket),
                    "mem": sum(p["mem"] for p in bucket) / len(bucket),
                    "power": sum(p["power"] for p in bucket) / len(bucket),
                }
            )
            bucket.clear()

    for point in points:
        if point["util"] is None:
            flush()
            out.append(point)
            current = None
            continue
        index = int((point["at"].timestamp() - t0) // width)
        if index != current:
            flush()
            current = index
        bucket.append(point)
    flush()
    return out


def run_gpu_series(
    *,
    run: Run,
    after: datetime | None = None,
    max_points: int = GPU_MAX_POINTS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Utilisation %, memory used (GiB) and power (W) over time of every GPU the run's
    job held, within each allocation's window, at the finest resolution stored for
    each time range; only samples after ``after`` when given. A trace with more than
    ``max_points`` points is downsampled by time buckets (max utilisation kept). A
    GPU's windows of different attempts are separated by a gap point (None values)."""
    job = run.job
    active = job is not None and not job.is_terminal
    gpus = run_gpu_windows(run=run, now=now)
    out: dict[str, Any] = {
        "run": run.pk,
        "job": run.job_id,
        "active": active,
        "uses_gpus": bool(gpus),
        "max_points": max_points,
        "gpus": [],
    }
    if not gpus:
        out["uses_gpus"] = _run_asks_for_gpus(run)
        return out
    lo = min(w["start"] for g in gpus for w in g["windows"]) - timedelta(seconds=900)
    hi = max(w["until"] for g in gpus for w in g["windows"])
    if after is not None:
        lo = max(lo, after)
    rows: dict[int, list[tuple]] = {g["gpu"].pk: [] for g in gpus}
    query = GpuSample.objects.filter(gpu_id__in=list(rows), at__gte=lo, at__lte=hi)
    if after is not None:
        query = query.filter(at__gt=after)
    for gpu_id, *row in query.order_by("at", "resolution_seconds").values_list(
        "gpu_id", "at", "resolution_seconds", "util", "mem_used_mib", "power_w"
    ):
        rows[gpu_id].append(tuple(row))
    for entry in gpus:
        gpu = entry["gpu"]
        points: list[dict[str, Any]] = []
        samples = _finest(rows[gpu.pk])
        last: datetime | None = None
        for i, window in enumerate(entry["windows"]):
            inside = [
                s
                for s in samples
                if _in_window(s[0], s[1], window["start"], window["until"])
                and (last is None or s[0] > last)
            ]
            if not inside:
                continue
            # Break the line between attempts (also when the earlier ones were sent before).
            if i and (points or (after is not None and window["start"] > after)):
                points.append({"at": inside[0][0], "util": None, "mem": None, "power": None})
            points.extend(
                {"at": at, "util": util, "mem": mem, "power": power}
                for at, _res, util, mem, power in inside
            )
            last = inside[-1][0]
        shown = _downsample(points, max_points)
        out["gpus"].append(
            {
                "key": entry["key"],
                "node": entry["node"],
                "index": gpu.index,
                "model": gpu.model,
                "memory_gib": round(gpu.memory_mib / _MIB_PER_GIB, 2),
                "windows": [
                    {
                        "attempt": w["attempt"],
                        "node_rank": w["node_rank"],
                        "start": w["start"].isoformat(),
                        "end": w["end"].isoformat() if w["end"] else None,
                    }
                    for w in entry["windows"]
                ],
                "downsampled": len(shown) < len(points),
                "t": [p["at"].isoformat() for p in shown],
                "util": [_round(p["util"], 1) for p in shown],
                "mem_gib": [_round(p["mem"] and p["mem"] / _MIB_PER_GIB, 3) for p in shown],
                "power_w": [_round(p["power"], 1) for p in shown],
            }
        )
    return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _run_asks_for_gpus(run: Run) -> bool:
    """Before any allocation: does the run's spec ask for GPUs at all?"""
    try:
        return int((run.spec or {}).get("gpus_per_node") or 0) > 0
    except (TypeError, ValueError):
        return False
