"""The governance API: open, evidence, submit, decisions, promote; another team's
review is absent (RELIABILITY S3)."""

from __future__ import annotations

import pytest

from console.governance.models import Review, ReviewState
from console.registry.models import Status
from tests.governance.conftest import make_version

pytestmark = pytest.mark.django_db


def test_the_flow_through_the_api(api, personas, version, template, second_reviewer):
    ml = api(personas.ml_engineer)
    opened = ml.post("/api/v1/reviews/", {"version": version.pk}, format="json")
    assert opened.status_code == 201, opened.content
    body = opened.json()
    rid = body["id"]
    assert body["state"] == "draft" and len(body["items"]) == 6
    early = ml.post(f"/api/v1/reviews/{rid}/submit/")
    assert early.status_code == 400 and "Evidence is missing" in early.json()["detail"]
    for item in body["items"]:
        r = ml.patch(
            f"/api/v1/reviews/{rid}/items/{item['id']}/",
            {"evidence_text": "done", "evidence_link": "https://example.org/report"},
            format="json",
        )
        assert r.status_code == 200, r.content
    bad = ml.patch(
        f"/api/v1/reviews/{rid}/items/{body['items'][0]['id']}/",
        {"evidence_link": "javascript:alert(1)"},
        format="json",
    )
    assert bad.status_code == 400
    assert ml.post(f"/api/v1/reviews/{rid}/submit/").json()["state"] == "submitted"
    assert ml.post(f"/api/v1/models/{version.pk}/promote/").status_code == 409
    assert ml.post(f"/api/v1/reviews/{rid}/approve/").status_code == 403  # no review cap

    r1 = api(personas.reviewer).post(f"/api/v1/reviews/{rid}/approve/", {"comment": "ok"})
    assert r1.status_code == 200 and r1.json()["state"] == "in_review"
    r2 = api(second_reviewer).post(f"/api/v1/reviews/{rid}/approve/", {}, format="json")
    assert r2.json()["state"] == "approved"
    assert [d["reviewer"] for d in r2.json()["decisions"]] == ["rita_reviewer", "rex_reviewer"]
    late = api(personas.admin).post(f"/api/v1/reviews/{rid}/reject/", {"comment": "no"})
    assert late.status_code == 409

    promoted = ml.post(f"/api/v1/models/{version.pk}/promote/")
    assert promoted.status_code == 200, promoted.content
    version.refresh_from_db()
    assert version.status == Status.PRODUCTION
    listed = api(personas.viewer).get("/api/v1/reviews/?state=approved").json()
    assert [r["id"] for r in listed["results"]] == [rid]


def test_reject_and_request_changes_need_a_comment(api, personas, submitted):
    client = api(personas.reviewer)
    assert client.post(f"/api/v1/reviews/{submitted.pk}/reject/", {}).status_code == 400
    r = client.post(f"/api/v1/reviews/{submitted.pk}/request-changes/", {"comment": "more"})
    assert r.status_code == 200 and r.json()["state"] == "changes_requested"


def test_another_teams_review_is_absent(api, personas, submitted):
    """RELIABILITY S3: by id, in the list, and for every action: 404."""
    stranger = api(personas.stranger)
    assert stranger.get("/api/v1/reviews/").json()["results"] == []
    item = submitted.items.first()
    for method, path in [
        ("get", f"/api/v1/reviews/{submitted.pk}/"),
        ("patch", f"/api/v1/reviews/{submitted.pk}/"),
        ("get", f"/api/v1/reviews/{submitted.pk}/items/{item.pk}/"),
        ("patch", f"/api/v1/reviews/{submitted.pk}/items/{item.pk}/"),
        ("post", f"/api/v1/reviews/{submitted.pk}/submit/"),
        ("post", f"/api/v1/models/{submitted.version_id}/promote/"),
    ]:
        assert getattr(stranger, method)(path, {}, format="json").status_code == 404, path
    # a reviewer of the other team (cap review, not a member of alpha)
    personas.stranger.groups.add(*personas.reviewer.groups.all())
    for action in ("approve", "reject", "request-changes"):
        r = api(personas.stranger).post(
            f"/api/v1/reviews/{submitted.pk}/{action}/", {"comment": "x"}, format="json"
        )
        assert r.status_code == 404
    # the stranger cannot open a review of alpha's version either
    r = stranger.post("/api/v1/reviews/", {"version": submitted.version_id}, format="json")
    assert r.status_code == 400
    assert Review.objects.get(pk=submitted.pk).state == ReviewState.SUBMITTED


def test_anonymous_and_outsider(api, personas, submitted):
    assert api().get("/api/v1/reviews/").status_code == 401
    assert api(personas.outsider).get(f"/api/v1/reviews/{submitted.pk}/").status_code == 403


def test_open_refused_for_a_non_draft(api, personas, submitted, template):
    other = make_version(personas.project, personas.ml_engineer)
    ml = api(personas.ml_engineer)
    assert ml.post("/api/v1/reviews/", {"version": other.pk}, format="json").status_code == 201
    again = ml.post("/api/v1/reviews/", {"version": submitted.version_id}, format="json")
    assert again.status_code == 409
