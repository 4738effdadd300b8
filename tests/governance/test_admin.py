"""The admin as the sign-off panel: reviewers see pending reviews with their evidence,
and approve, request changes or reject through admin actions (a comment page first)."""

from __future__ import annotations

import pytest
from django.test import Client

from console.governance.models import ChecklistTemplate, ReviewState
from console.registry.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_reviewer(personas):
    personas.reviewer.is_staff = True
    personas.reviewer.save()
    return personas.reviewer


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_reviewers_see_pending_reviews_and_evidence(staff_reviewer, submitted):
    client = browser(staff_reviewer)
    listing = client.get("/admin/governance/review/?state__exact=submitted")
    assert listing.status_code == 200
    assert f"court-lm v{submitted.version.number}" in listing.content.decode()
    page = client.get(f"/admin/governance/review/{submitted.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Evidence for bias." in body and "Bias detection" in body
    assert 'name="state"' not in body  # read-only


def test_approve_through_the_admin_with_two_reviewers(
    personas, staff_reviewer, second_reviewer, submitted
):
    for user in (staff_reviewer, second_reviewer):
        client = browser(user)
        confirm = client.post(
            "/admin/governance/review/",
            {"action": "approve_reviews", "_selected_action": [submitted.pk]},
        )
        assert confirm.status_code == 200 and "confirm" in confirm.content.decode().lower()
        done = client.post(
            "/admin/governance/review/",
            {
                "action": "approve_reviews",
                "_selected_action": [submitted.pk],
                "apply": "1",
                "comment": "signed",
            },
            follow=True,
        )
        assert done.status_code == 200
    submitted.refresh_from_db()
    submitted.version.refresh_from_db()
    assert submitted.state == ReviewState.APPROVED
    assert submitted.version.status == Status.APPROVED


def test_reject_needs_a_comment(staff_reviewer, submitted):
    client = browser(staff_reviewer)
    again = client.post(
        "/admin/governance/review/",
        {"action": "reject_reviews", "_selected_action": [submitted.pk], "apply": "1"},
    )
    assert "comment is required" in again.content.decode()
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.SUBMITTED
    client.post(
        "/admin/governance/review/",
        {
            "action": "reject_reviews",
            "_selected_action": [submitted.pk],
            "apply": "1",
            "comment": "PII in outputs",
        },
    )
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.REJECTED


def test_non_reviewer_staff_sees_no_reviews(personas, submitted):
    personas.ml_engineer.is_staff = True
    personas.ml_engineer.save()
    assert browser(personas.ml_engineer).get("/admin/governance/review/").status_code == 403


def test_other_teams_reviews_are_absent_from_the_admin(personas, submitted):
    personas.stranger.groups.add(*personas.reviewer.groups.all())
    personas.stranger.is_staff = True
    personas.stranger.save()
    client = browser(personas.stranger)
    assert (
        f"court-lm v{submitted.version.number}"
        not in client.get("/admin/governance/review/").content.decode()
    )
    assert client.get(f"/admin/governance/review/{submitted.pk}/change/").status_code in (302, 404)


def test_superuser_edits_templates_with_inline_items(db):
    from tests.factories import UserFactory

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = browser(root)
    assert client.get("/admin/governance/checklisttemplate/add/").status_code == 200
    response = client.post(
        "/admin/governance/checklisttemplate/add/",
        {
            "name": "Small release",
            "description": "",
            "required_approvers": "3",
            "active": "on",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-order": "0",
            "items-0-key": "bias",
            "items-0-title": "Bias",
            "items-0-guidance": "",
            "items-0-evidence_kinds": '["text", "check"]',
            "items-0-check_kind": "bias",
            "items-0-threshold": "0.1",
            "items-0-required": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = ChecklistTemplate.objects.get(name="Small release")
    assert template.required_approvers == 3
    assert list(template.items.values_list("evidence_kinds", flat=True)) == [["text", "check"]]
