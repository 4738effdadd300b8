"""Role x endpoint: every API endpoint and page answers each persona as the role table says."""

import pytest
from django.test import Client

from console.audit.models import AuditEvent
from tests.factories import PASSWORD, JobFactory

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "data_engineer", "ml_engineer", "reviewer", "admin", "outsider"]
EVERY_ROLE = set(ROLES) - {"outsider"}
SUBMITTERS = {"data_engineer", "ml_engineer", "admin"}
MANAGERS = {"data_engineer", "ml_engineer", "admin"}
AUDITORS = {"reviewer", "admin"}

# (method, path template, body, roles allowed, status when allowed)
API_MATRIX = [
    ("get", "/api/v1/me/", None, EVERY_ROLE, 200),
    ("get", "/api/v1/projects/", None, EVERY_ROLE, 200),
    ("get", "/api/v1/projects/alpha/", None, EVERY_ROLE, 200),
    ("get", "/api/v1/job-kinds/", None, EVERY_ROLE, 200),
    ("get", "/api/v1/jobs/", None, EVERY_ROLE, 200),
    ("get", "/api/v1/jobs/{job}/", None, EVERY_ROLE, 200),
    (
        "post",
        "/api/v1/jobs/",
        {"project": "alpha", "kind": "demo.count", "params": {"steps": 2}},
        SUBMITTERS,
        201,
    ),
    ("post", "/api/v1/jobs/{job}/cancel/", None, MANAGERS, 200),
    ("get", "/api/v1/tokens/", None, EVERY_ROLE, 200),
    ("post", "/api/v1/tokens/", {"name": "x"}, EVERY_ROLE, 201),
    ("get", "/api/v1/audit/", None, AUDITORS, 200),
    ("get", "/api/schema/", None, EVERY_ROLE, 200),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "allowed", "ok_status"), API_MATRIX)
def test_api_matrix(personas, api, role, method, path, body, allowed, ok_status):
    user = personas.by_role()[role]
    job = JobFactory(project=personas.project, requested_by=personas.admin)
    response = getattr(api(user), method)(path.format(job=job.pk), body, format="json")
    if role in allowed:
        assert response.status_code == ok_status, response.content
    else:
        assert response.status_code in (403, 404), response.content
        if response.status_code == 403:
            assert AuditEvent.objects.filter(action="access.denied", actor=user).exists()


@pytest.mark.parametrize(("method", "path", "body", "allowed", "ok_status"), API_MATRIX)
def test_api_without_credentials_is_401(personas, api, method, path, body, allowed, ok_status):
    job = JobFactory(project=personas.project)
    response = getattr(api(), method)(path.format(job=job.pk), body, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


PAGES = [
    ("/", EVERY_ROLE),
    ("/jobs/", EVERY_ROLE),
    ("/jobs/new/", SUBMITTERS),
    ("/jobs/{job}/", EVERY_ROLE),
    ("/audit/", AUDITORS),
    ("/account/tokens/", EVERY_ROLE),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "allowed"), PAGES)
def test_page_matrix(personas, role, path, allowed):
    client = Client()
    client.force_login(personas.by_role()[role])
    job = JobFactory(project=personas.project)
    response = client.get(path.format(job=job.pk))
    if role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code in (403, 404)


@pytest.mark.parametrize(("path", "allowed"), PAGES)
def test_pages_redirect_anonymous_to_login(personas, path, allowed):
    job = JobFactory(project=personas.project)
    response = Client().get(path.format(job=job.pk))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_admin_panel_only_for_staff(personas):
    client = Client()
    client.force_login(personas.ml_engineer)
    assert client.get("/admin/").status_code == 302
    client.login(username="admin_super", password=PASSWORD)


def test_other_teams_objects_are_invisible(personas, api):
    """S3: another team's job by id is a 404 in list, detail and actions, API and pages."""
    theirs = JobFactory(project=personas.other_project, requested_by=personas.stranger)
    mine = api(personas.ml_engineer)
    assert theirs.pk not in [j["id"] for j in mine.get("/api/v1/jobs/").json()["results"]]
    assert mine.get(f"/api/v1/jobs/{theirs.pk}/").status_code == 404
    assert mine.post(f"/api/v1/jobs/{theirs.pk}/cancel/").status_code == 404
    assert mine.get("/api/v1/projects/beta/").status_code == 404
    response = mine.post(
        "/api/v1/jobs/", {"project": "beta", "kind": "demo.count", "params": {}}, format="json"
    )
    assert response.status_code == 400 and "project" in response.json()
    client = Client()
    client.force_login(personas.ml_engineer)
    assert client.get(f"/jobs/{theirs.pk}/").status_code == 404
    assert client.post(f"/jobs/{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "queued"


def test_admin_sees_every_project(personas, api):
    theirs = JobFactory(project=personas.other_project)
    assert api(personas.admin).get(f"/api/v1/jobs/{theirs.pk}/").status_code == 200


def test_outsider_sees_nothing(personas, api):
    JobFactory(project=personas.project)
    response = api(personas.outsider).get("/api/v1/jobs/")
    assert response.status_code == 403
