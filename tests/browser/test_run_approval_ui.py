"""Run approval in the browser: a project's policy holds a run; its launcher sees it
"awaiting approval" on the runs list and gets no buttons on the run page; a reviewer
approves it from the run page and the status partial shows the job scheduled."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.jobs.models import Job, JobState
from console.jobs.services import job_schedule
from console.policies.models import RunApprovalPolicy
from console.runs import services
from tests.processes import broker_purge
from tests.runs.conftest import CPU_RUN, make_corpus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_approves_a_held_run_from_its_page(web, personas, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    broker_purge()
    RunApprovalPolicy.objects.create(project=personas.project, presets=["tiny"])
    corpus = make_corpus(personas.project)
    run = services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )
    job_schedule(job_id=run.job_id)  # what the scheduler does with the message
    try:
        launcher = web()
        launcher.login(personas.ml_engineer, next_path="/runs/")
        row = launcher.page.get_by_test_id(f"awaiting-{run.pk}")
        expect(row).to_contain_text("awaiting approval by a reviewer: preset tiny needs approval")
        launcher.goto(f"/runs/{run.pk}/")
        status = launcher.page.locator("#job-status")
        expect(status).to_have_attribute("data-state", "awaiting_approval")
        expect(status).to_contain_text("awaiting approval by a reviewer")
        expect(launcher.page.get_by_test_id("run-approval")).to_have_count(0)
        launcher.assert_clean()

        reviewer = web()
        reviewer.login(personas.reviewer, next_path=f"/runs/{run.pk}/")
        buttons = reviewer.page.get_by_test_id("run-approval")
        expect(buttons).to_be_visible()
        buttons.get_by_role("button", name="Approve").click()
        expect(reviewer.page.get_by_test_id("action-done")).to_contain_text("approved")
        status = reviewer.page.locator("#job-status")
        expect(status).to_have_attribute("data-state", re.compile("scheduled|dispatched"))
        expect(reviewer.page.get_by_test_id("run-approval")).to_have_count(0)
        reviewer.assert_clean()
        job = Job.objects.get(pk=run.job_id)
        assert job.state in {JobState.SCHEDULED, JobState.DISPATCHED}
        assert job.approved_by_id == personas.reviewer.pk
    finally:
        broker_purge()
