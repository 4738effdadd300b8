"""The alerts REST API: roles, another team's run (404), field errors with nothing
half-written, and an edit that changes what fires."""

from __future__ import annotations

import pytest

from console.alerts.models import Alert, AlertRule, AlertSettings
from console.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def rules_url(run, rule=None) -> str:
    base = f"/api/v1/runs/{run.pk}/alert-rules/"
    return f"{base}{rule.pk}/" if rule else base


@pytest.fixture
def live(live_run):
    return live_run()


def test_members_read_rules_and_alerts_outsiders_do_not(personas, api, live):
    run = live.run
    live.losses(1, 3.5)
    for user in (personas.viewer, personas.reviewer, personas.ml_engineer, personas.admin):
        client = api(user)
        reply = client.get(rules_url(run))
        assert reply.status_code == 200, (user, reply.content)
        assert len(reply.json()) == 8
        loss = next(r for r in reply.json() if r["name"] == "train-loss-high")
        assert loss["normal"] == "1.8\u20132.5" and loss["condition"] == "loss above 3"
        alerts = client.get(f"/api/v1/runs/{run.pk}/alerts/").json()["results"]
        assert [a["rule"] for a in alerts] == ["train-loss-high"] and alerts[0]["open"]
    stranger = api(personas.stranger)  # another team's ML engineer: not even there
    assert stranger.get(rules_url(run)).status_code == 404
    assert stranger.get(f"/api/v1/runs/{run.pk}/alerts/").status_code == 404
    rule = AlertRule.objects.filter(run=run).first()
    assert stranger.patch(rules_url(run, rule), {"high": 1}, format="json").status_code == 404
    assert stranger.delete(rules_url(run, rule)).status_code == 404
    assert api(personas.outsider).get(rules_url(run)).status_code == 403
    assert api().get(rules_url(run)).status_code == 401
    assert api(personas.viewer).get(f"/api/v1/runs/{run.pk + 999}/alert-rules/").status_code == 404


def test_only_training_writers_change_rules(personas, api, live):
    rule = AlertRule.objects.get(run=live.run, name="train-loss-high")
    for user in (personas.viewer, personas.reviewer, personas.data_engineer):
        reply = api(user).patch(rules_url(live.run, rule), {"high": 2.0}, format="json")
        assert reply.status_code == 403, user
    rule.refresh_from_db()
    assert rule.high == 3.0
    assert AuditEvent.objects.filter(action="access.denied").count() == 3


