"""A run's GPUs in the browser: the run page draws utilisation, memory and power with one
trace per GPU the run's job holds, and appends a new telemetry sample in place (no page
reload) while the job runs. Nodes, allocations and samples are made in the database,
no agent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from console.fleet.models import AllocatedGpu, Allocation, Gpu, GpuSample
from console.jobs.models import Job
from console.runs import services
from console.runs.models import Run
from tests.fleet.conftest import make_node  # noqa: F401 - a fixture
from tests.processes import wait_for
from tests.runs.conftest import CPU_RUN, make_corpus

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHARTS = ("gpu-util", "gpu-mem", "gpu-power")
TRACES = "(id) => (document.getElementById(id).data || []).map(t => [t.name, t.x.length])"


def add_sample(gpu: Gpu, at, util: float) -> None:
    GpuSample.objects.create(
        gpu=gpu,
        at=at,
        util=util,
        util_max=util,
        mem_used_mib=40_000 + 100 * util + 20_000 * gpu.index,
        power_w=150 + 4 * util,
        temp_c=55,
    )


@pytest.fixture
def gpu_run(personas, settings, tmp_path, make_node):  # noqa: F811
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    node, _ = make_node("gpu-a", gpus=2)
    run = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=make_corpus(personas.project),
        **{**CPU_RUN, "name": "on-two-gpus"},
    )
    Run.objects.filter(pk=run.pk).update(spec={**run.spec, "gpus_per_node": 2})
    Job.objects.filter(pk=run.job_id).update(state="running")
    now = timezone.now()
    allocation = Allocation.objects.create(
        job_id=run.job_id, attempt=1, node=node, gpu_indices=[0, 1]
    )
    Allocation.objects.filter(pk=allocation.pk).update(created_at=now - timedelta(minutes=15))
    gpus = list(Gpu.objects.filter(node=node).order_by("index"))
    for gpu in gpus:
        AllocatedGpu.objects.create(allocation=allocation, gpu=gpu)
        for i in range(20):
            add_sample(
                gpu, now - timedelta(seconds=30 * (20 - i)), 60 + 30 * (i % 2) - 10 * gpu.index
            )
    return run, gpus


def test_run_page_draws_and_appends_gpu_telemetry(web, personas, gpu_run):
    run, gpus = gpu_run
    w = web()
    w.login(personas.viewer, next_path=f"/runs/{run.pk}/")
    page = w.page
    section = page.get_by_test_id("run-gpus")
    expect(section.get_by_role("heading", name="GPUs")).to_be_visible()
    for chart in CHARTS:
        expect(page.locator(f"#{chart} .main-svg").first).to_be_visible()
        assert page.evaluate(TRACES, chart) == [["gpu-a/gpu0", 20], ["gpu-a/gpu1", 20]]
    expect(section.locator("[data-gpus-note]")).to_be_hidden()
    section.scroll_into_view_if_needed()
    w.shot("run-gpus")

    # A new sample of gpu1 is appended in place (Plotly extendTraces, no reload).
    page.evaluate("() => { window.__sameDocument = true; }")
    add_sample(gpus[1], timezone.now(), 99)

    def appended() -> bool:
        return all(
            page.evaluate(TRACES, chart) == [["gpu-a/gpu0", 20], ["gpu-a/gpu1", 21]]
            for chart in CHARTS
        )

    wait_for(appended, timeout=20, interval=0.5, what="the new sample on every chart")
    assert page.evaluate("() => window.__sameDocument === true")
    last_util = page.evaluate("() => document.getElementById('gpu-util').data[1].y.at(-1)")
    assert last_util == 99
    w.shot("run-gpus-appended")
    w.assert_clean()


def test_cpu_run_page_says_it_uses_no_gpus(web, personas, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    run = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=make_corpus(personas.project),
        **CPU_RUN,
    )
    w = web()
    w.login(personas.viewer, next_path=f"/runs/{run.pk}/")
    section = w.page.get_by_test_id("run-gpus")
    expect(section).to_contain_text("This run uses no GPUs.")
    assert w.page.locator("#gpu-util").count() == 0
    w.assert_clean()
