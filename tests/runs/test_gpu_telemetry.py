"""A run's GPUs over time (issue 5, item 5): the selector reads each allocation's window
of each attempt on each node, at the finest resolution stored, downsampled with the
peaks kept; the page's JSON endpoint and the API answer it, scoped like the run."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from console.fleet import services as fleet
from console.fleet.models import AllocatedGpu, Allocation, Gpu, GpuSample
from console.runs import selectors, services
from console.runs.models import Run
from tests.runs.conftest import CPU_RUN

pytestmark = [pytest.mark.django_db]

NOW = timezone.now().replace(microsecond=0)
T0 = NOW - timedelta(minutes=40)


def minutes(n: float):
    return T0 + timedelta(minutes=n)


def make_run(personas, corpus, *, gpus: int = 2) -> Run:
    run = services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )
    Run.objects.filter(pk=run.pk).update(spec={**run.spec, "gpus_per_node": gpus})
    return Run.objects.select_related("job").get(pk=run.pk)


def allocate(run, node, indices, *, attempt=1, rank=0, start=T0, end=None) -> Allocation:
    allocation = Allocation.objects.create(
        job_id=run.job_id, attempt=attempt, node=node, node_rank=rank, gpu_indices=indices
    )
    Allocation.objects.filter(pk=allocation.pk).update(created_at=start, released_at=end)
    for gpu in Gpu.objects.filter(node=node, index__in=indices):
        AllocatedGpu.objects.create(allocation=allocation, gpu=gpu, active=end is None)
    return allocation


def sample(node, index, at, util, *, mem=2048.0, power=100.0, resolution=0, util_max=None):
    GpuSample.objects.create(
        gpu=Gpu.objects.get(node=node, index=index),
        at=at,
        resolution_seconds=resolution,
        util=util,
        util_max=util if util_max is None else util_max,
        mem_used_mib=mem,
        power_w=power,
        temp_c=50.0,
    )


def by_key(series) -> dict:
    return {g["key"]: g for g in series["gpus"]}


@pytest.fixture
def gpu_run(personas, corpus, make_node):
    """A run whose job holds gpu0 and gpu1 of node gpu-a since T0 (attempt 1, open)."""
    node, _ = make_node("gpu-a", gpus=3)
    run = make_run(personas, corpus)
    allocate(run, node, [0, 1])
    return run, node


def test_windows_per_attempt_leave_out_other_times_and_other_gpus(personas, corpus, make_node):
    node, _ = make_node("gpu-a", gpus=3)
    run = make_run(personas, corpus)
    allocate(run, node, [0, 1], attempt=1, start=minutes(0), end=minutes(10))
    allocate(run, node, [1], attempt=2, start=minutes(20))
    sample(node, 0, minutes(-1), 11)  # before the first attempt
    sample(node, 0, minutes(1), 12, mem=4096, power=250)
    sample(node, 0, minutes(15), 13)  # after its release (someone else's job)
    sample(node, 1, minutes(5), 21)
    sample(node, 1, minutes(15), 22)  # between the attempts
    sample(node, 1, minutes(25), 23)
    sample(node, 2, minutes(5), 99)  # a GPU the run never held

    series = selectors.run_gpu_series(run=run, now=NOW)

    gpus = by_key(series)
    assert list(gpus) == ["gpu-a/gpu0", "gpu-a/gpu1"]
    assert series["uses_gpus"] is True and series["active"] is True
    gpu0, gpu1 = gpus["gpu-a/gpu0"], gpus["gpu-a/gpu1"]
    assert gpu0["t"] == [minutes(1).isoformat()]
    assert (gpu0["util"], gpu0["mem_gib"], gpu0["power_w"]) == ([12], [4.0], [250])
    # gpu1 in both attempts: a gap (None) breaks the line between them.
    assert gpu1["util"] == [21, None, 23]
    assert [w["attempt"] for w in gpu1["windows"]] == [1, 2]
    assert gpu1["windows"][1]["end"] is None


def test_multi_node_shows_every_nodes_gpus(personas, corpus, make_node):
    a, _ = make_node("gpu-a", gpus=2)
    b, _ = make_node("gpu-b", gpus=2)
    run = make_run(personas, corpus)
    allocate(run, a, [0, 1], rank=0)
    allocate(run, b, [0, 1], rank=1)
    for node in (a, b):
        for index in (0, 1):
            sample(node, index, minutes(2), 50 + index)

    gpus = by_key(selectors.run_gpu_series(run=run, now=NOW))

    assert list(gpus) == ["gpu-a/gpu0", "gpu-a/gpu1", "gpu-b/gpu0", "gpu-b/gpu1"]
    assert all(len(g["t"]) == 1 for g in gpus.values())
    assert [g["windows"][0]["node_rank"] for g in gpus.values()] == [0, 0, 1, 1]


def test_the_finest_resolution_of_each_time_range(personas, corpus, make_node):
    """Three hours of 30-s samples, compacted: per-minute rows for the older two hours,
    raw samples for the last one, in time order, nothing twice."""
    node, _ = make_node("gpu-a", gpus=1)
    run = make_run(personas, corpus, gpus=1)
    start = (NOW - timedelta(hours=3)).replace(second=0)  # whole minutes fold evenly
    allocate(run, node, [0], start=start)
    for i in range(3 * 120):
        sample(node, 0, start + timedelta(seconds=30 * i), 90 if i % 2 else 10)
    folded = fleet.telemetry_compact(now=NOW)
    assert folded["0->60"] > 0
    assert GpuSample.objects.filter(resolution_seconds=60).exists()

    gpu = selectors.run_gpu_series(run=run, now=NOW, max_points=5000)["gpus"][0]

    times = [datetime.fromisoformat(t) for t in gpu["t"]]
    assert times == sorted(set(times))
    steps = [(b - a).total_seconds() for a, b in pairwise(times)]
    assert steps[0] == 60 and steps[-1] == 30
    assert 115 <= steps.count(60) <= 121 and 115 <= steps.count(30) <= 121
    # Folded rows show the minute's average; raw samples as they were.
    assert set(gpu["util"][:100]) == {50} and set(gpu["util"][-10:]) == {10, 90}


def test_downsampling_keeps_the_peak(gpu_run):
    run, node = gpu_run
    for i in range(1000):
        sample(node, 0, T0 + timedelta(seconds=2 * i), 97 if i == 501 else 10)

    gpu = by_key(selectors.run_gpu_series(run=run, now=NOW, max_points=50))["gpu-a/gpu0"]

    assert gpu["downsampled"] is True
    assert 40 <= len(gpu["t"]) <= 50
    assert max(gpu["util"]) == 97 and gpu["util"].count(97) == 1
    full = by_key(selectors.run_gpu_series(run=run, now=NOW, max_points=5000))["gpu-a/gpu0"]
    assert full["downsampled"] is False and len(full["t"]) == 1000


def test_after_gives_the_newer_samples_only(gpu_run):
    run, node = gpu_run
    for i in range(5):
        sample(node, 0, minutes(i), i)
        sample(node, 1, minutes(i), 10 + i)

    gpus = by_key(selectors.run_gpu_series(run=run, after=minutes(2), now=NOW))

    assert gpus["gpu-a/gpu0"]["util"] == [3, 4]
    assert gpus["gpu-a/gpu1"]["t"] == [minutes(3).isoformat(), minutes(4).isoformat()]


def test_json_endpoint(client, personas, gpu_run):
    run, node = gpu_run
    sample(node, 0, minutes(1), 40)
    sample(node, 1, minutes(1), 60)
    sample(node, 0, minutes(2), 41)
    client.force_login(personas.viewer)
    url = f"/runs/{run.pk}/gpus.json"

    data = client.get(url).json()

    assert data["uses_gpus"] is True and data["active"] is True
    assert [(g["key"], g["util"]) for g in data["gpus"]] == [
        ("gpu-a/gpu0", [40, 41]),
        ("gpu-a/gpu1", [60]),
    ]
    newer = client.get(url, {"after": minutes(1).isoformat()}).json()
    assert [g["util"] for g in newer["gpus"]] == [[41], []]
    zulu = client.get(url, {"after": minutes(1).strftime("%Y-%m-%dT%H:%M:%SZ")}).json()
    assert [g["util"] for g in zulu["gpus"]] == [[41], []]
    for bad in ("yesterday", "2026-13-40T00:00:00", "0001-01-01T00:00:00+05:00"):
        response = client.get(url, {"after": bad})
        assert response.status_code == 400 and "after" in response.json()["error"], bad
    assert client.get(url, {"max_points": "5"}).status_code == 400
    client.force_login(personas.stranger)
    assert client.get(url).status_code == 404


def test_api(personas, api, gpu_run):
    run, node = gpu_run
    sample(node, 0, minutes(1), 40)
    sample(node, 0, minutes(3), 42)
    client = api(personas.viewer)
    url = f"/api/v1/runs/{run.pk}/gpus/"

    response = client.get(url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["run"] == run.pk and body["job"] == run.job_id
    assert [g["key"] for g in body["gpus"]] == ["gpu-a/gpu0", "gpu-a/gpu1"]
    assert body["gpus"][0]["util"] == [40, 42]
    newer = client.get(url, {"after": minutes(2).isoformat()})
    assert newer.status_code == 200 and newer.json()["gpus"][0]["util"] == [42]
    bad = client.get(url, {"after": "not-a-time"})
    assert bad.status_code == 400 and "after" in bad.json(), bad.content
    assert client.get(url, {"max_points": "99999"}).status_code == 400
    assert api(personas.stranger).get(url).status_code == 404
    assert api(personas.outsider).get(url).status_code == 403


def test_cpu_run_says_it_uses_no_gpus(client, personas, corpus, make_node):
    node, _ = make_node("cpu-a", gpus=0)
    run = services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )
    allocate(run, node, [])
    client.force_login(personas.viewer)

    page = client.get(f"/runs/{run.pk}/")

    assert page.status_code == 200
    assert b"This run uses no GPUs." in page.content and b"gpus.json" not in page.content
    data = client.get(f"/runs/{run.pk}/gpus.json").json()
    assert data["uses_gpus"] is False and data["gpus"] == []


def test_gpu_run_page_has_the_charts(client, personas, gpu_run):
    run, _ = gpu_run
    client.force_login(personas.viewer)

    page = client.get(f"/runs/{run.pk}/")

    assert page.status_code == 200
    assert f'data-url="/runs/{run.pk}/gpus.json"'.encode() in page.content
    assert b'id="gpu-util"' in page.content and b"This run uses no GPUs." not in page.content
    assert b"js/run_gpus.js" in page.content