def test_editing_a_rule_through_the_api_changes_what_fires(personas, api, live):
    client = api(personas.ml_engineer)
    live.losses(1, 2.7)  # a tiny model's loss: fine under the default 3.0
    assert not Alert.objects.exists()
    rule = AlertRule.objects.get(run=live.run, name="train-loss-high")
    reply = client.patch(
        rules_url(live.run, rule), {"high": 2.6, "normal_high": 2.5}, format="json"
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["high"] == 2.6 and reply.json()["normal"] == "1.8\u20132.5"
    live.losses(2, 2.7)
    [alert] = Alert.objects.all()
    assert alert.rule == rule and alert.step == 2
    event = AuditEvent.objects.get(action="alert_rule.update")
    assert event.before == {"high": 3.0} and event.after == {"high": 2.6}
    # Off: its alert resolves, nothing more fires.
    reply = client.patch(rules_url(live.run, rule), {"enabled": False}, format="json")
    assert reply.status_code == 200
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    live.losses(3, 2.9)
    assert Alert.objects.count() == 1


def test_create_and_delete_a_rule(personas, api, live):
    client = api(personas.ml_engineer)
    reply = client.post(
        rules_url(live.run),
        {"name": "grad-norm", "kind": "threshold", "metric": "grad_norm", "high": 10},
        format="json",
    )
    assert reply.status_code == 201, reply.content
    live.metrics((1, {"loss": 2.0, "lr": 5e-5, "grad_norm": 12.5}))
    assert Alert.objects.get().rule.name == "grad-norm"
    rule = AlertRule.objects.get(pk=reply.json()["id"])
    assert client.delete(rules_url(live.run, rule)).status_code == 204
    assert not AlertRule.objects.filter(pk=rule.pk).exists() and not Alert.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "threshold", "metric": "loss"}, "high"),
        ({"name": "x", "kind": "threshold", "metric": "loss", "low": 3, "high": 2}, "high"),
        ({"name": "x", "kind": "threshold", "high": 2}, "metric"),
        ({"name": "x", "kind": "spike", "metric": "loss", "factor": 0.5, "window": 20}, "factor"),
        ({"name": "x", "kind": "drop", "metric": "loss", "factor": 0.5, "window": 2}, "window"),
        ({"name": "x", "kind": "gpu_util", "low": 70, "high": 120, "window": 60}, "high"),
        ({"name": "x", "kind": "gpu_util", "metric": "loss", "low": 7, "window": 6}, "metric"),
        ({"name": "x", "kind": "stall", "window": 0}, "window"),
        ({"name": "x", "kind": "bogus"}, "kind"),
        ({"name": "x", "kind": "threshold", "metric": "loss", "high": "lots"}, "high"),
        ({"name": "train-loss-high", "kind": "threshold", "metric": "loss", "high": 2}, "name"),
        ({"name": "", "kind": "threshold", "metric": "loss", "high": 2}, "name"),
        ({"kind": "threshold", "metric": "loss", "high": 2, "hgh": 3}, "hgh"),
    ],
)
def test_bad_rules_are_a_400_with_field_errors_and_nothing_written(
    personas, api, live, body, field
):
    before = list(AlertRule.objects.order_by("id").values())
    reply = api(personas.ml_engineer).post(rules_url(live.run), body, format="json")
    assert reply.status_code == 400, reply.content
    assert field in reply.json(), reply.json()
    assert list(AlertRule.objects.order_by("id").values()) == before


def test_bad_patch_changes_nothing(personas, api, live):
    rule = AlertRule.objects.get(run=live.run, name="loss-spike")
    reply = api(personas.ml_engineer).patch(
        rules_url(live.run, rule), {"factor": 0.9, "window": 5}, format="json"
    )
    assert reply.status_code == 400 and "factor" in reply.json()
    rule.refresh_from_db()
    assert (rule.factor, rule.window) == (1.5, 50)


def test_acknowledge(personas, api, live):
    live.losses(1, 3.5)
    alert = Alert.objects.get()
    url = f"/api/v1/runs/{live.run.pk}/alerts/{alert.pk}/acknowledge/"
    assert api(personas.viewer).post(url).status_code == 403
    reply = api(personas.ml_engineer).post(url)
    assert reply.status_code == 200 and reply.json()["acknowledged_by"] == "milo_ml"
    assert api(personas.stranger).post(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "ftp://example.org/hook",
        "http://user:pw@127.0.0.1/",
    ],
)
def test_webhook_to_a_private_address_is_refused_at_save(personas, api, live, url):
    reply = api(personas.ml_engineer).put(
        f"/api/v1/runs/{live.run.pk}/alert-settings/", {"webhook_url": url}, format="json"
    )
    assert reply.status_code == 400 and "webhook_url" in reply.json(), reply.content
    assert not AlertSettings.objects.filter(run=live.run).exclude(webhook_url="").exists()


def test_webhook_allowlist(personas, api, live, settings):
    settings.FORGE_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    client = api(personas.ml_engineer)
    url = f"/api/v1/runs/{live.run.pk}/alert-settings/"
    reply = client.put(url, {"webhook_url": "http://127.0.0.1:9/hook"}, format="json")
    assert reply.status_code == 200, reply.content
    assert client.get(url).json() == {"webhook_url": "http://127.0.0.1:9/hook"}
    assert api(personas.viewer).put(url, {"webhook_url": ""}, format="json").status_code == 403
