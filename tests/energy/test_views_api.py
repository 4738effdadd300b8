"""The usage panel, the "Energy and cost" page and the API: project scoping (another
team's job is a 404 and never counted), grouping, bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from console.energy import selectors, services
from console.jobs.models import JobState
from tests.energy.conftest import allocate, at, make_job, make_node, samples

pytestmark = pytest.mark.django_db

LATER = at(60 * 24 * 40)


@pytest.fixture
def usage_rows(personas):
    """alpha: a March job (0.8 kWh, NVML) and an April CPU-only job (0.2 kWh);
    beta (another team): a large job that alpha must never see."""
    node = make_node("gpu-a", price_on_demand=Decimal("3.00"))
    cpu = make_node("cpu-a", gpus=0, cpu_power_watts=100.0, price_on_demand=Decimal("1.00"))
    march = make_job(personas.project, name="pretrain")
    allocate(march, node, [0, 1], start=at(0), end=at(60))
    for index in (0, 1):
        samples(node, index, start=at(0), end=at(60), watts=400.0)
    april = make_job(
        personas.project,
        name="eval",
        started_at=at(60 * 24 * 30),
        finished_at=at(60 * 24 * 30 + 120),
    )
    allocate(april, cpu, [], start=at(60 * 24 * 30), end=at(60 * 24 * 30 + 120))
    theirs = make_job(personas.other_project, name="secret")
    allocate(theirs, node, [2, 3], start=at(0), end=at(600))
    for job in (march, april, theirs):
        services.job_usage_refresh(job_id=job.pk, now=LATER)
    return march, april, theirs


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ------------------------------------------------------------------ selectors


def test_totals_per_project_count_only_the_users_projects(personas, usage_rows):
    totals = selectors.usage_totals(personas.viewer, group="project")
    assert [row["key"] for row in totals] == ["alpha"]
    [alpha] = totals
    assert alpha["jobs"] == 2
    assert alpha["energy_kwh"] == pytest.approx(0.8 + 0.2)
    assert alpha["gco2e"] == pytest.approx(250.0)
    assert alpha["cost"] == Decimal("8.00")  # 2 GPU-h x 3.00 + 2 node-h x 1.00
    assert alpha["gpu_hours"] == pytest.approx(2.0)
    assert alpha["currency"] == "EUR"
    assert [r["key"] for r in selectors.usage_totals(personas.admin, group="project")] == [
        "alpha",
        "beta",
    ]
    assert selectors.usage_totals(personas.outsider, group="project") == []


def test_totals_per_month(personas, usage_rows):
    totals = selectors.usage_totals(personas.viewer, group="month")
    assert [(r["key"], r["jobs"]) for r in totals] == [("2026-04-01", 1), ("2026-03-01", 1)]
    assert totals[0]["label"] == "April 2026"
    assert totals[1]["energy_kwh"] == pytest.approx(0.8)
    assert selectors.monthly_emissions_series(totals) == {
        "months": ["2026-03-01", "2026-04-01"],
        "kgco2e": [pytest.approx(0.2), pytest.approx(0.05)],
    }
    only = selectors.usage_totals(personas.viewer, group="month", project="beta")
    assert only == []  # a project slug of another team filters to nothing
    with pytest.raises(selectors.UnknownGroup):
        selectors.usage_totals(personas.viewer, group="week")


# ------------------------------------------------------------------ pages


def test_panel_full_page_and_htmx_partial(personas, usage_rows):
    march, _, _ = usage_rows
    client = login(personas.viewer)
    page = client.get(f"/energy/jobs/{march.pk}/panel/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html and 'data-testid="energy-usage"' in html
    assert "0.800 kWh" in html and "200.0 gCO2e" in html and "6.00 EUR" in html
    assert "Measured" in html and "NVML" in html
    assert "on demand" in html and "constant:250" in html
    assert 'hx-trigger="every 10s"' not in html  # finished: no polling

    partial = client.get(f"/energy/jobs/{march.pk}/panel/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert 'data-testid="energy-usage"' in partial.content.decode()


def test_panel_states_the_power_model_and_polls_while_running(personas, usage_rows):
    _, april, _ = usage_rows
    html = login(personas.viewer).get(f"/energy/jobs/{april.pk}/panel/").content.decode()
    assert "Estimated" in html and "power model" in html and "CPU only" in html

    running = make_job(personas.project, state=JobState.RUNNING, finished_at=None)
    html = (
        login(personas.viewer)
        .get(f"/energy/jobs/{running.pk}/panel/", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert 'hx-trigger="every 10s"' in html and 'data-testid="energy-none"' in html


def test_panel_of_a_worker_job_says_not_metered(personas):
    job = make_job(personas.project, kind="demo.count")
    html = login(personas.viewer).get(f"/energy/jobs/{job.pk}/panel/").content.decode()
    assert 'data-testid="energy-not-metered"' in html and "console worker" in html


def test_panel_of_another_teams_job_is_404(personas, usage_rows):
    _, _, theirs = usage_rows
    assert login(personas.viewer).get(f"/energy/jobs/{theirs.pk}/panel/").status_code == 404
    assert login(personas.outsider).get(f"/energy/jobs/{theirs.pk}/panel/").status_code in (
        403,
        404,
    )
    assert login(personas.stranger).get(f"/energy/jobs/{theirs.pk}/panel/").status_code == 200
    assert Client().get(f"/energy/jobs/{theirs.pk}/panel/").status_code == 302  # to login


def test_energy_page(personas, usage_rows):
    response = login(personas.viewer).get("/energy/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Energy and cost" in html
    assert 'data-testid="totals-project"' in html and 'data-testid="totals-month"' in html
    assert "Alpha team" in html and "April 2026" in html and "March 2026" in html
    assert "pretrain" in html and "secret" not in html and "Beta team" not in html
    assert "vendor/plotly-strict-4.1.1.min.js" in html and "cdn" not in html.lower()
    assert 'id="energy-series"' in html and "2026-03-01" in html


def test_energy_page_empty(personas):
    html = login(personas.viewer).get("/energy/").content.decode()
    assert "Nothing metered yet." in html and "No metered job yet." in html


# ------------------------------------------------------------------ API


def test_api_job_usage(personas, api, usage_rows):
    march, _, theirs = usage_rows
    client = api(personas.viewer)
    response = client.get(f"/api/v1/energy/jobs/{march.pk}/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["metered"] is True and data["job"] == march.pk
    usage = data["usage"]
    assert usage["energy_kwh"] == pytest.approx(0.8)
    assert usage["kgco2e"] == pytest.approx(0.2)
    assert Decimal(usage["cost"]) == Decimal("6") and usage["currency"] == "EUR"
    assert usage["method"] == "nvml" and usage["breakdown"][0]["price_tier"] == "on_demand"
    assert client.get(f"/api/v1/energy/jobs/{theirs.pk}/").status_code == 404
    assert client.get("/api/v1/energy/jobs/999999/").status_code == 404
    assert api().get(f"/api/v1/energy/jobs/{march.pk}/").status_code in (401, 403)


def test_api_job_usage_of_a_worker_job(personas, api):
    job = make_job(personas.project, kind="demo.count")
    data = api(personas.viewer).get(f"/api/v1/energy/jobs/{job.pk}/").json()
    assert data == {
        "job": job.pk,
        "state": "succeeded",
        "metered": False,
        "note": "not metered (console worker)",
        "usage": None,
    }


def test_api_totals(personas, api, usage_rows):
    client = api(personas.viewer)
    data = client.get("/api/v1/energy/totals/").json()
    assert data["group"] == "project" and [r["key"] for r in data["results"]] == ["alpha"]
    assert data["results"][0]["jobs"] == 2
    months = client.get("/api/v1/energy/totals/", {"group": "month", "project": "alpha"}).json()
    assert [r["key"] for r in months["results"]] == ["2026-04-01", "2026-03-01"]
    beta = client.get("/api/v1/energy/totals/", {"project": "beta"}).json()
    assert beta["results"] == []
    admin = api(personas.admin).get("/api/v1/energy/totals/").json()
    assert [r["key"] for r in admin["results"]] == ["alpha", "beta"]


@pytest.mark.parametrize(
    "params",
    [{"group": "week"}, {"group": "month\x00"}, {"project": "al\x00pha"}, {"group": "\x00"}],
)
def test_api_totals_bad_input_is_400(personas, api, params):
    response = api(personas.viewer).get("/api/v1/energy/totals/", params)
    assert response.status_code == 400, response.content


def test_api_schema_documents_the_endpoints(personas, api):
    schema = api(personas.viewer).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/energy/jobs/{job_id}/" in paths and "/api/v1/energy/totals/" in paths
