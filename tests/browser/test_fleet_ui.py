"""The Fleet in the browser: an admin adds a node and gets its token once; an ML
engineer runs a node job on a real agent and watches its live log and metrics chart."""

from __future__ import annotations

import re
import sys

import pytest
from playwright.sync_api import expect

from console.fleet import services as fleet
from console.fleet.models import Node
from console.jobs.models import Job
from tests.agent.conftest import kill_jobs
from tests.processes import CeleryWorker, ManagedProcess, broker_purge, process_env, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_a_node_and_sees_its_token_once(web, personas):
    personas.admin.is_staff = personas.admin.is_superuser = True
    personas.admin.save()
    w = web()
    w.login(personas.admin, next_path="/fleet/")
    page = w.page
    page.get_by_label("New node name").fill("gpu-node-7")
    page.get_by_role("button", name="Add node").click()
    token = page.get_by_test_id("node-token")
    expect(token).to_contain_text("fn_")
    expect(page.locator("pre")).to_contain_text("forge-agent --console")
    w.shot("fleet-token")
    assert Node.objects.get(name="gpu-node-7").tokens.count() == 1
    w.goto("/fleet/")
    card = page.locator("[data-node='gpu-node-7']")
    expect(card).to_contain_text("new")
    expect(page.locator("body")).not_to_contain_text("fn_")
    w.assert_clean()


@pytest.mark.slow
def test_node_job_streams_log_and_metrics_live(web, personas, live_server, tmp_path):
    broker_purge()
    issued = fleet.node_create(actor=None, name="browser-node")
    agent = ManagedProcess(
        [
            sys.executable,
            "-m",
            "gpu_agent",
            "--console",
            live_server.url,
            "--name",
            "browser-node",
            "--work-dir",
            str(tmp_path / "agent"),
            "--grace",
            "3",
        ],
        tmp_path / "agent.log",
        env=process_env(FORGE_NODE_TOKEN=issued.key),
    ).start()
    worker = CeleryWorker(tmp_path / "worker.log", queues="scheduler,default").start()
    try:
        wait_for(
            lambda: Node.objects.get(name="browser-node").status == Node.Status.ONLINE,
            timeout=60,
            what=f"the agent to register\n{agent.log()}",
        )
        w = web()
        w.login(personas.ml_engineer, next_path="/fleet/")
        expect(w.page.locator("[data-node='browser-node']")).to_contain_text("online")
        w.shot("fleet-online")
        w.goto("/jobs/new/")
        page = w.page
        page.get_by_label("Kind").select_option("demo.node")
        expect(page.get_by_role("textbox", name="metrics_per_step")).to_be_visible()
        page.get_by_label("Project").select_option(label="Alpha team")
        page.get_by_role("textbox", name="steps", exact=True).fill("120")
        # 30 s of steps: on a loaded CI machine the job page can take several
        # seconds to first render, and a 5 s job was over before it did.
        page.get_by_role("textbox", name="step_seconds").fill("0.25")
        page.get_by_role("button", name="Submit job").click()
        expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
        job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        expect(page.locator("#job-status")).to_have_attribute(
            "data-state", "running", timeout=60_000
        )
        chart = page.locator("#job-metrics .main-svg").first
        expect(chart).to_be_visible(timeout=60_000)
        expect(page.locator("#job-status")).to_have_attribute(
            "data-state", "succeeded", timeout=120_000
        )
        expect(page.locator("#job-log")).to_contain_text("step 120/120")
        # the chart's polls catch up with the last step (never more points than steps)
        lengths = "() => document.getElementById('job-metrics').data.map(t => t.x.length)"
        page.wait_for_function(
            f"() => {{ const n = ({lengths})(); return n.length > 0 && n.every(x => x >= 120); }}",
            timeout=60_000,
        )
        points = page.evaluate(lengths)
        assert points and all(n == 120 for n in points), points
        w.shot("job-node-metrics")
        assert Job.objects.get(pk=job_id).queue == "node.browser-node"
        w.assert_clean()
    finally:
        agent.stop()
        worker.kill9()
        kill_jobs(tmp_path / "agent")
