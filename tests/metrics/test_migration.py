"""Points stored before chunks existed are moved into chunks with their rollups."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from console.metrics.selectors import metric_point_count, metric_points, metric_series
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_points_become_chunks_and_rollups():
    job = JobFactory()
    old = _migrate(("metrics", "0001_initial"))
    point = old.get_model("metrics", "MetricPoint")
    point.objects.bulk_create(
        [
            point(job_id=job.pk, attempt=1, name="loss", step=s, value=99.0 if s == 12_345 else 1.0)
            for s in range(25_000)
        ]
        + [point(job_id=job.pk, attempt=2, name="loss", step=s, value=0.5) for s in range(10)]
    )
    _migrate(("metrics", "0002_chunks_and_rollups"))
    assert metric_point_count(job_id=job.pk) == 25_010
    steps, values = metric_points(job_id=job.pk, name="loss", hi=3)
    assert steps.tolist() == [0, 0, 1, 1, 2, 2] and values.tolist() == [1.0, 0.5] * 3
    series = metric_series(job_id=job.pk, name="loss", max_points=100)
    assert series["total"] == 25_010 and 99.0 in series["values"] and 0.5 in series["values"]
