"""Model sign-off in the browser: the ML engineer requests a review from the model page,
records the evidence and submits; two reviewers approve it (the submitter cannot); the
version becomes promotable and goes to production. Screenshots land in
test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.governance.models import Review, ReviewState
from console.registry.models import Status
from tests.governance.conftest import make_version, second_reviewer, seed_templates  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_submit_two_approvals_promote(web, personas, second_reviewer):  # noqa: F811
    seed_templates()
    version = make_version(personas.project, personas.ml_engineer)
    w = web()
    w.login(personas.ml_engineer, next_path=f"/models/{version.pk}/")
    page = w.page
    panel = page.get_by_test_id("review-panel")
    panel.get_by_role("button", name="Request review").click()
    expect(page).to_have_url(re.compile(r"/reviews/\d+/$"))
    review = Review.objects.get(version=version)
    for item in review.items.all():
        page.get_by_label(f"Evidence for {item.title}").fill(f"Evidence: {item.key} measured.")
        row = page.get_by_test_id(f"item-{item.key}")
        row.get_by_role("button", name="Save evidence").click()
        expect(page.get_by_test_id(f"item-{item.key}")).to_contain_text(f"{item.key} measured")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("review-state").first).to_have_text(re.compile("submitted", re.I))
    # the submitter sees no sign-off buttons
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    w.shot("review-submitted")
    w.assert_clean()

    for n, reviewer in enumerate((personas.reviewer, second_reviewer), start=1):
        r = web()
        r.login(reviewer, next_path="/reviews/")
        expect(r.page.get_by_test_id("pending")).to_contain_text(str(version))
        r.page.get_by_test_id("pending").get_by_role("link", name=f"Review {review.pk}").click()
        r.page.get_by_label("Comment").fill(f"Signed off by reviewer {n}.")
        r.page.get_by_role("button", name="Approve").click()
        expect(r.page.locator("#review-panel")).to_contain_text(f"{n} of 2 approvals")
        if n == 2:
            expect(r.page.get_by_test_id("review-state").first).to_have_text(
                re.compile("approved", re.I)
            )
            r.shot("review-approved")
        r.assert_clean()
    assert Review.objects.get(pk=review.pk).state == ReviewState.APPROVED

    page.goto(w.url(f"/models/{version.pk}/"))
    expect(panel.get_by_test_id("review-state")).to_have_text(re.compile("approved", re.I))
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Promote to production").click()
    expect(page.get_by_test_id("status")).to_have_text(re.compile("production", re.I))
    version.refresh_from_db()
    assert version.status == Status.PRODUCTION
    w.assert_clean()
