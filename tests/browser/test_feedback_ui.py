"""Feedback in the browser: an ML engineer generates in the playground, rates the answer
bad with a better one and a flag, and finds it on the version's feedback page (masked,
flagged, charted), then filters to nothing; a version without feedback shows how to
get some. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from console.data.models import DatasetVersion
from console.data.selectors import version_records
from console.jobs.models import Job
from console.registry.models import Feedback
from tests.data.helpers import run_job
from tests.factories import ModelVersionFactory
from tests.registry.conftest import dirs, random_hf, register, run  # noqa: F401 - fixtures
from tests.train.conftest import tiny_corpus  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rate_a_playground_answer_then_find_it(web, personas, run):  # noqa: F811
    version = register(run, personas.ml_engineer, name="court-lm")
    w = web()
    w.login(personas.ml_engineer, next_path=f"/models/{version.pk}/playground/")
    page = w.page
    page.get_by_label("Prompt").fill("The court")
    page.get_by_label("Max tokens").fill("8")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_test_id("generation")).to_be_visible(timeout=60_000)
    page.get_by_label("A better answer (optional)").fill(
        "The appeal was dismissed; ask jane.doe@example.com for the ruling."
    )
    page.get_by_label("Flag for review (harmful or unsafe)").check()
    w.shot("playground-rate")
    page.get_by_role("button", name="Bad answer").click()
    saved = page.get_by_test_id("feedback-saved")
    expect(saved).to_contain_text("with a better answer, flagged for review", timeout=60_000)
    expect(saved).to_contain_text("personal data masked")
    item = Feedback.objects.get()
    assert (item.source, item.rating, item.sampling["max_new_tokens"]) == ("playground", -1, 8)

    saved.get_by_role("link", name=f"All feedback on {version}").click()
    expect(page.get_by_test_id("fb-total")).to_have_text("1")
    expect(page.get_by_test_id("fb-flagged")).to_have_text("1")
    row = page.locator(f"[data-feedback='{item.pk}']")
    expect(row).to_contain_text("[EMAIL]")
    expect(row.get_by_test_id("flagged")).to_be_visible()
    expect(page.locator("[data-chart='feedback'] .main-svg").first).to_be_visible(timeout=60_000)
    w.shot("feedback-page")
    expect(page.get_by_test_id("export-preference")).to_contain_text("· 1")
    with page.expect_download() as download:
        page.get_by_test_id("export-preference").click()
    row = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert row["chosen"].startswith("The appeal was dismissed; ask [EMAIL]")
    assert row["rejected"] == item.output and row["feedback_id"] == item.pk

    # the corrected answer becomes a preference dataset's version (its ingest job runs
    # here, in this process, as a worker would run it)
    save = page.get_by_test_id("to-dataset")
    save.get_by_label("Save as a dataset version").select_option("preference")
    save.get_by_label("New dataset's name").fill("court fixes")
    save.get_by_role("button", name="Save as dataset").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    job = Job.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert run_job(job).state == "succeeded", job.error
    (pair,) = version_records(version=DatasetVersion.objects.get(dataset__name="court fixes"))
    assert pair["chosen"].startswith("The appeal was dismissed; ask [EMAIL]")
    w.goto(f"/models/{version.pk}/feedback/")

    page.get_by_label("Rating", exact=True).select_option("positive")
    expect(page.get_by_test_id("feedback-empty")).to_contain_text(
        "No feedback matches these filters", timeout=60_000
    )
    expect(page).to_have_url(re.compile(rf"/models/{version.pk}/feedback/\?sentiment=positive"))
    expect(page.get_by_test_id("export-sft")).to_have_attribute("aria-disabled", "true")
    expect(page.locator("[data-chart='feedback']")).to_contain_text(
        "No ratings match these filters", timeout=60_000
    )
    w.shot("feedback-filtered-empty")
    page.get_by_role("link", name="Clear the filters").click()
    expect(page.locator(f"[data-feedback='{item.pk}']")).to_be_visible()
    w.assert_clean()


def test_a_version_without_feedback(web, personas):
    version = ModelVersionFactory(project=personas.project)
    w = web()
    w.login(personas.viewer, next_path=f"/models/{version.pk}/feedback/")
    page = w.page
    expect(page.get_by_test_id("feedback-empty")).to_contain_text(f"No feedback on {version} yet")
    expect(page.get_by_test_id("fb-total")).to_have_text("0")
    chart = page.locator("[data-chart='feedback']")
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
    expect(chart).to_contain_text("No ratings yet")
    w.shot("feedback-empty")
    w.assert_clean()
