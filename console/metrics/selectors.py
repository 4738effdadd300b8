"""Chart queries that stay fast on long runs: downsampled on the server, spikes kept.

A series with more points than asked for is cut into equal step buckets; each
bucket returns its min and max (at their steps), so a loss spike survives any
zoom level, and the number of points returned is bounded by 2 x buckets.
"""

from __future__ import annotations

from django.db import connection

from console.metrics.models import MetricPoint


def metric_names(*, job_id: int) -> list[str]:
    return list(
        MetricPoint.objects.filter(job_id=job_id)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


def metric_series(
    *, job_id: int, name: str, max_points: int = 1000, after_step: int | None = None
) -> dict:
    """{"name", "steps": [...], "values": [...], "downsampled": bool, "total": n}."""
    points = MetricPoint.objects.filter(job_id=job_id, name=name)
    if after_step is not None:
        points = points.filter(step__gt=after_step)
    total = points.count()
    if total <= max_points:
        rows = list(points.order_by("step", "id").values_list("step", "value"))
        return {
            "name": name,
            "steps": [r[0] for r in rows],
            "values": [r[1] for r in rows],
            "downsampled": False,
            "total": total,
        }
    buckets = max(1, max_points // 2)
    table = MetricPoint._meta.db_table
    where = "job_id = %s AND name = %s" + (" AND step > %s" if after_step is not None else "")
    params: list = [job_id, name] + ([after_step] if after_step is not None else [])
    sql = f"""
        WITH bounds AS (SELECT MIN(step) AS lo, MAX(step) AS hi FROM {table} WHERE {where}),
        b AS (
            SELECT ((step - bounds.lo) * %s) / (bounds.hi - bounds.lo + 1) AS bucket, step, value
            FROM {table}, bounds WHERE {where}
        ),
        agg AS (SELECT bucket, MIN(value) AS lo, MAX(value) AS hi FROM b GROUP BY bucket)
        SELECT b.bucket, MIN(b.step) FILTER (WHERE b.value = agg.lo),
               MIN(b.step) FILTER (WHERE b.value = agg.hi), agg.lo, agg.hi
        FROM b JOIN agg ON agg.bucket = b.bucket
        GROUP BY b.bucket, agg.lo, agg.hi ORDER BY b.bucket
    """  # noqa: S608 - table name is ours, values are parameters
    if connection.vendor != "postgresql":
        sql = sql.replace(
            "MIN(b.step) FILTER (WHERE b.value = agg.lo)",
            "MIN(CASE WHEN b.value = agg.lo THEN b.step END)",
        )
        sql = sql.replace(
            "MIN(b.step) FILTER (WHERE b.value = agg.hi)",
            "MIN(CASE WHEN b.value = agg.hi THEN b.step END)",
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, buckets, *params])
        rows = cursor.fetchall()
    steps: list[int] = []
    values: list[float] = []
    for _bucket, lo_step, hi_step, lo, hi in rows:
        pairs = sorted({(lo_step, lo), (hi_step, hi)})
        for step, value in pairs:
            steps.append(step)
            values.append(value)
    return {"name": name, "steps": steps, "values": values, "downsampled": True, "total": total}
