"""Training runs in the browser: an ML engineer launches a tiny run from /runs/new/ on a
real agent (DeepSpeed on CPU) and watches its chart grow on the run page."""

from __future__ import annotations

import re
import sys

import pytest
from playwright.sync_api import expect

from console.fleet import services as fleet
from console.fleet.models import Node
from console.runs.models import Run
from tests.agent.conftest import kill_jobs
from tests.processes import CeleryWorker, ManagedProcess, broker_purge, process_env, wait_for
from tests.runs.conftest import make_corpus
from tests.train.conftest import VOCAB, tiny_corpus  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POINTS = "() => (document.getElementById('job-metrics').data || []).map(t => t.x.length)"


def test_launch_a_tiny_run_and_watch_its_chart_grow(
    web,
    personas,
    live_server,
    settings,
    tmp_path,
    tiny_corpus,  # noqa: F811
):
    settings.FORGE_DATA_DIR = tiny_corpus.parent
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    corpus = make_corpus(personas.project, vocab=VOCAB, seq_len=64, key=tiny_corpus.name)
    broker_purge()
    issued = fleet.node_create(actor=None, name="cpu-browser")
    agent = ManagedProcess(
        [
            sys.executable,
            "-m",
            "gpu_agent",
            "--console",
            live_server.url,
            "--name",
            "cpu-browser",
            "--work-dir",
            str(tmp_path / "agent"),
            "--grace",
            "10",
        ],
        tmp_path / "agent.log",
        env=process_env(FORGE_NODE_TOKEN=issued.key, OMP_NUM_THREADS="1"),
    ).start()
    worker = CeleryWorker(tmp_path / "worker.log", queues="scheduler,default").start()
    try:
        wait_for(
            lambda: Node.objects.get(name="cpu-browser").status == Node.Status.ONLINE,
            timeout=60,
            what=f"the agent to register\n{agent.log()}",
        )
        w = web()
        w.login(personas.ml_engineer, next_path="/runs/new/")
        page = w.page
        page.get_by_label("Corpus", exact=True).select_option(str(corpus.pk))
        page.get_by_label("Preset", exact=True).select_option("tiny")
        page.get_by_label("Steps", exact=True).fill("40")
        page.get_by_label("Micro batch", exact=True).fill("4")
        page.get_by_label("Gradient accumulation", exact=True).fill("2")
        page.get_by_label("ZeRO stage", exact=True).select_option("2")
        page.get_by_label("Gpus per node", exact=True).fill("0")
        page.get_by_label("Checkpoint every", exact=True).fill("10")
        w.shot("run-new")
        page.get_by_role("button", name=re.compile("Launch", re.I)).click()
        expect(page).to_have_url(re.compile(r"/runs/\d+/$"), timeout=20_000)
        run = Run.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
        assert run.spec["gpus_per_node"] == 0 and run.spec["steps"] == 40
        expect(page.locator("#job-status")).to_have_attribute(
            "data-state", "running", timeout=60_000
        )
        chart = page.locator("#job-metrics .main-svg").first
        expect(chart).to_be_visible(timeout=120_000)
        names = page.evaluate("() => document.getElementById('job-metrics').data.map(t => t.name)")
        assert "loss" in names, names
        first = page.evaluate(POINTS)
        assert first and max(first) >= 1, first
        w.shot("run-chart-early")

        # The chart grows in place (Plotly extendTraces), with no page reload.
        page.evaluate("() => { window.__sameDocument = true; }")

        def grew() -> bool:
            return max(page.evaluate(POINTS)) >= max(first) + 3

        wait_for(grew, timeout=120, interval=1, what=f"more points\n{agent.log()[-2000:]}")
        assert page.evaluate("() => window.__sameDocument === true")
        later = page.evaluate(POINTS)
        w.shot("run-chart-later")
        assert max(later) > max(first), (first, later)
        w.assert_clean()
    finally:
        agent.stop()
        worker.kill9()
        kill_jobs(tmp_path / "agent")
