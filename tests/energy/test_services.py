"""job_usage_refresh with real rows: NVML integration, the power model, prices and
tiers, emissions from console.carbon, the hook on a job's finish and the beat task."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from console.energy import services
from console.energy.models import JobUsage
from console.fleet.models import Allocation, Node
from console.jobs.models import JobState
from console.jobs.services import job_transition
from tests.energy.conftest import INTENSITY, allocate, at, make_job, make_node, samples

pytestmark = pytest.mark.django_db

LATER = at(60 * 24)  # well after the jobs below finished: their figures are settled


def test_nvml_energy_emissions_and_cost(gpu_job):
    job, _ = gpu_job
    usage = services.job_usage_refresh(job_id=job.pk, now=LATER)
    assert usage is not None and usage.method == "nvml"
    assert usage.energy_kwh == pytest.approx(0.8)  # 2 GPUs x 400 W x 1 h
    assert usage.gco2e == pytest.approx(0.8 * INTENSITY)
    assert usage.mean_intensity_g_per_kwh == pytest.approx(INTENSITY)
    assert "constant" in usage.intensity_source
    assert usage.cost == Decimal("6.0000")  # 2 GPU-hours at 3.00 on demand
    assert usage.currency == "EUR"
    assert usage.gpu_hours == pytest.approx(2.0) and usage.node_hours == pytest.approx(1.0)
    assert usage.final is True
    assert usage.month.isoformat() == "2026-03-01"
    assert usage.project_id == job.project_id
    [part] = usage.breakdown
    assert part["node"] == "gpu-a" and part["gpus"] == [0, 1] and part["attempt"] == 1
    assert part["seconds"] == 3600 and part["samples"] == 720
    assert part["price_tier"] == "on_demand" and part["hourly_price"] == "6.0000"
    assert part["method"] == "nvml" and part["kwh"] == pytest.approx(0.8)


def test_refresh_is_idempotent(gpu_job):
    job, _ = gpu_job
    first = services.job_usage_refresh(job_id=job.pk, now=LATER)
    second = services.job_usage_refresh(job_id=job.pk, now=LATER)
    assert JobUsage.objects.filter(job=job).count() == 1
    assert (first.energy_kwh, first.cost, first.gco2e) == (
        second.energy_kwh,
        second.cost,
        second.gco2e,
    )


def test_spot_tier_prices_the_same_hours_lower(gpu_job):
    job, node = gpu_job
    on_demand = services.job_usage_refresh(job_id=job.pk, now=LATER).cost
    Node.objects.filter(pk=node.pk).update(price_tier=Node.PriceTier.SPOT)
    usage = services.job_usage_refresh(job_id=job.pk, now=LATER)
    assert (on_demand, usage.cost) == (Decimal("6.0000"), Decimal("2.0000"))
    assert usage.breakdown[0]["price_tier"] == "spot"
    assert usage.energy_kwh == pytest.approx(0.8)  # the tier changes the price only


def test_empty_tier_price_falls_back_to_the_setting(personas, settings):
    settings.FORGE_GPU_HOUR_PRICE = 4.0
    node = make_node("gpu-r", gpus=2, price_tier=Node.PriceTier.RESERVED)
    job = make_job(personas.project)
    allocate(job, node, [0], start=at(0), end=at(30))
    usage = services.job_usage_refresh(job_id=job.pk, now=LATER)
    assert usage.cost == Decimal("2.0000")  # half an hour of one GPU at 4.0
    assert usage.breakdown[0]["price_tier"] == "reserved"


def test_cpu_only_allocation_uses_the_node_power_model(personas):
    node = make_node("cpu-a", gpus=0, cpu_power_watts=150.0, price_on_demand=Decimal("0.50"))
    job = make_job(personas.project)
    allocate(job, node, [], start=at(0), end=at(120))
    usage = services.job_usage_refresh(job_id=job.pk, now=LATER)
    assert usage.method == "power model"
    assert usage.energy_kwh == pytest.approx(0.3)  # 150 W x 2 h
    assert usage.gco2e == pytest.approx(0.3 * INTENSITY)
    assert usage.cost == Decimal("1.0000")  # 2 node-hours at 0.50
    assert usage.gpu_hours == 0 and usage.node_hours == pytest.approx(2.0)
    assert usage.breakdown[0]["power_model_w"] == 150.0


def test_gpus_without_samples_draw_their_share_of_the_power_model(gpu_job):
    job, node = gpu_job
    Node.objects.filter(pk=node.pk).update(cpu_power_watts=800.0)  # 200 W per GPU of 4
    other = make_job(job.project)
    allocate(other, node, [2, 3], start=at(0), end=at(60))
    samples(node, 2, start=at(0), end=at(60), watts=300.0)  # gpu3 reports nothing
    usage = services.job_usage_refresh(job_id=other.pk, now=LATER)
    assert usage.method == "mixed"
    assert usage.energy_kwh == pytest.approx(0.3 + 0.2)
    per_gpu = {g["gpu"]: g["method"] for g in usage.breakdown[0]["per_gpu"]}
    assert per_gpu == {2: "nvml", 3: "power model"}


def test_folded_telemetry_and_several_attempts(personas):
    node = make_node("gpu-f", gpus=1)
    job = make_job(personas.project, finished_at=at(180))
    # attempt 1: an hour whose telemetry was folded into 15-minute rows at 500 W
    allocate(job, node, [0], start=at(0), end=at(60), attempt=1)
    samples(node, 0, start=at(0), end=at(60), watts=500.0, resolution=900)
    # attempt 2: an hour of raw samples at 250 W
    allocate(job, node, [0], start=at(120), end=at(180), attempt=2)
    samples(node, 0, start=at(120), end=at(180), watts=250.0)
    usage = services.job_usage_refresh(job_id=job.pk, now=LATER)
    assert [p["attempt"] for p in usage.breakdown] == [1, 2]
    assert usage.energy_kwh == pytest.approx(0.5 + 0.25)
    assert usage.gpu_hours == pytest.approx(2.0)


def test_running_job_gets_live_figures_up_to_now(personas):
    node = make_node("gpu-l", gpus=1)
    start = timezone.now() - timedelta(minutes=30)
    job = make_job(personas.project, state=JobState.RUNNING, started_at=start)
    allocate(job, node, [0], start=start, end=None)
    samples(node, 0, start=start, end=timezone.now(), watts=600.0)
    usage = services.job_usage_refresh(job_id=job.pk)
    assert usage.final is False and usage.breakdown[0]["open"] is True
    assert usage.energy_kwh == pytest.approx(0.3, rel=0.02)


def test_worker_jobs_are_not_metered(personas):
    job = make_job(personas.project, kind="demo.count")
    assert services.job_usage_refresh(job_id=job.pk, now=LATER) is None
    assert not JobUsage.objects.exists()


def test_refresh_never_raises(gpu_job, monkeypatch, caplog):
    job, _ = gpu_job

    def broken(*args, **kwargs):
        raise RuntimeError("carbon provider exploded")

    monkeypatch.setattr(services, "_intensity", broken)
    assert services.job_usage_refresh(job_id=job.pk, now=LATER) is None
    assert "could not compute the usage of job" in caplog.text
    assert not JobUsage.objects.exists()
    assert services.job_usage_refresh(job_id=999_999) is None


def test_hook_on_job_finish_takes_the_figures(personas, django_capture_on_commit_callbacks):
    node = make_node("gpu-h", gpus=2)
    start = timezone.now() - timedelta(minutes=10)
    job = make_job(personas.project, state=JobState.RUNNING, started_at=start)
    allocation = allocate(job, node, [0, 1], start=start, end=None)
    samples(node, 0, start=start, end=timezone.now(), watts=300.0)
    samples(node, 1, start=start, end=timezone.now(), watts=300.0)
    with django_capture_on_commit_callbacks(execute=True):
        job_transition(job_id=job.pk, to=JobState.SUCCEEDED)
    allocation.refresh_from_db()
    assert allocation.released_at is not None  # fleet's hook ran first
    usage = JobUsage.objects.get(job=job)
    assert usage.breakdown[0]["open"] is False
    assert usage.energy_kwh == pytest.approx(2 * 300 * (10 / 60) / 1000, rel=0.02)
    assert usage.final is False  # late telemetry may still arrive

    # beat: still within the settling time, the figures stay provisional ...
    report = services.usage_refresh_due()
    assert report["due"] == 1
    assert JobUsage.objects.get(job=job).final is False
    # ... and once it passed, they are final and no longer refreshed
    later = timezone.now() + timedelta(seconds=services.SETTLE_SECONDS + 1)
    services.usage_refresh_due(now=later)
    assert JobUsage.objects.get(job=job).final is True
    assert services.usage_refresh_due(now=later + timedelta(minutes=10))["due"] == 0


def test_beat_refreshes_running_jobs(personas):
    node = make_node("gpu-b", gpus=1)
    start = timezone.now() - timedelta(minutes=5)
    running = make_job(personas.project, state=JobState.RUNNING, started_at=start)
    allocate(running, node, [0], start=start)
    old = make_job(personas.project)  # finished long ago, never refreshed: left alone
    allocate(old, node, [], start=at(0), end=at(60))
    report = services.usage_refresh_due()
    assert report == {"due": 1, "refreshed": 1}
    assert JobUsage.objects.get(job=running).final is False
    assert not JobUsage.objects.filter(job=old).exists()
    assert Allocation.objects.filter(job=running, released_at__isnull=True).exists()


def test_beat_task_is_registered_and_scheduled():
    from console.energy.tasks import energy_refresh
    from workers.celery import app

    assert energy_refresh.name == "energy.refresh"
    assert app.conf.beat_schedule["energy-refresh"]["schedule"] == 60.0
    assert energy_refresh() == {"due": 0, "refreshed": 0}
