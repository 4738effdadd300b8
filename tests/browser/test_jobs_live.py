"""Submitting demo jobs through the form while a real Celery worker runs them, and
watching the job page follow them by htmx polling alone (no reload)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.jobs.models import Job
from tests.processes import CeleryWorker, broker_purge

# Asks pytest-xdist (--dist loadgroup) to run this module on one worker, as its
# session/module fixtures are built per worker; not honoured yet (see the Makefile).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("jobs_live"),
]

# Installed once the job page has loaded: records the state of every #job-status the
# page shows, and a marker that a reload would wipe.
WATCH = """() => {
  window.__samePage = true;
  window.__states = [document.getElementById("job-status").dataset.state];
  document.body.addEventListener("htmx:afterSettle", () => {
    const el = document.getElementById("job-status");
    if (el) window.__states.push(el.dataset.state);
  });
}"""


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    """One real worker for this module's tests (it starts in seconds, not instantly)."""
    broker_purge()
    with CeleryWorker(tmp_path_factory.mktemp("celery") / "worker.log") as proc:
        yield proc
        proc.kill9()  # its jobs are over; a warm shutdown only adds seconds


def submit(w, *, steps: str, step_seconds: str, name: str) -> int:
    page = w.page
    if not page.url.endswith("/jobs/new/"):
        w.goto("/jobs/new/")
    expect(page.get_by_label("Kind")).to_have_value("demo.count")
    page.get_by_label("Project").select_option(label="Alpha team")
    page.get_by_label("Name").fill(name)
    page.get_by_role("textbox", name="steps", exact=True).fill(steps)
    page.get_by_role("textbox", name="step_seconds").fill(step_seconds)
    page.get_by_role("button", name="Submit job").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    expect(page.locator(".msg-success")).to_contain_text("submitted")
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_job_runs_to_success_while_the_page_polls(web, personas, worker):
    w = web()
    w.login(personas.ml_engineer, next_path="/jobs/new/")
    # 12 s of steps: the page must see it running between polls on a loaded machine
    # (a 2 s job was over before a single-core run's first poll came back).
    job_id = submit(w, steps="40", step_seconds="0.3", name="forty steps")
    page = w.page
    page.evaluate(WATCH)
    status = page.locator("#job-status")
    expect(page.get_by_role("heading", name=f"Job {job_id} · forty steps")).to_be_visible()

    expect(status).to_have_attribute("data-state", "succeeded", timeout=120_000)
    # The attribute is visible a moment before htmx's afterSettle event records it.
    page.wait_for_function("() => window.__states[window.__states.length - 1] === 'succeeded'")
    states = page.evaluate("window.__states")
    assert "running" in states, (states, worker.log())
    assert states.index("running") < len(states) - 1 and states[-1] == "succeeded", states
    assert page.evaluate("window.__samePage") is True  # followed by htmx, never reloaded
    expect(status).to_have_count(1)  # each swap replaced the block, none piled up
    assert w.template_leaks() == []
    expect(status.locator(".badge")).to_have_text("succeeded")
    expect(page.get_by_test_id("progress")).to_have_text("100%")
    expect(page.locator("#job-log")).to_contain_text("step 40/40")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    w.shot("job-succeeded")

    # A finished job's partial carries no hx-get: the polling stops.
    expect(status).not_to_have_attribute("hx-get", re.compile(".*"))
    polls = [u for u in w.requests if u.endswith(f"/jobs/{job_id}/")]
    page.wait_for_timeout(2_500)
    assert [u for u in w.requests if u.endswith(f"/jobs/{job_id}/")] == polls
    assert Job.objects.get(pk=job_id).result["steps"] == 40
    w.assert_clean()


def test_cancel_a_running_job_from_its_page(web, personas, worker):
    w = web()
    w.login(personas.ml_engineer, next_path="/jobs/new/")
    job_id = submit(w, steps="200", step_seconds="0.3", name="long one")
    page = w.page
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-state", "running", timeout=60_000)
    expect(page.locator("#job-log")).to_contain_text("step 1/200")

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Cancel").click()
    # a loaded CI machine (six workers on two cores) was seen taking over 30 s here
    expect(page.locator(".msg-success")).to_contain_text(
        f"Job {job_id}: cancel done.", timeout=120_000
    )
    assert dialogs and "cannot be resumed" in dialogs[0]
    expect(status).to_have_attribute("data-state", "cancelled")
    expect(status.locator(".badge")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(status).not_to_have_attribute("hx-get", re.compile(".*"))
    w.shot("job-cancelled")

    job = Job.objects.get(pk=job_id)
    assert job.state == "cancelled" and job.progress < 100
    w.assert_clean()
