"""Sign-off after automated checks, in the browser: the ML engineer runs the toxicity
check and the fact check (uploading a question/answer set) on a real registered model
version and sees their results; reviewers see the failed fact check in /admin/, where
approval is refused until a reviewer records a result with the reason; then two
reviewers approve through the admin action and the version becomes approved, with its
model card and deployment bundle downloadable. The check jobs run in this process
(``run_job``), through the jobs core's real path."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.governance import services
from console.governance.models import Review, ReviewItem, ReviewState
from console.registry.models import Status
from tests.data.helpers import run_job
from tests.governance.conftest import fill_evidence, second_reviewer, seed_templates  # noqa: F401
from tests.registry.conftest import dirs, random_hf, register, run  # noqa: F401
from tests.train.conftest import tiny_corpus  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _run_check(item_key: str, review: Review) -> None:
    item = ReviewItem.objects.select_related("check_job").get(review=review, key=item_key)
    job = run_job(item.check_job)
    assert job.state == "succeeded", job.error


def _admin_action(w, review: Review, action: str, comment: str = "") -> None:
    page = w.page
    w.goto("/admin/governance/review/")
    page.locator(f"input[name=_selected_action][value='{review.pk}']").check()
    page.locator("select[name=action]").select_option(action)
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_test_id(f"checks-{review.pk}")).to_be_visible()
    if comment:
        page.get_by_label(re.compile("Comment")).fill(comment)
    page.locator("input[type=submit]").click()


def test_checks_then_admin_sign_off(web, personas, second_reviewer, run, tmp_path):  # noqa: F811
    personas.reviewer.is_staff = True
    personas.reviewer.save(update_fields=["is_staff"])
    version = register(run, personas.ml_engineer, name="court-lm")
    review = services.review_open(
        actor=personas.ml_engineer, version=version, template=seed_templates()
    )
    w = web()
    w.login(personas.ml_engineer, next_path=f"/reviews/{review.pk}/")
    page = w.page
    tox = page.get_by_test_id("item-toxicity")
    tox.get_by_label("Generations per prompt").fill("1")
    tox.get_by_role("button", name=re.compile("Run Toxicity check")).click()
    expect(page.get_by_test_id("running-toxicity")).to_be_visible()
    _run_check("toxicity", review)  # the page polls while a check runs
    expect(page.get_by_test_id("result-toxicity")).to_contain_text("share of generations")
    expect(page.get_by_test_id("passed-toxicity")).to_be_visible()

    qa = tmp_path / "reference.csv"
    qa.write_text("question,answer\nWho wrote Hamlet?,William Shakespeare\n2+2?,4\n")
    fact = page.get_by_test_id("item-factcheck")
    fact.get_by_label(re.compile("Question/answer set")).set_input_files(str(qa))
    fact.get_by_role("button", name=re.compile("Run fact check check")).click()
    expect(page.get_by_test_id("running-factcheck")).to_be_visible()
    _run_check("factcheck", review)
    expect(page.get_by_test_id("failed-factcheck")).to_be_visible()
    expect(page.get_by_test_id("result-factcheck")).to_contain_text("accuracy")
    w.shot("review-checks")
    w.assert_clean()

    fill_evidence(review, personas.ml_engineer)
    services.review_submit(actor=personas.ml_engineer, review=review)

    # reviewer 1 in the admin panel: sees the failed check; approval is refused
    a = web()
    a.login(personas.reviewer, next_path="/admin/")
    _admin_action(a, review, "approve_reviews")
    expect(a.page.locator(".messagelist")).to_contain_text("Failed checks: Fact-checking")
    a.goto(f"/admin/governance/review/{review.pk}/change/")
    expect(a.page.locator("body")).to_contain_text("FAILED: accuracy")
    a.shot("admin-review-failed-check")

    # reviewer 2 records a result with the reason (the model is a random-weight demo)
    b = web()
    b.login(second_reviewer, next_path=f"/reviews/{review.pk}/")
    row = b.page.get_by_test_id("item-factcheck")
    row.get_by_label(re.compile("Reviewer's result")).fill("Demo model; set re-run on v2.")
    row.get_by_role("button", name="Passed").click()
    expect(b.page.get_by_test_id("passed-factcheck")).to_be_visible()

    # both approve through the admin action: the review is approved, the version too
    _admin_action(a, review, "approve_reviews", "Checks reviewed.")
    expect(a.page.locator(".messagelist")).to_contain_text("approve recorded")
    b.goto("/admin/")
    _admin_action(b, review, "approve_reviews", "Second pair of eyes.")
    expect(b.page.locator(".messagelist")).to_contain_text("approve recorded")
    review.refresh_from_db()
    version.refresh_from_db()
    assert review.state == ReviewState.APPROVED and version.status == Status.APPROVED
    b.shot("admin-review-approved")

    w.goto(f"/models/{version.pk}/")
    with page.expect_download() as bundle:
        page.get_by_test_id("deployment-bundle").click()
    assert bundle.value.suggested_filename == f"forge-court-lm-v{version.number}-deployment.zip"
    page.get_by_test_id("model-card-link").click()
    expect(page.get_by_test_id("card-review")).to_contain_text("approved")
    with page.expect_download() as card:
        page.get_by_test_id("card-md").click()
    card.value.save_as(tmp_path / "card.md")
    text = (tmp_path / "card.md").read_text("utf-8")
    assert "Approved by:" in text and r"rex\_reviewer" in text
    for x in (w, a, b):
        x.assert_clean()
