"""API tokens: created on the page, shown once, working, then revoked."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_token_see_it_once_then_revoke_it(web, personas, live_server):
    w = web()
    w.login(personas.ml_engineer, next_path="/jobs/")
    page = w.page
    page.get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(w.url("/account/tokens/"))
    expect(page.get_by_text("No tokens yet")).to_be_visible()

    page.get_by_label("Name").fill("ci-pipeline")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("new-token")
    expect(secret).to_be_visible()
    key = secret.inner_text().strip()
    assert key.startswith("fg_") and len(key) > 30
    w.shot("token-issued")

    def me():
        return httpx.get(f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Token {key}"})

    assert me().json()["username"] == personas.ml_engineer.username

    w.goto("/account/tokens/")  # shown once: never again
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert key not in page.content()
    row = page.locator("tr", has_text="ci-pipeline")
    expect(row).to_contain_text(key[:10])

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".msg-success")).to_have_text("Token ci-pipeline revoked.")
    expect(row.locator(".badge")).to_have_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert me().status_code == 401
    w.assert_clean()


def test_dismissing_the_confirmation_keeps_the_token(web, personas):
    w = web()
    w.login(personas.ml_engineer, next_path="/account/tokens/")
    page = w.page
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    row = page.locator("tr", has_text="laptop")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    expect(row.get_by_role("button", name="Revoke")).to_be_visible()
    expect(page.locator(".msg-success")).to_have_count(0)
    w.assert_clean()
