"""Rollups stay exact under any batching, and charts read from them keep every spike."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.db import transaction

from console.metrics.models import MetricRollup
from console.metrics.selectors import (
    metric_names,
    metric_point_count,
    metric_points,
    metric_series,
)
from console.metrics.services import metric_points_insert, rollups_of
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _insert_in_random_batches(rows, rng):
    rows = list(rows)
    rng.shuffle(rows)
    while rows:
        n = rng.randint(1, 5000)
        with transaction.atomic():
            metric_points_insert(rows[:n])
        rows = rows[n:]


def _stored_rollups(job_id):
    fields = ["job_id", "name", "level", "block", "count", "min_value", "min_step"]
    fields += ["max_value", "max_step", "first_step", "last_step"]
    return set(MetricRollup.objects.filter(job_id=job_id).values_list(*fields))


def _expected_rollups(rows):
    out = set()
    for job, name in {(r[0], r[2]) for r in rows}:
        mine = [r for r in rows if (r[0], r[2]) == (job, name)]
        steps = np.array([r[3] for r in mine], dtype="<i8")
        values = np.array([r[4] for r in mine], dtype="<f8")
        out |= set(rollups_of(job, name, steps, values))
    return out


def test_rollups_equal_those_of_all_points_whatever_the_batches():
    rng = random.Random(7)
    job = JobFactory()
    rows = []
    for step in range(-300, 40_000, 3):
        rows.append((job.pk, 1, "loss", step, round(rng.gauss(2.0, 0.5), 1)))  # many ties
        if step % 7 == 0:
            rows.append((job.pk, 2, "loss", step, rng.random()))  # a resumed attempt
        rows.append((job.pk, 1, "lr", step, 3e-5))
    _insert_in_random_batches(rows, rng)
    assert metric_point_count(job_id=job.pk) == len(rows)
    assert _stored_rollups(job.pk) == _expected_rollups(rows)
    assert metric_names(job_id=job.pk) == ["loss", "lr"]
    # every point is kept, ordered by step, attempts in the order stored
    steps, values = metric_points(job_id=job.pk, name="lr", lo=1000, hi=2000)
    assert steps.tolist() == [s for s in range(-300, 40_000, 3) if 1000 <= s < 2000]
    assert set(values.tolist()) == {3e-5}


def _check_chart(series, points, lo, max_points):
    want = [(s, v) for s, v in points if lo is None or s >= lo]
    got = list(zip(series["steps"], series["values"], strict=True))
    assert series["total"] == len(want)
    assert got == sorted(got) and len(got) <= max_points
    assert set(got) <= set(want)
    lowest = min(want, key=lambda p: (p[1], p[0]))
    highest = min(want, key=lambda p: (-p[1], p[0]))
    assert lowest in got and highest in got  # spikes and dips survive
    return got


@pytest.mark.parametrize("after_step", [None, 0, 12_345, 299_990])
def test_long_series_chart_from_rollups_keeps_spikes(after_step):
    rng = random.Random(after_step or 1)
    job = JobFactory()
    points = [(step, 1.0 + rng.random() / 10) for step in range(1, 300_001)]
    points[200_000] = (200_001, 25.0)  # a spike
    points[150_000] = (150_001, -3.0)  # a dip
    points[299_995] = (299_996, 9.0)  # late spike, seen by a live poll
    with transaction.atomic():
        metric_points_insert([(job.pk, 1, "loss", s, v) for s, v in points])
    lo = None if after_step is None else after_step + 1
    series = metric_series(job_id=job.pk, name="loss", max_points=500, after_step=after_step)
    got = _check_chart(series, points, lo, 500)
    if after_step == 299_990:  # ten points left: returned whole
        assert not series["downsampled"] and len(got) == 10
    else:
        assert series["downsampled"] and len(got) > 400


def test_short_series_is_returned_whole():
    job = JobFactory()
    with transaction.atomic():
        metric_points_insert([(job.pk, 1, "acc", s, s / 100) for s in range(50)])
    series = metric_series(job_id=job.pk, name="acc", max_points=100)
    assert series["steps"] == list(range(50)) and not series["downsampled"]
    assert metric_series(job_id=job.pk, name="nope")["total"] == 0


def test_narrow_buckets_read_points_and_keep_spikes():
    # 5,000 steps in 100 buckets: 50 steps a bucket, narrower than the finest block.
    job = JobFactory()
    points = [(s, 1.0) for s in range(5000)]
    points[3333] = (3333, 50.0)
    with transaction.atomic():
        metric_points_insert([(job.pk, 1, "loss", s, v) for s, v in points])
    series = metric_series(job_id=job.pk, name="loss", max_points=200)
    _check_chart(series, points, None, 200)
    assert series["downsampled"] and series["values"][series["steps"].index(3333)] == 50.0


def test_rollups_of_matches_a_plain_python_reduction():
    rng = random.Random(3)
    points = [(rng.randint(-5000, 300_000), float(rng.randint(0, 20))) for _ in range(20_000)]
    want = {}
    for level in (6, 10, 14, 18):
        for step, value in points:
            key = ("job", "loss", level, step >> level)
            n, lo, lo_s, hi, hi_s, first, last = want.get(
                key, (0, value, step, value, step, step, step)
            )
            if (value, step) < (lo, lo_s):
                lo, lo_s = value, step
            if (value, -step) > (hi, -hi_s):
                hi, hi_s = value, step
            want[key] = (n + 1, lo, lo_s, hi, hi_s, min(first, step), max(last, step))
    steps = np.array([p[0] for p in points], dtype="<i8")
    values = np.array([p[1] for p in points], dtype="<f8")
    got = {r[:4]: r[4:] for r in rollups_of("job", "loss", steps, values)}
    assert got == want
