"""Metric writes: packed chunks plus rollups, merged in one transaction.

``metric_series_append`` is the one writer (the agent ingest and the benchmarks
go through it). Per batch it stores one ``MetricChunk`` row per series and
upserts the rollup blocks the batch touches, so a chart never disagrees with the
points it summarises. Rollups of the same block from different batches merge by
count, min, max (earliest step on ties), first and last step.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from django.db import connection

from console.metrics.models import ROLLUP_LEVELS, MetricChunk, MetricRollup

# (job_id, attempt, name, step, value)
PointRow = tuple[int, int, str, int, float]
# (job_id, attempt, name) -> (steps, values), in the order the points were produced
Series = dict[tuple[int, int, str], tuple[list[int], list[float]]]

ROLLUP_COLUMNS = (
    "job_id, name, level, block, count, min_value, min_step, max_value, max_step, "
    "first_step, last_step"
)


def _first_where(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per segment (segments begin at ``starts``), the first index where mask is true;
    every segment must have one."""
    hits = np.flatnonzero(mask)
    return hits[np.searchsorted(hits, starts)]


def _reduce(
    keys: np.ndarray, cols: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Merge rows with equal keys. Rows are in step order and keys never decrease,
    so the first row at a segment's minimum is the one with the earliest step."""
    count, first, last, min_value, min_step, max_value, max_step = cols
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    seg_min = np.minimum.reduceat(min_value, starts)
    seg_max = np.maximum.reduceat(max_value, starts)
    sizes = np.diff(np.r_[starts, len(keys)])
    at_min = _first_where(min_value == np.repeat(seg_min, sizes), starts)
    at_max = _first_where(max_value == np.repeat(seg_max, sizes), starts)
    return keys[starts], (
        np.add.reduceat(count, starts),
        np.minimum.reduceat(first, starts),
        np.maximum.reduceat(last, starts),
        seg_min,
        min_step[at_min],
        seg_max,
        max_step[at_max],
    )


def rollups_of(job: int, name: str, steps: np.ndarray, values: np.ndarray) -> list[tuple[Any, ...]]:
    """Rollup rows (ROLLUP_COLUMNS order) of one series' points at every level: the
    finest from the points, each coarser one from the level below."""
    if len(steps) > 1 and not bool(np.all(steps[1:] >= steps[:-1])):
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
    cols: tuple[np.ndarray, ...] = (
        np.ones(len(steps), dtype=np.int64),
        steps,
        steps,
        values,
        steps,
        values,
        steps,
    )
    keys, shift = steps, 0
    out: list[tuple[Any, ...]] = []
    for level in ROLLUP_LEVELS:
        keys, cols = _reduce(keys >> (level - shift), cols)
        shift = level
        n = len(keys)
        count, first, last, min_value, min_step, max_value, max_step = (c.tolist() for c in cols)
        out.extend(
            zip(
                [job] * n,
                [name] * n,
                [level] * n,
                keys.tolist(),
                count,
                min_value,
                min_step,
                max_value,
                max_step,
                first,
                last,
                strict=True,
            )
        )
    return out


def _upsert_sql(source: str) -> str:
    table = MetricRollup._meta.db_table
    pg = connection.vendor == "postgresql"
    least, greatest = ("LEAST", "GREATEST") if pg else ("MIN", "MAX")
    e = "EXCLUDED"  # what PostgreSQL and SQLite both call the proposed row
    new_min = (
        f"({e}.min_value < r.min_value"
        f" OR ({e}.min_value = r.min_value AND {e}.min_step < r.min_step))"
    )
    new_max = (
        f"({e}.max_value > r.max_value"
        f" OR ({e}.max_value = r.max_value AND {e}.max_step < r.max_step))"
    )
    return f"""
        INSERT INTO {table} AS r ({ROLLUP_COLUMNS}) {source}
        ON CONFLICT (job_id, name, level, block) DO UPDATE SET
            count = r.count + {e}.count,
            min_step = CASE WHEN {new_min} THEN {e}.min_step ELSE r.min_step END,
            min_value = CASE WHEN {new_min} THEN {e}.min_value ELSE r.min_value END,
            max_step = CASE WHEN {new_max} THEN {e}.max_step ELSE r.max_step END,
            max_value = CASE WHEN {new_max} THEN {e}.max_value ELSE r.max_value END,
            first_step = {least}(r.first_step, {e}.first_step),
            last_step = {greatest}(r.last_step, {e}.last_step)
    """


_PG_UNNEST = (
    "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::smallint[], %s::bigint[], "
    "%s::bigint[], %s::float8[], %s::bigint[], %s::float8[], %s::bigint[], %s::bigint[], "
    "%s::bigint[])"
)


def _rollups_upsert(rows: list[tuple[Any, ...]]) -> None:
    rows.sort(key=lambda r: r[:4])  # one lock order for every writer: no deadlocks
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the whole batch: the rows travel as eleven arrays.
            cursor.execute(_upsert_sql(_PG_UNNEST), [list(col) for col in zip(*rows, strict=True)])
        else:
            values = "VALUES (" + ", ".join(["%s"] * 11) + ")"
            cursor.executemany(_upsert_sql(values), rows)


def metric_series_append(series: Series) -> int:
    """Store a batch of points and merge their rollups; call inside a transaction.
    Returns the number of points stored."""
    chunks: list[MetricChunk] = []
    by_name: dict[tuple[int, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    stored = 0
    for (job, attempt, name), (step_list, value_list) in sorted(series.items()):
        if not step_list:
            continue
        steps = np.asarray(step_list, dtype="<i8")
        values = np.asarray(value_list, dtype="<f8")
        if len(steps) > 1 and not bool(np.all(steps[1:] >= steps[:-1])):
            order = np.argsort(steps, kind="stable")
            steps, values = steps[order], values[order]
        chunks.append(
            MetricChunk(
                job_id=job,
                attempt=attempt,
                name=name,
                first_step=int(steps[0]),
                last_step=int(steps[-1]),
                count=len(steps),
                steps=steps.tobytes(),
                values=values.tobytes(),
            )
        )
        by_name[(job, name)].append((steps, values))
        stored += len(steps)
    if not chunks:
        return 0
    MetricChunk.objects.bulk_create(chunks)
    rollups: list[tuple[Any, ...]] = []
    for (job, name), parts in by_name.items():
        steps = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        rollups.extend(rollups_of(job, name, steps, values))
    _rollups_upsert(rollups)
    return stored


def metric_points_insert(rows: list[PointRow]) -> int:
    """``metric_series_append`` for a flat list of points."""
    series: Series = defaultdict(lambda: ([], []))
    for job, attempt, name, step, value in rows:
        steps, values = series[(job, attempt, name)]
        steps.append(step)
        values.append(value)
    return metric_series_append(series)
