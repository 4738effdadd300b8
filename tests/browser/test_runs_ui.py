"""Training runs in the browser: an ML engineer launches a tiny run from /runs/new/ on a
real agent (DeepSpeed on CPU), watches its chart grow on the run page, pauses and
resumes it with the page's buttons, and downloads its TensorBoard logs; the compare
page overlays two runs' series and appends new points; the Pause/Resume/Cancel
buttons follow the job's state (driven through the database, no agent)."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from console.fleet import services as fleet
from console.fleet.models import Node
from console.jobs.models import Job
from console.metrics.services import metric_series_append
from console.runs import services
from console.runs.models import Checkpoint, Run
from tests.agent.conftest import kill_jobs
from tests.processes import CeleryWorker, ManagedProcess, broker_purge, process_env, wait_for
from tests.runs.conftest import CPU_RUN, make_corpus
from tests.train.conftest import VOCAB, tiny_corpus  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POINTS = "() => (document.getElementById('job-metrics').data || []).map(t => t.x.length)"
SHOTS = Path("/tmp/shots")


def traces(page, metric: str) -> list[dict]:
    return page.evaluate(
        "(id) => (document.getElementById(id).data || [])"
        ".map(t => ({name: t.name, n: t.x.length}))",
        f"chart-{metric}",
    )


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
        page.get_by_label("Steps", exact=True).fill("2000")
        page.get_by_label("Micro batch", exact=True).fill("4")
        page.get_by_label("Gradient accumulation", exact=True).fill("2")
        page.get_by_label("ZeRO stage", exact=True).select_option("2")
        page.get_by_label("Gpus per node", exact=True).fill("0")
        page.get_by_label("Checkpoint every", exact=True).fill("10")
        w.shot("run-new")
        page.get_by_role("button", name=re.compile("Launch", re.I)).click()
        expect(page).to_have_url(re.compile(r"/runs/\d+/$"), timeout=60_000)
        run = Run.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
        assert run.spec["gpus_per_node"] == 0 and run.spec["steps"] == 2000
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

        # Pause with the page's button: the rank saves a checkpoint and stops; the status
        # block (still polled: a paused run is not over) offers Resume instead.
        wait_for(
            lambda: Checkpoint.objects.filter(run=run).exists(),
            timeout=120,
            what=f"a first checkpoint\n{agent.log()[-2000:]}",
        )
        page.on("dialog", lambda dialog: dialog.accept())  # Cancel asks first
        status = page.locator("#job-status")
        page.get_by_role("button", name="Pause").click()
        expect(status).to_have_attribute("data-state", "paused")
        expect(page.get_by_test_id("action-done")).to_contain_text("paused")
        expect(page.get_by_test_id("run-actions").get_by_role("button")).to_have_text(
            ["Resume", "Cancel"]
        )
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "run-paused.png"), full_page=True)
        stdout = tmp_path / "agent" / "jobs" / f"{run.job_id}-1" / "stdout.log"
        wait_for(
            lambda: "after saving a checkpoint" in stdout.read_text(),
            timeout=60,
            what=f"the paused rank to stop\n{agent.log()[-2000:]}",
        )
        paused_points = max(page.evaluate(POINTS))

        # Resume: a new attempt starts from the pause's checkpoint; the chart goes on.
        page.get_by_role("button", name="Resume").click()
        expect(status).to_have_attribute("data-state", "running", timeout=120_000)
        wait_for(
            lambda: max(page.evaluate(POINTS)) >= paused_points + 2,
            timeout=120,
            interval=1,
            what=f"points of the resumed attempt\n{agent.log()[-2000:]}",
        )
        assert Job.objects.get(pk=run.job_id).attempt == 2
        assert page.evaluate("() => window.__sameDocument === true")

        # Cancel ends it; a finished run has no buttons and stops polling.
        page.get_by_role("button", name="Cancel").click()
        expect(status).to_have_attribute("data-state", "cancelled")
        expect(page.get_by_test_id("run-actions")).to_have_count(0)
        assert Job.objects.get(pk=run.job_id).state == "cancelled"

        # TensorBoard logs: a zip holding the event files
        with page.expect_download() as info:
            page.get_by_role("link", name="Download TensorBoard logs").click()
        download = info.value
        assert download.suggested_filename == f"run-{run.pk}-tensorboard.zip"
        archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
        events = [n for n in archive.namelist() if "events.out.tfevents" in n]
        assert events and all(n.startswith(f"run-{run.pk}/") for n in events), archive.namelist()
        assert archive.getinfo(events[0]).file_size > 0
        w.assert_clean()
    finally:
        agent.stop()
        worker.kill9()
        kill_jobs(tmp_path / "agent")


@pytest.fixture
def two_runs(personas, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    corpus = make_corpus(personas.project)
    made = []
    for name, drop in (("baseline", 0.05), ("higher-lr", 0.08)):
        run = services.run_create(
            actor=personas.ml_engineer,
            project=personas.project,
            corpus=corpus,
            **{**CPU_RUN, "name": name},
        )
        add_points(run, "loss", range(1, 31), [6.0 - drop * i for i in range(30)])
        add_points(run, "eval_loss", [10, 20, 30], [5.6, 5.2 - drop, 4.9 - drop])
        add_points(run, "lr", range(1, 31), [3e-4] * 30)
        add_points(run, "tokens_per_s", range(1, 31), [1000.0 + i for i in range(30)])
        made.append(run)
    return made


def add_points(run, name: str, steps, values) -> None:
    metric_series_append({(run.job_id, 1, name): (list(steps), list(values))})


def test_compare_two_runs_from_the_list(web, personas, two_runs):
    a, b = two_runs
    w = web()
    w.login(personas.viewer, next_path="/runs/")
    page = w.page
    page.get_by_label(f"Compare run {a.pk}").check()
    page.get_by_label(f"Compare run {b.pk}").check()
    page.get_by_role("button", name="Compare selected").click()
    # the list shows the newest run first, and so sends it first
    expect(page).to_have_url(re.compile(rf"/runs/compare/\?runs={b.pk}&runs={a.pk}$"))
    for metric in ("loss", "eval_loss", "lr", "tokens_per_s"):
        expect(page.locator(f"#chart-{metric} .main-svg").first).to_be_attached()
    labels = [f"run {b.pk} · higher-lr", f"run {a.pk} · baseline"]
    for metric in ("loss", "eval_loss", "lr", "tokens_per_s"):
        drawn = traces(page, metric)
        assert [t["name"] for t in drawn] == labels, (metric, drawn)
    assert [t["n"] for t in traces(page, "loss")] == [30, 30]
    assert [t["n"] for t in traces(page, "eval_loss")] == [3, 3]
    table = page.get_by_test_id("compare-table")
    expect(table).to_contain_text("baseline")
    expect(table).to_contain_text("higher-lr")

    # Queued runs are active: new points are appended in place, not by a reload.
    page.evaluate("() => { window.__sameDocument = true; }")
    add_points(a, "loss", range(31, 36), [4.0] * 5)
    wait_for(
        lambda: traces(page, "loss")[1]["n"] == 35, timeout=20, interval=0.3, what="new points"
    )
    assert traces(page, "loss")[0]["n"] == 30
    assert page.evaluate("() => window.__sameDocument === true")
    expect(page.get_by_test_id("latest-step").nth(1)).to_contain_text("35", timeout=60_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "runs-compare.png"), full_page=True)
    w.shot("runs-compare")
    assert w.sideways_overflow() == 0
    w.assert_clean()


def test_compare_bad_ids_explain_themselves(web, personas, two_runs):
    w = web()
    w.login(personas.viewer, next_path="/runs/")
    w.goto("/runs/compare/?runs=1,x")
    expect(w.page.get_by_test_id("compare-error")).to_contain_text("positive whole numbers")
    assert w.page.locator(".compare-chart").count() == 0
    w.assert_clean(expected_statuses=(400,))


def test_control_buttons_follow_the_jobs_state(web, personas, two_runs):
    """No agent here: the job is put into the needed state through the database; the
    buttons post to the real views, which call console.jobs.services."""
    run = two_runs[0]
    Job.objects.filter(pk=run.job_id).update(state="running")
    w = web()
    w.login(personas.ml_engineer, next_path=f"/runs/{run.pk}/")
    page = w.page
    page.on("dialog", lambda dialog: dialog.accept())  # Cancel asks first
    status = page.locator("#job-status")
    actions = page.get_by_test_id("run-actions")
    expect(actions.get_by_role("button")).to_have_text(["Pause", "Cancel"])
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "run-buttons.png"), full_page=True)
    w.shot("run-buttons")

    page.get_by_role("button", name="Pause").click()
    expect(status).to_have_attribute("data-state", "paused")
    expect(actions.get_by_role("button")).to_have_text(["Resume", "Cancel"])
    assert Job.objects.get(pk=run.job_id).state == "paused"

    # A refusal is shown inline: the job moved on behind the page's back (polls are
    # held off meanwhile, so the stale Resume button is the one clicked).
    page.route(
        re.compile(rf".*/runs/{run.pk}/$"),
        lambda route: (
            route.fulfill(status=204)
            if route.request.headers.get("hx-request")
            else route.continue_()
        ),
    )
    Job.objects.filter(pk=run.job_id).update(state="running")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("action-error")).to_contain_text("only a paused job can be resumed")
    expect(status).to_have_attribute("data-state", "running")
    page.unroute(re.compile(rf".*/runs/{run.pk}/$"))

    page.get_by_role("button", name="Cancel").click()
    expect(status).to_have_attribute("data-state", "cancelled")
    expect(page.get_by_test_id("run-actions")).to_have_count(0)
    assert Job.objects.get(pk=run.job_id).state == "cancelled"
    w.assert_clean(expected_statuses=(409,))


def test_a_click_that_supersedes_a_poll_in_flight_logs_no_error(web, personas, two_runs):
    """The race a newcomer's suite hit: Pause is clicked while the status block's poll is
    in flight; the click replaces the poll (hx-sync), htmx aborts it, and that abort is
    not an error (it used to log htmx:afterRequest and htmx:sendAbort)."""
    run = two_runs[0]
    Job.objects.filter(pk=run.job_id).update(state="running")
    w = web()
    w.login(personas.ml_engineer, next_path=f"/runs/{run.pk}/")
    page = w.page
    held = []

    def hold_polls(route) -> None:
        if route.request.method == "GET" and route.request.headers.get("hx-request"):
            held.append(route)  # never answered: the poll stays in flight
        else:
            route.continue_()

    pattern = re.compile(rf".*/runs/{run.pk}/$")
    page.route(pattern, hold_polls)
    for _ in range(100):  # the block polls 2 s after it loads
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the status block never polled"
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#job-status")).to_have_attribute("data-state", "paused")
    assert Job.objects.get(pk=run.job_id).state == "paused"
    page.unroute(pattern)
    w.assert_clean()


def test_viewer_sees_no_control_buttons(web, personas, two_runs):
    run = two_runs[0]
    Job.objects.filter(pk=run.job_id).update(state="running")
    w = web()
    w.login(personas.viewer, next_path=f"/runs/{run.pk}/")
    expect(w.page.locator("#job-status")).to_have_attribute("data-state", "running")
    expect(w.page.get_by_test_id("run-actions")).to_have_count(0)
    w.assert_clean()
