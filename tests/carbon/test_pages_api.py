"""Carbon-aware runs through the API, the pages and the CLI: the plan shown with the
expected savings, bad times refused with the field named, "run now", the Carbon page
and its forecast API, times shown in the user's zone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from console.jobs import services as jobs
from console.jobs.models import Job
from console.runs.models import Run
from tests.carbon.test_scheduling import trace  # noqa: F401 - fixture
from tests.runs.conftest import CPU_RUN, corpus, data_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _body(corpus, **extra):  # noqa: F811
    return {
        "corpus": corpus.pk, "preset": "tiny", "steps": 12, "gpus_per_node": 0,
        "zero_stage": 2, "grad_accum": 2, **extra,
    }  # fmt: skip


def test_api_carbon_aware_run_gets_a_plan(api, personas, corpus, trace):  # noqa: F811
    client = api(personas.ml_engineer)
    deadline = (timezone.now() + timedelta(hours=30)).isoformat()
    response = client.post(
        "/api/v1/runs/",
        _body(corpus, carbon_aware=True, deadline=deadline, expected_hours=1.0),
        format="json",
    )
    assert response.status_code == 201, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.job.carbon_aware and run.job.expected_seconds == 3600
    jobs.job_schedule(job_id=run.job_id)
    body = client.get(f"/api/v1/runs/{run.pk}/").json()
    plan = body["carbon_plan"]
    assert plan["deadline_met"] and plan["source"] == "trace:trace.csv"
    assert body["deadline"] and plan["savings_pct"] >= 0
    job = client.get(f"/api/v1/jobs/{run.job_id}/").json()
    assert job["carbon_plan"] == plan and job["carbon_aware"] is True
    now = client.post(f"/api/v1/jobs/{run.job_id}/run-now/")
    assert now.status_code == 200 and now.json()["carbon_plan"]["overridden"] is True


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"deadline": -2}, "deadline", "has passed"),
        ({"deadline": 1, "expected_hours": 5}, "expected_hours", "too near"),
        ({"deadline": 5, "not_before": 8}, "not_before", "after the deadline"),
        ({"deadline": "2030-01-01T00:00:00"}, None, None),
    ],
)
def test_api_refuses_impossible_times(api, personas, corpus, trace, extra, field, message):  # noqa: F811
    now = timezone.now()
    for key in ("deadline", "not_before"):
        if isinstance(extra.get(key), int):
            extra[key] = (now + timedelta(hours=extra[key])).isoformat()
    before = Run.objects.count()
    response = api(personas.ml_engineer).post(
        "/api/v1/runs/", _body(corpus, carbon_aware=True, **extra), format="json"
    )
    if field is None:  # a naive time is read as UTC by the API (DRF's default zone)
        assert response.status_code == 201, response.content
        return
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json()[field])
    assert Run.objects.count() == before


def test_run_page_shows_the_plan_and_run_now(client, personas, corpus, trace):  # noqa: F811
    client.force_login(personas.ml_engineer)
    deadline = timezone.localtime(timezone.now() + timedelta(hours=30))
    response = client.post(
        "/runs/new/",
        {**_body(corpus), **CPU_RUN, "checkpoint_every": 500, "max_restarts": 2,
         "carbon_aware": "on", "deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
         "expected_hours": "1"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.latest("pk")
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="carbon-pending"' in page
    jobs.job_schedule(job_id=run.job_id)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="carbon-decision"' in page and "kgCO2e" in page
    assert 'data-testid="run-now"' in page
    client.cookies["forge_tz"] = "Asia/Tokyo"
    assert "JST" in client.get(f"/runs/{run.pk}/").content.decode()
    client.post(f"/runs/{run.pk}/run-now/")
    job = Job.objects.get(pk=run.job_id)
    assert job.carbon_plan["overridden"]
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="carbon-overridden"' in page and 'data-testid="run-now"' not in page


def test_carbon_page_and_forecast_api(client, api, personas, trace):  # noqa: F811
    client.force_login(personas.viewer)
    page = client.get("/carbon/").content.decode()
    assert 'id="carbon-forecast"' in page and "trace:trace.csv" in page
    body = api(personas.viewer).get("/api/v1/carbon/forecast/").json()
    assert body["source"] == "trace:trace.csv" and body["warning"] == ""
    assert {p["g_per_kwh"] for p in body["points"]} <= {100.0, 500.0}
    assert len(body["points"]) >= 72 * 2
    assert api().get("/api/v1/carbon/forecast/").status_code == 401
