"""Logging in through the form and reading the dashboard, air-gapped."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, JobFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ml_engineer_logs_in_and_reads_the_dashboard(web, personas):
    ml, alpha = personas.ml_engineer, personas.project
    for i, state in enumerate(("running", "running", "succeeded", "failed")):
        JobFactory(project=alpha, requested_by=ml, state=state, name=f"{state} job {i}")
    JobFactory(project=personas.other_project, state="running", name="beta's job")  # not visible

    w = web()
    w.goto("/")  # not logged in: the login page, which comes back here afterwards
    assert w.page.url.startswith(w.url("/login/?next=/"))
    w.page.get_by_label("Username").fill(ml.username)
    w.page.get_by_label("Password").fill(PASSWORD)
    w.page.get_by_role("button", name="Log in").click()
    page = w.page
    expect(page).to_have_url(w.url("/"))
    expect(page.get_by_role("heading", name=f"Welcome, {ml.username}")).to_be_visible()

    counts = {
        "projects": 1,
        "active": 2,
        "running": 2,
        "succeeded": 1,
        "failed": 1,
    }
    for name, n in counts.items():
        expect(page.get_by_test_id(f"count-{name}")).to_have_text(str(n))

    projects = page.locator("section.card", has=page.get_by_role("heading", name="Projects"))
    expect(projects).to_contain_text("Alpha team")
    expect(projects).not_to_contain_text("Beta team")
    expect(page.get_by_role("link", name="New job")).to_be_visible()
    expect(page.get_by_role("link", name="succeeded job 2")).to_be_visible()
    expect(page.get_by_role("link", name="beta's job")).to_have_count(0)

    # Plotly draws the chart (an svg) from the locally served bundle, with bars in it.
    expect(page.locator("#daily-chart svg.main-svg").first).to_be_visible()
    expect(page.locator("#daily-chart .bars .point").first).to_be_attached()
    w.shot("dashboard-ml")

    # Every request went to the live server: nothing from a CDN, no web fonts.
    assert any(url.endswith(".js") and "plotly" in url for url in w.requests)
    w.assert_clean()
