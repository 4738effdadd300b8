"""Review pages: the list (pending for me, mine), a review's page (full and htmx
partial), the model page's review panel, and the page actions."""

from __future__ import annotations

import pytest
from django.test import Client

from console.governance.models import Review, ReviewState
from console.registry.models import Status

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_nav_has_a_live_reviews_link(personas):
    body = browser(personas.viewer).get("/reviews/").content.decode()
    assert 'href="/reviews/"' in body


def test_list_shows_pending_for_reviewers_and_mine_for_submitters(personas, submitted):
    body = browser(personas.reviewer).get("/reviews/").content.decode()
    assert "Waiting for my sign-off" in body and f"Review {submitted.pk}" in body
    mine = browser(personas.ml_engineer).get("/reviews/").content.decode()
    assert "Waiting for my sign-off" not in mine and f"/reviews/{submitted.pk}/" in mine
    assert (
        f"Review {submitted.pk}" not in browser(personas.stranger).get("/reviews/").content.decode()
    )


def test_detail_full_and_partial(personas, submitted):
    client = browser(personas.reviewer)
    full = client.get(f"/reviews/{submitted.pk}/")
    assert full.status_code == 200
    body = full.content.decode()
    assert "<html" in body and "Approve" in body and "Evidence for bias." in body
    partial = client.get(f"/reviews/{submitted.pk}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert (
        "<html" not in partial.content.decode() and 'id="review-panel"' in partial.content.decode()
    )
    assert browser(personas.stranger).get(f"/reviews/{submitted.pk}/").status_code == 404


def test_model_page_request_review_then_evidence_submit_decide_promote(
    personas, version, template, second_reviewer
):
    ml = browser(personas.ml_engineer)
    page = ml.get(f"/models/{version.pk}/").content.decode()
    assert "Request review" in page
    opened = ml.post(f"/reviews/models/{version.pk}/open/")
    review = Review.objects.get(version=version)
    assert opened.status_code == 302 and opened["Location"] == f"/reviews/{review.pk}/"
    for item in review.items.all():
        ml.post(f"/reviews/{review.pk}/items/{item.pk}/", {"evidence_text": "ok"})
    ml.post(f"/reviews/{review.pk}/submit/")
    review.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED
    # htmx approval returns the panel
    r = browser(personas.reviewer).post(
        f"/reviews/{review.pk}/approve/", {"comment": ""}, HTTP_HX_REQUEST="true"
    )
    assert r.status_code == 200 and 'id="review-panel"' in r.content.decode()
    browser(second_reviewer).post(f"/reviews/{review.pk}/approve/")
    review.refresh_from_db()
    assert review.state == ReviewState.APPROVED
    page = ml.get(f"/models/{version.pk}/").content.decode()
    assert "Promote to production" in page
    ml.post(f"/reviews/models/{version.pk}/promote/")
    version.refresh_from_db()
    assert version.status == Status.PRODUCTION


def test_promote_refused_unless_approved(personas, submitted):
    r = browser(personas.ml_engineer).post(
        f"/reviews/models/{submitted.version_id}/promote/", follow=True
    )
    assert "not approved" in r.content.decode()
    submitted.version.refresh_from_db()
    assert submitted.version.status == Status.IN_REVIEW


def test_csrf_is_required(personas, submitted):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.reviewer)
    assert client.post(f"/reviews/{submitted.pk}/approve/").status_code == 403
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.SUBMITTED


def test_evidence_file_downloads_as_attachment_for_members_only(
    personas, version, template, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from console.governance import services

    settings.FORGE_DATA_DIR = tmp_path
    review = services.review_open(actor=personas.ml_engineer, version=version, template=template)
    item = review.items.get(key="licences")
    services.review_item_update(
        actor=personas.ml_engineer,
        item=item,
        file=SimpleUploadedFile("lic.html", b"<script>alert(1)</script>"),
    )
    url = f"/reviews/{review.pk}/items/{item.pk}/file"
    response = browser(personas.viewer).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    assert browser(personas.stranger).get(url).status_code == 404


@pytest.mark.parametrize(
    "role,status",
    [
        ("viewer", 403),
        ("data_engineer", 403),
        ("ml_engineer", 403),
        ("reviewer", 302),
        ("admin", 302),
        ("outsider", 403),
    ],
)
def test_approve_page_permission_matrix(personas, submitted, role, status):
    """Who may press Approve (a 302 back to the review); the others get a 403 page."""
    user = personas.by_role()[role]
    response = browser(user).post(f"/reviews/{submitted.pk}/approve/")
    assert response.status_code == status
    submitted.refresh_from_db()
    assert submitted.decisions.count() == (1 if status == 302 else 0)


def test_round_two_is_pending_again_for_the_reviewer_who_asked_for_changes(personas, submitted):
    from console.governance import selectors, services

    services.review_request_changes(actor=personas.reviewer, review=submitted, comment="more")
    assert not selectors.reviews_pending_for(user=personas.reviewer).exists()
    services.review_submit(actor=personas.ml_engineer, review=submitted)
    assert list(selectors.reviews_pending_for(user=personas.reviewer)) == [submitted]


def test_reviewer_records_a_manual_check_on_the_page(personas, submitted):
    item = submitted.items.get(key="toxicity")
    url = f"/reviews/{submitted.pk}/items/{item.pk}/check/"
    assert "Reviewer's result for Toxicity filtering" in (
        browser(personas.reviewer).get(f"/reviews/{submitted.pk}/").content.decode()
    )
    r = browser(personas.reviewer).post(url, {"passed": "yes", "note": "0.2% toxic"})
    assert r.status_code == 302
    item.refresh_from_db()
    assert item.passed is True and item.check_result["note"] == "0.2% toxic"
    assert browser(personas.ml_engineer).post(url, {"passed": "no"}).status_code == 403
    item.refresh_from_db()
    assert item.passed is True
