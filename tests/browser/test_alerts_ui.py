"""In the browser: an ML engineer tightens a rule on the run page (a tiny model's loss
is fine at 2.7 under the default 3.0) and sees the alert appear when the next metrics
arrive."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.alerts.models import AlertRule
from tests.alerts.conftest import _fresh_rule_cache, data_dir, live_run, make_node  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_edit_a_rule_on_the_run_page_and_see_the_alert(web, personas, live_run):  # noqa: F811
    live = live_run()
    live.losses(1, 2.7)
    w = web()
    w.login(personas.ml_engineer, next_path=f"/runs/{live.run.pk}/")
    page = w.page
    panel = page.locator("#alerts")
    expect(panel.get_by_test_id("alert-rules")).to_be_visible()
    expect(panel.get_by_test_id("no-open-alerts")).to_be_visible()
    panel.get_by_label("Edit train-loss-high").click()
    form = panel.get_by_test_id("rule-form")
    form.get_by_label("High").fill("2.6")
    w.shot("alerts-rule-edit")
    form.get_by_role("button", name="Save rule").click()
    expect(panel.locator('tr[data-rule="train-loss-high"]')).to_contain_text("loss above 2.6")
    assert AlertRule.objects.get(run=live.run, name="train-loss-high").high == 2.6
    live.losses(2, 2.7)  # the agent's next batch
    # The open-alerts list polls every 5 s.
    expect(panel.get_by_test_id("open-alerts")).to_contain_text(
        "loss = 2.7 at step 2", timeout=60_000
    )
    w.shot("alerts-open")
    w.assert_clean()
