"""RELIABILITY S1: nobody signs off their own model version, by any path: the service,
the page, the API, an admin action, an admin bulk action, the admin change form and an
API PATCH of the state. Each answers 403 (or refuses with a message in the admin's
bulk action), changes nothing, and leaves an audit event."""

from __future__ import annotations

import pytest
from django.test import Client

from console.audit.models import AuditEvent
from console.core.errors import Forbidden
from console.governance import services
from console.governance.models import Decision, ReviewState
from console.registry.models import Status
from tests.governance.conftest import fill_evidence, make_version

pytestmark = pytest.mark.django_db

SELF = "review.self_approval_refused"


def refused(review, action: str = SELF) -> None:
    review.refresh_from_db()
    review.version.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED
    assert review.version.status == Status.IN_REVIEW
    assert not Decision.objects.filter(review=review).exists()
    assert AuditEvent.objects.filter(action=action, object_id=str(review.pk)).count() == 1


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_service(lead, lead_review):
    with pytest.raises(Forbidden, match="Four-eyes"):
        services.review_approve(actor=lead, review=lead_review)
    refused(lead_review)


@pytest.mark.parametrize("service", ["review_reject", "review_request_changes", "review_start"])
def test_no_other_decision_on_ones_own_either(lead, lead_review, service):
    kwargs = {"comment": "mine"} if service != "review_start" else {}
    with pytest.raises(Forbidden):
        getattr(services, service)(actor=lead, review=lead_review, **kwargs)
    refused(lead_review)


def test_the_versions_creator_may_not_approve_someone_elses_submission(personas, lead, template):
    version = make_version(personas.project, lead, name="made-by-lead")
    review = services.review_open(actor=personas.admin, version=version, template=template)
    fill_evidence(review, personas.admin)
    review = services.review_submit(actor=personas.admin, review=review)
    with pytest.raises(Forbidden):
        services.review_approve(actor=lead, review=review)
    refused(review)


def test_page_post(lead, lead_review):
    response = browser(lead).post(f"/reviews/{lead_review.pk}/approve/", {"comment": "ok"})
    assert response.status_code == 403
    refused(lead_review)


def test_api(api, lead, lead_review):
    response = api(lead).post(f"/api/v1/reviews/{lead_review.pk}/approve/", {}, format="json")
    assert response.status_code == 403, response.content
    refused(lead_review)


def test_api_patch_of_the_state(api, lead, personas, lead_review):
    for user in (lead, personas.reviewer, personas.admin):
        response = api(user).patch(
            f"/api/v1/reviews/{lead_review.pk}/",
            {"state": "approved", "required_approvers": 0},
            format="json",
        )
        assert response.status_code == 403, response.content
    lead_review.refresh_from_db()
    assert lead_review.state == ReviewState.SUBMITTED and lead_review.required_approvers == 2
    events = AuditEvent.objects.filter(
        action="review.tamper_refused", object_id=str(lead_review.pk)
    )
    assert events.count() == 3
    assert events.first().after["fields"] == ["required_approvers", "state"]


def test_admin_action(lead, lead_review):
    response = browser(lead).post(
        "/admin/governance/review/",
        {"action": "approve_reviews", "_selected_action": [lead_review.pk], "apply": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert "refused" in response.content.decode()
    refused(lead_review)


def test_admin_bulk_action_over_several_including_ones_own(personas, lead, lead_review, submitted):
    response = browser(lead).post(
        "/admin/governance/review/",
        {
            "action": "approve_reviews",
            "_selected_action": [lead_review.pk, submitted.pk],
            "apply": "1",
            "comment": "bulk",
        },
        follow=True,
    )
    body = response.content.decode()
    assert f"Review {lead_review.pk}: refused" in body
    refused(lead_review)
    # the other review got the lead's approval (1 of 2), nothing more
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.IN_REVIEW
    assert list(Decision.objects.filter(review=submitted).values_list("reviewer", flat=True)) == [
        lead.pk
    ]


def test_admin_change_form_post_changes_nothing(personas, second_reviewer, lead, lead_review):
    for user in (lead, second_reviewer):
        response = browser(user).post(
            f"/admin/governance/review/{lead_review.pk}/change/",
            {"state": "approved", "required_approvers": "0", "_save": "Save"},
        )
        assert response.status_code == 403
    lead_review.refresh_from_db()
    assert lead_review.state == ReviewState.SUBMITTED and lead_review.required_approvers == 2
    events = AuditEvent.objects.filter(
        action="review.tamper_refused", object_id=str(lead_review.pk)
    )
    assert events.count() == 2
    assert "state" in events.first().after["fields"]


def test_approval_needs_distinct_reviewers(personas, submitted):
    services.review_approve(actor=personas.reviewer, review=submitted)
    with pytest.raises(Exception, match="already decided"):
        services.review_approve(actor=personas.reviewer, review=submitted)
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.IN_REVIEW
