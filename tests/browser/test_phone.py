"""A phone (390x844): the menu folds behind ☰ and nothing scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.factories import JobFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_phone_nav_collapses_behind_the_toggle(web, personas):
    JobFactory(
        project=personas.project,
        requested_by=personas.ml_engineer,
        state="running",
        name="A job with a long name that must wrap nicely on a small screen",
        progress=30,
        progress_message="step 3/10",
    )
    w = web(PHONE)
    w.login(personas.ml_engineer)
    page = w.page
    nav = page.get_by_role("navigation", name="Sections")
    toggle = page.locator(".navtoggle-label")
    expect(toggle).to_be_visible()
    expect(nav).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    assert w.sideways_overflow() <= 0
    w.shot("phone-dashboard")

    toggle.click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Jobs")).to_be_visible()
    expect(nav.get_by_text("Admin", exact=True)).to_be_visible()  # greyed: staff only
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    w.shot("phone-nav-open")

    toggle.click()
    expect(nav).to_be_hidden()
    page.locator("#navtoggle").focus()  # keyboard users can open it too
    page.keyboard.press("Space")
    expect(nav).to_be_visible()

    nav.get_by_role("link", name="Jobs").click()
    expect(page).to_have_url(w.url("/jobs/"))
    expect(nav).to_be_hidden()  # a new page starts folded
    expect(page.get_by_role("link", name="A job with a long name")).to_be_visible()
    assert w.sideways_overflow() <= 0
    w.assert_clean()
