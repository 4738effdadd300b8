"""The login form: a wrong password, then the lockout after repeated failures."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def attempt(w, username: str, password: str):
    w.page.get_by_label("Username").fill(username)
    w.page.get_by_label("Password").fill(password)
    w.page.get_by_role("button", name="Log in").click()
    w.page.wait_for_load_state()


def test_wrong_password_then_lockout(web, personas):
    ml = personas.ml_engineer
    w = web()
    page = w.page
    w.goto("/login/")
    alert = page.get_by_role("alert")
    expect(alert).to_have_count(0)

    attempt(w, ml.username, "not-the-password")
    expect(page).to_have_url(w.url("/login/"))
    expect(alert).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value(ml.username)  # kept, to try again
    w.shot("login-error")

    assert settings.FORGE_LOCKOUT_FAILURES == 5
    for _ in range(4):
        attempt(w, ml.username, "still-wrong")
    expect(alert).not_to_contain_text("locked")  # the fifth failure itself: still "wrong"

    attempt(w, ml.username, PASSWORD)  # the right password, too late
    expect(page).to_have_url(w.url("/login/"))
    expect(alert).to_contain_text("locked")
    w.shot("login-locked")

    w.goto("/")  # and not logged in
    expect(page).to_have_url(w.url("/login/?next=/"))
    w.assert_clean()


def test_another_account_is_not_locked(web, personas):
    w = web()
    w.goto("/login/")
    for _ in range(5):
        attempt(w, personas.ml_engineer.username, "wrong")
    w.login(personas.viewer, next_path="/jobs/")  # someone else at the same browser still gets in
    w.assert_clean()
