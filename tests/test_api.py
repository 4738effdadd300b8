"""API behaviour on bad input: 400 with field errors, JSON 404s, 401/403, CSRF, never a 500."""

import re

import pytest
from django.test import Client

from console.accounts.services import api_token_create, api_token_revoke
from console.audit.models import AuditEvent
from console.jobs.models import Job
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


def test_submit_and_read_back(personas, api):
    client = api(personas.ml_engineer)
    response = client.post(
        "/api/v1/jobs/",
        {"project": "alpha", "kind": "demo.count", "params": {"steps": 3, "step_seconds": 0.1}},
        format="json",
    )
    assert response.status_code == 201
    job = response.json()
    assert (
        job["state"] == "queued" and job["spec"]["steps"] == 3 and job["requested_by"] == "milo_ml"
    )
    detail = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert detail["id"] == job["id"] and "log_tail" in detail
    listed = client.get("/api/v1/jobs/?state=queued&project=alpha").json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "project"),
        ({"project": "alpha"}, "kind"),
        ({"project": "alpha", "kind": "nope"}, "kind"),
        ({"project": "alpha", "kind": "demo.count", "params": {"steps": "x"}}, "params"),
        ({"project": "alpha", "kind": "demo.count", "params": [1, 2]}, "params"),
        ({"project": "alpha", "kind": "demo.count", "not_before": "yesterday"}, "not_before"),
        ({"project": "nope", "kind": "demo.count"}, "project"),
    ],
)
def test_bad_payloads_get_field_errors_and_write_nothing(personas, api, body, field):
    response = api(personas.ml_engineer).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"steps": 0}, {"steps": ["must be between 1 and 100000"]}),
        ({"steps": 2, "x": 1}, {"x": ["unknown field"]}),
        ({"step_seconds": "fast"}, {"step_seconds": ["must be float"]}),
    ],
)
def test_field_errors_name_the_bad_param(personas, api, params, errors):
    response = api(personas.ml_engineer).post(
        "/api/v1/jobs/", {"project": "alpha", "kind": "demo.count", "params": params}, format="json"
    )
    assert response.json()["params"] == errors


def test_malformed_json_is_400(personas, api):
    response = api(personas.ml_engineer).post(
        "/api/v1/jobs/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/api/v2/jobs/", "/api/", "/api/v1/jobs/abc/"]
)
def test_unknown_api_routes_are_json_404(personas, api, path):
    response = api(personas.viewer).get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_unknown_job_is_404_json(personas, api):
    response = api(personas.viewer).get("/api/v1/jobs/999999/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_illegal_action_is_409(personas, api):
    job = JobFactory(project=personas.project, state="succeeded")
    response = api(personas.ml_engineer).post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_revoked_and_bad_tokens_are_401(personas, api):
    issued = api_token_create(user=personas.viewer, name="t")
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    assert client.get("/api/v1/me/").status_code == 200
    api_token_revoke(token=issued.token, actor=personas.viewer)
    assert client.get("/api/v1/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token")
    assert client.get("/api/v1/me/").status_code == 401


def test_tokens_are_stored_hashed(personas):
    issued = api_token_create(user=personas.viewer, name="t")
    assert issued.key not in issued.token.key_hash and len(issued.token.key_hash) == 64


def test_token_brute_force_locks_the_guesser_not_a_valid_token(personas, api, settings):
    """More in tests/test_lockout.py (issue 14: the old lock here took valid tokens too)."""
    settings.FORGE_LOCKOUT_ADDRESS_FAILURES = 3
    good = api_token_create(user=personas.viewer, name="t").key
    client = api()
    for i in range(4):
        client.credentials(HTTP_AUTHORIZATION=f"Token fg_guess{i}")
        assert client.get("/api/v1/me/").status_code == 401
    assert "Too many" in client.get("/api/v1/me/").json()["detail"]
    assert AuditEvent.objects.filter(action="auth.token_lockout").exists()
    client.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    assert client.get("/api/v1/me/").status_code == 200


def test_session_post_without_csrf_is_403(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.ml_engineer)
    response = client.post(
        "/api/v1/jobs/", {"project": "alpha", "kind": "demo.count"}, content_type="application/json"
    )
    assert response.status_code == 403
    job = JobFactory(project=personas.project)
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.state == "queued" and not Job.objects.exclude(pk=job.pk).exists()


def test_me_reports_roles_and_permissions(personas, api):
    data = api(personas.reviewer).get("/api/v1/me/").json()
    assert data["roles"] == ["reviewer"] and "audit.view" in data["permissions"]


def test_audit_api_filters(personas, api):
    JobFactory(project=personas.project)
    api(personas.ml_engineer).post(
        "/api/v1/jobs/", {"project": "alpha", "kind": "demo.count"}, format="json"
    )
    client = api(personas.reviewer)
    events = client.get("/api/v1/audit/?action=job.submit&actor=milo_ml").json()["results"]
    assert len(events) == 1 and events[0]["action"] == "job.submit" and events[0]["request_id"]
    assert client.get("/api/v1/audit/?since=not-a-date").status_code == 400


def test_request_id_is_kept_or_minted(personas, api):
    client = api(personas.viewer)
    response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="abcdef123456")
    assert response["X-Request-ID"] == "abcdef123456"
    response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="<script>")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_schema_and_docs_are_served_without_a_cdn(personas):
    client = Client()
    client.force_login(personas.viewer)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/jobs/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not src.startswith(("http://", "https://", "//")), src


def test_pages_reference_no_external_hosts(personas):
    client = Client()
    client.force_login(personas.admin)
    for path in ["/", "/jobs/", "/jobs/new/", "/audit/", "/account/tokens/", "/login/"]:
        html = client.get(path).content.decode()
        for src in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not src.startswith(("http://", "https://", "//")), (path, src)
