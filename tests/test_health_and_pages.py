import pytest
from django.test import Client

from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker():
    response = Client().get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok" and data["database"]["ok"] and data["broker"]["ok"]
    assert data["broker"]["transport"] in {"filesystem", "redis"}


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    """A real console process whose database does not answer (nothing listens on its
    port): the detector itself finds it, and /healthz says so with a 503."""
    import json
    import sys
    import urllib.error
    import urllib.request

    from tests.processes import ManagedProcess, free_port, process_env, wait_for

    port = free_port()
    server = ManagedProcess(
        [
            sys.executable, "-m", "gunicorn", "console.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1",
        ],
        tmp_path / "console.log",
        env=process_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/forge"),
    ).start()  # fmt: skip

    def answer() -> tuple[int, dict] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)
        except OSError:
            assert server.alive(), server.log()
            return None

    try:
        status, body = wait_for(answer, timeout=60, what="the console to answer")
    finally:
        server.stop()
    assert status == 503 and body["status"] == "degraded", body
    assert body["database"]["ok"] is False and body["database"]["error"] == "OperationalError"
    assert body["broker"]["ok"] is True


def test_job_detail_full_page_and_htmx_partial(personas):
    job = JobFactory(
        project=personas.project, state="running", progress=40, progress_message="step 4"
    )
    client = Client()
    client.force_login(personas.viewer)
    full = client.get(f"/jobs/{job.pk}/")
    assert b"<html" in full.content and b"step 4" in full.content
    partial = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and 'id="job-status"' in body
    assert 'hx-trigger="load delay:2s"' in body  # keeps polling while active


def test_job_detail_stops_polling_when_finished(personas):
    job = JobFactory(project=personas.project, state="succeeded", progress=100)
    client = Client()
    client.force_login(personas.viewer)
    body = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="job-status"' in body and "hx-trigger" not in body


def test_job_list_partial_and_filters(personas):
    JobFactory(project=personas.project, state="failed", name="broken one")
    JobFactory(project=personas.project, state="succeeded", name="good one")
    client = Client()
    client.force_login(personas.viewer)
    partial = client.get("/jobs/?state=failed", HTTP_HX_REQUEST="true").content.decode()
    assert "broken one" in partial and "good one" not in partial and "<html" not in partial


def test_job_form_submits_and_shows_field_errors(personas):
    client = Client()
    client.force_login(personas.ml_engineer)
    bad = client.post(
        "/jobs/new/",
        {
            "kind": "demo.count",
            "project": "alpha",
            "steps": "abc",
            "step_seconds": "0.1",
            "fail_at_step": "",
        },
    )
    assert bad.status_code == 400 and b"must be int" in bad.content
    good = client.post(
        "/jobs/new/",
        {
            "kind": "demo.count",
            "project": "alpha",
            "steps": "3",
            "step_seconds": "0.1",
            "fail_at_step": "",
        },
    )
    assert good.status_code == 302 and good["Location"].startswith("/jobs/")


def test_dashboard_counts(personas):
    JobFactory(project=personas.project, state="running")
    JobFactory(project=personas.other_project, state="running")  # not visible to alpha members
    client = Client()
    client.force_login(personas.viewer)
    response = client.get("/")
    assert response.context["active"] == 1
    assert b"Alpha team" in response.content and b"Beta team" not in response.content


def test_html_404_page(personas):
    client = Client()
    client.force_login(personas.viewer)
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and b"Not found" in response.content


@pytest.mark.django_db
def test_nul_in_a_query_string_is_a_400_not_a_database_error(client, api, personas):
    response = api(personas.ml_engineer).get("/api/v1/dataset-versions/", {"project": "a\x00b"})
    # PostgreSQL refuses NUL in text (the API's 400); SQLite finds nothing (200)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "NUL" in response.json()["detail"]
    assert api().get("/api/v1/dataset-versions/", {"project": "\x00"}).status_code == 401
    client.force_login(personas.viewer)
    assert client.get("/jobs/", {"state": "\x00"}).status_code == 400
