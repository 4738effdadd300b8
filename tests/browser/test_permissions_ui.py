"""What each role sees: no submit button for a viewer, 403 pages, the audit log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_viewer_cannot_submit_or_read_the_audit_log_and_the_reviewer_can(web, personas):
    viewer = web()
    viewer.login(personas.viewer)
    page = viewer.page
    expect(page.get_by_role("heading", name="Welcome, vera_viewer")).to_be_visible()
    expect(page.get_by_role("link", name="New job")).to_have_count(0)
    viewer.goto("/jobs/")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_role("link", name="New job")).to_have_count(0)
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Submit your first job")).to_have_count(0)

    response = viewer.goto("/jobs/new/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="open this page")).to_be_visible()
    expect(page.get_by_text("'jobs.submit' permission")).to_be_visible()
    response = viewer.goto("/audit/")
    assert response.status == 403
    expect(page.get_by_text("'audit.view' permission")).to_be_visible()
    viewer.assert_clean(expected_statuses=(403,))

    reviewer = web()
    reviewer.login(personas.reviewer, next_path="/jobs/")
    page = reviewer.page
    expect(page.get_by_role("link", name="New job")).to_have_count(0)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Audit").click()
    expect(page).to_have_url(reviewer.url("/audit/"))
    table = page.locator("#audit-table table")
    denied = table.locator("tr", has_text="access.denied")
    expect(denied).to_have_count(2)  # the viewer's two attempts, recorded
    expect(denied.first).to_contain_text("vera_viewer")
    expect(table).to_contain_text("/audit/")

    # The filters work in place (htmx), and the URL follows them.
    page.get_by_label("Action").select_option("access.denied")
    expect(page).to_have_url(
        reviewer.url("/audit/?action=access.denied&actor=&object_type=&since=")
    )
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Actor").fill("nobody")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No events match these filters.")).to_be_visible()
    reviewer.shot("audit-reviewer")
    reviewer.assert_clean()
