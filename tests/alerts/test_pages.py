"""The alerts panel on the run page: full page and htmx partial, editing a rule with
field errors, the webhook form, and who may see and change what."""

from __future__ import annotations

import pytest
from django.test import Client

from console.alerts.models import Alert, AlertRule, AlertSettings

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_run_page_loads_the_panel(personas, live_run):
    live = live_run()
    page = client_for(personas.viewer).get(f"/runs/{live.run.pk}/")
    assert page.status_code == 200
    assert f'id="alerts" hx-get="/alerts/runs/{live.run.pk}/"' in page.content.decode()


def test_panel_full_and_partial(personas, live_run):
    live = live_run()
    live.losses(1, 3.5)
    url = f"/alerts/runs/{live.run.pk}/"
    full = client_for(personas.viewer).get(url)
    assert full.status_code == 200 and b"<html" in full.content
    partial = client_for(personas.viewer).get(url, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in body
    assert 'data-testid="open-alerts"' in body and "loss = 3.5 at step 1" in body
    assert "1.8\u20132.5" in body  # the normal range is shown
    assert "Edit" not in body  # a viewer edits nothing
    live_part = client_for(personas.viewer).get(url + "?part=live", HTTP_HX_REQUEST="true")
    assert (
        'id="alerts-live"' in live_part.content.decode()
        and "Rules" not in live_part.content.decode()
    )
    assert (
        'aria-label="Edit train-loss-high"'
        in client_for(personas.ml_engineer).get(url, HTTP_HX_REQUEST="true").content.decode()
    )


def test_other_teams_and_roles(personas, live_run):
    live = live_run()
    rule = AlertRule.objects.get(run=live.run, name="train-loss-high")
    assert client_for(personas.stranger).get(f"/alerts/runs/{live.run.pk}/").status_code == 404
    edit = f"/alerts/runs/{live.run.pk}/rules/{rule.pk}/edit/"
    assert (
        client_for(personas.stranger).post(edit, {"high": 1, "severity": "warning"}).status_code
        == 404
    )
    assert client_for(personas.viewer).get(edit).status_code == 403
    assert client_for(personas.outsider).get(f"/alerts/runs/{live.run.pk}/").status_code == 403
    assert Client().get(f"/alerts/runs/{live.run.pk}/").status_code == 302


def test_edit_a_rule_in_the_browser_forms(personas, live_run):
    live = live_run()
    rule = AlertRule.objects.get(run=live.run, name="train-loss-high")
    client = client_for(personas.ml_engineer)
    edit = f"/alerts/runs/{live.run.pk}/rules/{rule.pk}/edit/"
    assert client.get(edit).status_code == 200
    form = client.get(edit, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="rule-form"' in form and "<html" not in form
    bad = client.post(edit, {"low": 3, "high": 2, "severity": "warning", "enabled": "on"})
    assert bad.status_code == 400 and "must be above low" in bad.content.decode()
    rule.refresh_from_db()
    assert (rule.low, rule.high) == (None, 3.0)
    bad = client.post(edit, {"high": "x", "severity": "warning"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()  # htmx swaps 2xx only
    ok = client.post(edit, {"high": 2.6, "severity": "critical", "enabled": "on"})
    assert ok.status_code == 302 and ok["Location"].endswith(f"/runs/{live.run.pk}/#alerts")
    rule.refresh_from_db()
    assert (rule.high, rule.severity, rule.enabled) == (2.6, "critical", True)
    ok = client.post(edit, {"high": 2.6, "severity": "critical"}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and 'data-testid="alert-rules"' in ok.content.decode()
    rule.refresh_from_db()
    assert rule.enabled is False


def test_webhook_form_refuses_a_private_address(personas, live_run):
    live = live_run()
    client = client_for(personas.ml_engineer)
    url = f"/alerts/runs/{live.run.pk}/settings/"
    reply = client.post(url, {"webhook_url": "http://169.254.169.254/latest"})
    assert reply.status_code == 400 and "private" in reply.content.decode()
    assert not AlertSettings.objects.filter(run=live.run).exists()
    assert client.post(url, {"webhook_url": ""}).status_code == 302


def test_acknowledge_in_the_panel(personas, live_run):
    live = live_run()
    live.losses(1, 3.5)
    alert = Alert.objects.get()
    url = f"/alerts/runs/{live.run.pk}/alerts/{alert.pk}/acknowledge/"
    assert client_for(personas.viewer).post(url).status_code == 403
    reply = client_for(personas.ml_engineer).post(url, HTTP_HX_REQUEST="true")
    assert reply.status_code == 200 and "acknowledged by milo_ml" in reply.content.decode()
