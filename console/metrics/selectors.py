"""Chart queries that stay fast on long runs: downsampled on the server, spikes kept.

A series with more points than asked for is cut into equal step buckets; each
bucket returns its min and max (at their exact steps), so a loss spike survives
any zoom level, and the number of points returned is bounded by 2 x buckets.

Long series are answered from rollups (console.metrics.services): the coarsest
level whose blocks are no wider than a bucket, so a million-point series costs
about as many rows as the chart has points. Only a series short enough to return
whole, or the few steps before the first whole block after ``after_step``, are
read point by point.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from django.db.models import Sum

from console.metrics.models import ROLLUP_LEVELS, MetricChunk, MetricRollup


def metric_names(*, job_id: int) -> list[str]:
    return list(
        MetricRollup.objects.filter(job_id=job_id, level=ROLLUP_LEVELS[-1])
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


def metric_points(
    *, job_id: int, name: str, lo: int | None = None, hi: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every point of a series with lo <= step < hi, as (steps, values) arrays ordered by
    step (points of one step in the order they were stored: attempts in order)."""
    chunks = MetricChunk.objects.filter(job_id=job_id, name=name)
    if lo is not None:
        chunks = chunks.filter(last_step__gte=lo)
    if hi is not None:
        chunks = chunks.filter(first_step__lt=hi)
    parts = list(chunks.order_by("id").values_list("steps", "values"))
    if not parts:
        return np.empty(0, dtype="<i8"), np.empty(0, dtype="<f8")
    steps = np.concatenate([np.frombuffer(p[0], dtype="<i8") for p in parts])
    values = np.concatenate([np.frombuffer(p[1], dtype="<f8") for p in parts])
    keep = np.ones(len(steps), dtype=bool)
    if lo is not None:
        keep &= steps >= lo
    if hi is not None:
        keep &= steps < hi
    steps, values = steps[keep], values[keep]
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def metric_point_count(*, job_id: int, name: str | None = None) -> int:
    chunks = MetricChunk.objects.filter(job_id=job_id)
    if name is not None:
        chunks = chunks.filter(name=name)
    return chunks.aggregate(n=Sum("count"))["n"] or 0


def _raw(job_id: int, name: str, lo: int | None, hi: int | None = None) -> list[tuple]:
    steps, values = metric_points(job_id=job_id, name=name, lo=lo, hi=hi)
    return list(zip(steps.tolist(), values.tolist(), strict=True))


# (count, first_step, last_step, min_step, min_value, max_step, max_value)
_Row = tuple[int, int, int, int, float, int, float]


def _blocks(job_id: int, name: str, level: int, lo: int | None, hi: int | None):
    """Rollup rows of blocks lying wholly in [lo, hi)."""
    size = 1 << level
    rows = MetricRollup.objects.filter(job_id=job_id, name=name, level=level)
    if lo is not None:
        rows = rows.filter(block__gte=-(-lo // size))
    if hi is not None:
        rows = rows.filter(block__lt=hi // size)
    return rows.values_list(
        "count", "first_step", "last_step", "min_step", "min_value", "max_step", "max_value"
    )


def _cover(job_id: int, name: str, level: int, lo: int | None) -> list[_Row]:
    """Every point at step >= lo, exactly: rollup rows at ``level`` and, before the
    first whole block there, finer rollups and at most 63 single points."""
    out: list[_Row] = list(_blocks(job_id, name, level, lo, None))
    if lo is None:
        return out
    edge = -(-lo // (1 << level)) << level  # the first whole block at `level` starts here
    for finer in reversed([lv for lv in ROLLUP_LEVELS if lv < level]):
        start = -(-lo // (1 << finer)) << finer
        out.extend(_blocks(job_id, name, finer, start, edge))
        edge = start
    out.extend((1, s, s, s, v, s, v) for s, v in _raw(job_id, name, lo, edge))
    return out


def _bucketed(rows: Iterable[_Row], lo: int, hi: int, buckets: int) -> list[tuple[int, float]]:
    """Min and max of each of `buckets` equal step ranges over [lo, hi], at exact steps."""
    span = hi - lo + 1
    low: dict[int, tuple[float, int]] = {}
    high: dict[int, tuple[float, int]] = {}
    for _n, _first, _last, min_step, min_value, max_step, max_value in rows:
        b = min(buckets - 1, max(0, (min_step - lo) * buckets // span))
        if b not in low or (min_value, min_step) < low[b]:
            low[b] = (min_value, min_step)
        b = min(buckets - 1, max(0, (max_step - lo) * buckets // span))
        # the highest value, and at a tie the earliest step
        if b not in high or (max_value, -max_step) > (high[b][0], -high[b][1]):
            high[b] = (max_value, max_step)
    return sorted({(step, value) for value, step in (*low.values(), *high.values())})


def _answer(name: str, points: list[tuple[int, float]], downsampled: bool, total: int) -> dict:
    return {
        "name": name,
        "steps": [p[0] for p in points],
        "values": [p[1] for p in points],
        "downsampled": downsampled,
        "total": total,
    }


def metric_series(
    *, job_id: int, name: str, max_points: int = 1000, after_step: int | None = None
) -> dict:
    """{"name", "steps": [...], "values": [...], "downsampled": bool, "total": n}: the
    points at steps after ``after_step``, whole when there are at most ``max_points``."""
    lo = None if after_step is None else after_step + 1
    summary = _cover(job_id, name, ROLLUP_LEVELS[-1], lo)  # a few dozen rows at most
    total = sum(r[0] for r in summary)
    if total <= max_points:
        return _answer(name, _raw(job_id, name, lo), False, total)
    first = min(r[1] for r in summary)
    last = max(r[2] for r in summary)
    buckets = max(1, max_points // 2)
    width = (last - first + 1) / buckets
    level = next((lv for lv in reversed(ROLLUP_LEVELS) if (1 << lv) <= width), None)
    if level is None:
        # Buckets narrower than the finest block: at most 64 x buckets steps, read whole.
        rows: list[_Row] = [(1, s, s, s, v, s, v) for s, v in _raw(job_id, name, lo)]
    elif level == ROLLUP_LEVELS[-1]:
        rows = summary
    else:
        rows = _cover(job_id, name, level, lo)
    return _answer(name, _bucketed(rows, first, last, buckets), True, total)
