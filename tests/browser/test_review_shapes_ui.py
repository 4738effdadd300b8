"""A whole review in the browser after each kind of check result (issue 14, items 7 and
12): the review page opens after a bias probe, a toxicity check, a PII leakage check and
a fact check have results (it answered 500 once a check had flagged generations), after
a check job fails while the page watches it, and after reviewers record results by hand.
The submitter saves evidence and submits; a reviewer's approval is refused while checks
have failed, then each failed check gets a result by hand with the reason; two reviewers
approve, and the model card names each failed check, who waived it, when and why.

The first test puts realistic results on the items through the model (the shapes
``checks.probes.run_check`` writes); the second runs a real bias probe on a registered
random-weight model. Screenshots: test-artifacts/screenshots/review-shape-*."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.governance import services
from console.governance.models import Review, ReviewItem, ReviewState
from console.jobs.models import JobState
from console.jobs.services import job_transition
from tests.data.helpers import run_job
from tests.factories import JobFactory
from tests.governance.conftest import make_version, second_reviewer, seed_templates  # noqa: F401
from tests.governance.shapes import AUTOMATED, put_result
from tests.registry.conftest import dirs, random_hf, register, run  # noqa: F401
from tests.train.conftest import tiny_corpus  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASONS = {
    "bias": "Parity gap is in the demo prompts only; our own set shows 0.03.",
    "toxicity": "Flagged words are quotations from court records.",
    "pii": "Masked values are synthetic; no training record matches.",
    "factcheck": "Random-weight demo model; set re-run on v2.",
}


def _item(review: Review, key: str) -> ReviewItem:
    return ReviewItem.objects.get(review=review, key=key)


def _sample_text(result: dict) -> str:
    first = result["samples"][0]
    return first.get("text") or first["answer"]


def _record_by_hand(page, key: str, reason: str, verdict: str = "Passed") -> None:
    row = page.get_by_test_id(f"item-{key}")
    row.get_by_label(re.compile("Reviewer's result")).fill(reason)
    row.get_by_role("button", name=verdict, exact=True).click()
    row = page.get_by_test_id(f"item-{key}")
    expect(row.get_by_test_id(f"by-hand-{key}")).to_be_visible()
    expect(row.get_by_test_id(f"manual-{key}")).to_contain_text(reason)


def test_review_after_each_kind_of_check_result(web, personas, second_reviewer):  # noqa: F811
    version = make_version(personas.project, personas.ml_engineer, name="shape-lm")
    review = services.review_open(
        actor=personas.ml_engineer, version=version, template=seed_templates()
    )
    w = web()
    w.login(personas.ml_engineer, next_path=f"/reviews/{review.pk}/")
    page = w.page

    # each kind of automated result, one after the other, the page opened after each
    for kind, result in AUTOMATED.items():
        job = JobFactory(
            project=personas.project,
            kind="review.check",
            state=JobState.SUCCEEDED,
            requested_by=personas.ml_engineer,
            result={"check": result},
        )
        put_result(_item(review, kind), result, passed=result["passed"], job=job)
        w.goto(f"/reviews/{review.pk}/")
        row = page.get_by_test_id(f"item-{kind}")
        expect(row.get_by_test_id(f"failed-{kind}")).to_be_visible()
        expect(row.get_by_test_id(f"result-{kind}")).to_contain_text(result["metric"])
        expect(row.get_by_test_id(f"result-{kind}")).to_contain_text(f"job {job.pk}")
        row.get_by_text("Method, limits and examples").click()
        expect(row.get_by_test_id(f"result-samples-{kind}")).to_contain_text(_sample_text(result))
        if kind == "bias":
            expect(row.get_by_test_id("result-bias-bias")).to_contain_text("woman: 0.25")
        row.scroll_into_view_if_needed()
        w.shot(f"review-shape-{kind}")
        w.assert_clean()

    # a re-run of the toxicity check, watched while it runs, fails: the page says so
    rerun = JobFactory(
        project=personas.project,
        kind="review.check",
        state=JobState.RUNNING,
        progress=30,
        progress_message="toxicity: 6/20 generations",
        requested_by=personas.ml_engineer,
    )
    ReviewItem.objects.filter(pk=_item(review, "toxicity").pk).update(check_job=rerun)
    w.goto(f"/reviews/{review.pk}/")
    row = page.get_by_test_id("item-toxicity")
    expect(row.get_by_test_id("running-toxicity")).to_contain_text("6/20 generations")
    expect(row.get_by_test_id("run-check-toxicity")).to_have_count(0)
    job_transition(
        job_id=rerun.pk, to=JobState.FAILED, reason="model.safetensors does not match its sha256"
    )
    expect(row.get_by_test_id("check-failed-toxicity")).to_contain_text(
        "does not match its sha256"
    )  # the page polled while the check ran, and stopped
    expect(row.get_by_test_id("failed-toxicity")).to_be_visible()  # the earlier result
    expect(row.get_by_test_id("run-check-toxicity")).to_be_visible()  # may run it again
    row.scroll_into_view_if_needed()
    w.shot("review-shape-check-job-failed")
    w.assert_clean()

    # evidence and submit, in the browser
    for key in ("licences", "bias"):
        row = page.get_by_test_id(f"item-{key}")
        row.get_by_label(re.compile("Evidence for")).fill(f"{key}: see the data sheet.")
        row.get_by_role("button", name="Save evidence").click()
        expect(page.get_by_test_id(f"item-{key}")).to_contain_text("see the data sheet")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("review-state").first).to_have_text(re.compile("submitted", re.I))
    w.assert_clean()

    # reviewer 1: approval refused while checks have failed; records each by hand
    r = web()
    r.login(personas.reviewer, next_path=f"/reviews/{review.pk}/")
    rp = r.page
    rp.get_by_label("Comment").fill("Looks fine.")
    rp.get_by_role("button", name="Approve").click()
    expect(rp.get_by_test_id("panel-messages")).to_contain_text("Failed checks: Bias detection")
    for kind in AUTOMATED:
        _record_by_hand(rp, kind, REASONS[kind])
        row = rp.get_by_test_id(f"item-{kind}")
        expect(row.get_by_test_id(f"passed-{kind}")).to_be_visible()
        expect(row.get_by_test_id(f"overridden-by-hand-{kind}")).to_contain_text("failed")
        expect(row.get_by_test_id(f"overridden-{kind}")).to_contain_text(AUTOMATED[kind]["metric"])
    row = rp.get_by_test_id("item-factcheck")
    expect(row.get_by_test_id("manual-factcheck")).to_contain_text(personas.reviewer.username)
    row.scroll_into_view_if_needed()
    r.shot("review-shape-manual")
    # a result by hand needs its reason
    row.get_by_role("button", name="Failed", exact=True).click()
    expect(rp.locator(".messages")).to_contain_text("give the reason")
    expect(rp.get_by_test_id("passed-factcheck")).to_be_visible()
    rp.get_by_label("Comment").fill("Checks reviewed by hand.")
    rp.get_by_role("button", name="Approve").click()
    expect(rp.locator("#review-panel")).to_contain_text("1 of 2 approvals")
    r.assert_clean()

    # reviewer 2 approves: the review and the version are approved
    s = web()
    s.login(second_reviewer, next_path=f"/reviews/{review.pk}/")
    s.page.get_by_label("Comment").fill("Second pair of eyes.")
    s.page.get_by_role("button", name="Approve").click()
    expect(s.page.get_by_test_id("review-state").first).to_have_text(re.compile("approved", re.I))
    s.assert_clean()
    assert Review.objects.get(pk=review.pk).state == ReviewState.APPROVED

    # the model card names every waived check: the failed value, who, when and why
    w.goto(f"/models/{version.pk}/card/")
    checklist = page.get_by_test_id("card-checklist")
    for kind, reason in REASONS.items():
        row = checklist.get_by_test_id(f"card-check-{kind}")
        expect(row).to_contain_text("failed")
        expect(row).to_contain_text(personas.reviewer.username)
        expect(row).to_contain_text(reason)
    expect(checklist.get_by_test_id("card-check-factcheck")).to_contain_text("accuracy: 0.5")
    w.shot("review-shape-card")
    w.assert_clean()


def test_a_real_bias_check_then_a_result_by_hand(web, personas, second_reviewer, run):  # noqa: F811
    """The bias probe always keeps example generations (prompt and text, no answer):
    the shape that made the page a 500. Run for real on a random-weight model."""
    version = register(run, personas.ml_engineer, name="bias-lm")
    review = services.review_open(
        actor=personas.ml_engineer, version=version, template=seed_templates()
    )
    w = web()
    w.login(personas.ml_engineer, next_path=f"/reviews/{review.pk}/")
    page = w.page
    row = page.get_by_test_id("item-bias")
    row.get_by_label("Generations per prompt").fill("1")
    row.get_by_role("button", name="Run Bias check").click()
    expect(page.get_by_test_id("running-bias")).to_be_visible()
    job = run_job(_item(review, "bias").check_job)
    assert job.state == "succeeded", job.error
    item = _item(review, "bias")
    assert item.check_result["samples"] and "answer" not in item.check_result["samples"][0]
    row = page.get_by_test_id("item-bias")  # the page polled the result in
    expect(row.get_by_test_id("result-bias")).to_contain_text("demographic parity difference")
    row.get_by_text("Method, limits and examples").click()
    expect(row.get_by_test_id("result-bias-bias")).to_contain_text("gender")
    expect(row.get_by_test_id("result-samples-bias")).to_contain_text(
        item.check_result["samples"][0]["prompt"]
    )
    row.scroll_into_view_if_needed()
    w.shot("review-shape-real-bias")
    w.assert_clean()

    for other in review.items.exclude(key="bias"):
        services.review_item_update(actor=personas.ml_engineer, item=other, text="see sheet")
    page.reload()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("review-state").first).to_have_text(re.compile("submitted", re.I))

    r = web()
    r.login(personas.reviewer, next_path=f"/reviews/{review.pk}/")
    _record_by_hand(r.page, "bias", "Reviewed on our own paired set; gap 0.02.")
    item.refresh_from_db()
    assert item.passed is True and item.check_result["overrides"]["kind"] == "bias"
    was = "failed" if item.check_result["overrides"]["passed"] is False else "passed"
    expect(r.page.get_by_test_id("overridden-by-hand-bias")).to_contain_text(was)
    r.assert_clean()
