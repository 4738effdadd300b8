"""Green and cost in the browser: an ML engineer launches a carbon-aware run with a
deadline, sees the chosen low-carbon start and the expected savings on the run page
(in their time zone), and once the run has held a GPU and finished sees its measured
energy, emissions and cost; the Carbon and Energy pages list it. The scheduler's
planning and the accounting run here through their real services (no worker)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from console.energy.services import job_usage_refresh
from console.jobs import services as jobs
from console.jobs.models import Job, JobState
from console.runs.models import Run
from tests.carbon.test_scheduling import trace  # noqa: F401 - fixture
from tests.energy.conftest import allocate, make_node, samples
from tests.runs.conftest import corpus, data_dir  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_flexible_run_plan_then_energy(web, personas, corpus, trace):  # noqa: F811
    w = web()
    w.login(personas.ml_engineer, next_path="/runs/new/")
    page = w.page
    page.get_by_label("Steps").fill("12")
    page.get_by_label("GPUs per node").fill("0")
    page.get_by_label("ZeRO stage").select_option("2")
    page.get_by_label(re.compile("^Carbon-aware")).check()
    deadline = timezone.localtime(timezone.now() + timedelta(hours=30))
    page.get_by_role("textbox", name=re.compile("^Deadline")).fill(
        deadline.strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Expected duration (hours)").fill("2")
    page.get_by_role("button", name=re.compile("Launch")).click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    run = Run.objects.latest("pk")
    expect(page.get_by_test_id("carbon-pending")).to_be_visible()

    jobs.job_schedule(job_id=run.job_id)  # what the scheduler's worker does
    card = page.get_by_test_id("carbon-plan")
    expect(card.get_by_test_id("carbon-decision")).to_contain_text("kgCO2e")  # polled in
    job = Job.objects.get(pk=run.job_id)
    plan = job.carbon_plan
    expect(card.get_by_test_id("carbon-savings")).to_contain_text(
        f"{plan['savings_pct']:.1f}% less"
    )
    if plan["savings_pct"] > 0:
        expect(card.get_by_test_id("carbon-decision")).to_contain_text("Chosen start")
    w.shot("carbon-plan")

    # The run held a GPU of node gpu-a for an hour at 400 W, then succeeded.
    node = make_node("gpu-a", gpus=1)
    start = timezone.now() - timedelta(hours=1)
    allocate(job, node, [0], start=start, end=timezone.now())
    samples(node, 0, start=start, end=timezone.now(), watts=400.0, every=30)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED, started_at=start, finished_at=timezone.now(), progress=100
    )
    job_usage_refresh(job_id=job.pk)
    w.goto(f"/runs/{run.pk}/")
    usage = page.get_by_test_id("energy-usage")
    expect(usage.get_by_test_id("energy-kwh")).to_contain_text(re.compile(r"0\.4\d* kWh"))
    expect(usage.get_by_test_id("energy-co2")).to_contain_text("CO2e")
    expect(usage.get_by_test_id("energy-cost")).to_contain_text(re.compile(r"\d"))
    w.shot("run-energy")

    w.goto("/carbon/")
    expect(page.get_by_test_id("carbon-jobs")).to_contain_text(f"Run {run.pk}")
    expect(page.locator('[data-chart="carbon-forecast"] .main-svg').first).to_be_visible()
    w.shot("carbon-page")
    w.goto("/energy/")
    expect(page.locator("body")).to_contain_text("Alpha team")
    w.shot("energy-page")
    w.assert_clean()
