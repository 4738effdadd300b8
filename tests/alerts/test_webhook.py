"""Webhooks: sent after the ingest transaction commits, by a Celery task, to a real
HTTP receiver on loopback (allowed by FORGE_WEBHOOK_ALLOWED_HOSTS); refused for
loopback, private and link-local addresses without it, at save and again at send,
and when a redirect points there (RELIABILITY.md S9). Nothing here connects to a
non-loopback address: those are refused before any connection."""

from __future__ import annotations

import pytest

from console.alerts import services, webhooks
from console.alerts.models import Alert, AlertSettings
from console.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    """Celery tasks run in this process when enqueued (the task and its retries)."""
    from workers.celery import app

    app.loader.import_default_modules()  # the tasks registered, as in a worker
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def test_alert_is_sent_on_commit_by_the_task(
    personas, live_run, receiver, settings, eager, django_capture_on_commit_callbacks
):
    settings.FORGE_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.FORGE_ALERT_BASE_URL = "https://forge.example.org"
    live = live_run()
    services.alert_settings_set(
        actor=personas.ml_engineer, run=live.run, webhook_url=receiver.url()
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        live.losses(1, 2.0, 3.4)
    assert receiver.bodies == [] and len(callbacks) == 1  # nothing sent inside the ingest
    for callback in callbacks:
        callback()
    [body] = receiver.bodies
    assert body["run"]["id"] == live.run.pk and body["rule"]["name"] == "train-loss-high"
    assert (body["value"], body["step"]) == (3.4, 2)
    assert "loss = 3.4 at step 2" in body["message"]
    assert body["link"] == f"https://forge.example.org/runs/{live.run.pk}/#alerts"
    alert = Alert.objects.get()
    assert alert.notified_at is not None and alert.notify_error == ""
    # Delivered once: the same task again sends nothing.
    assert services.alert_notify(alert_id=alert.pk) == "skipped"
    assert len(receiver.bodies) == 1


def test_default_webhook_setting_and_retry_after_a_5xx(
    personas, live_run, receiver, settings, eager, django_capture_on_commit_callbacks
):
    settings.FORGE_WEBHOOK_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}"]
    settings.FORGE_ALERT_WEBHOOK_URL = receiver.url()
    live = live_run()
    receiver.fail = 1
    with django_capture_on_commit_callbacks(execute=True):
        live.losses(1, 3.4)
    assert receiver.paths == ["/hook", "/hook"]  # a 503, then the retry delivered it
    assert len(receiver.bodies) == 1 and Alert.objects.get().notified_at is not None


def test_no_webhook_no_task(live_run, django_capture_on_commit_callbacks):
    live = live_run()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        live.losses(1, 3.4)
    assert callbacks == [] and Alert.objects.count() == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "localhost"])
def test_refused_at_save_without_the_allowlist(personas, live_run, host):
    live = live_run()
    with pytest.raises(services.FieldErrors) as caught:
        services.alert_settings_set(
            actor=personas.ml_engineer, run=live.run, webhook_url=f"http://{host}:8080/hook"
        )
    assert "private" in caught.value.errors["webhook_url"][0]
    assert not AlertSettings.objects.exclude(webhook_url="").exists()
    assert AuditEvent.objects.filter(action="alert.webhook_refused").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.7", "169.254.169.254"])
def test_refused_again_at_send(personas, live_run, receiver, settings, host):
    """A URL saved while allowed (or set as the default) is checked again when sent."""
    live = live_run()
    url = receiver.url() if host == "127.0.0.1" else f"http://{host}/hook"
    AlertSettings.objects.create(run=live.run, webhook_url=url)  # as if allowed back then
    live.losses(1, 3.4)
    alert = Alert.objects.get()
    assert services.alert_notify(alert_id=alert.pk) == "refused"
    alert.refresh_from_db()
    assert alert.notified_at is None and "refused" in alert.notify_error
    assert receiver.paths == []
    assert AuditEvent.objects.filter(action="alert.webhook_refused").count() == 1


@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.7/hook", "http://169.254.169.254/latest", "http://localhost:{port}/hook"],
)
def test_a_redirect_to_a_private_address_is_refused(personas, live_run, receiver, settings, target):
    settings.FORGE_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver, not where it points
    receiver.redirect_to = target.format(port=receiver.port)
    live = live_run()
    services.alert_settings_set(
        actor=personas.ml_engineer, run=live.run, webhook_url=receiver.url("/redirect")
    )
    live.losses(1, 3.4)
    alert = Alert.objects.get()
    assert services.alert_notify(alert_id=alert.pk) == "refused"
    alert.refresh_from_db()
    assert "private" in alert.notify_error and alert.notified_at is None
    assert receiver.paths == ["/redirect"] and receiver.bodies == []


def test_an_allowed_redirect_is_followed(personas, live_run, receiver, settings):
    settings.FORGE_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver.redirect_to = "/hook"
    live = live_run()
    services.alert_settings_set(
        actor=personas.ml_engineer, run=live.run, webhook_url=receiver.url("/redirect")
    )
    live.losses(1, 3.4)
    assert services.alert_notify(alert_id=Alert.objects.get().pk) == "sent"
    assert receiver.paths == ["/redirect", "/hook"] and len(receiver.bodies) == 1


def test_transient_failure_is_raised_for_the_retry(personas, live_run, receiver, settings):
    settings.FORGE_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver.fail = 1
    live = live_run()
    services.alert_settings_set(
        actor=personas.ml_engineer, run=live.run, webhook_url=receiver.url()
    )
    live.losses(1, 3.4)
    alert = Alert.objects.get()
    with pytest.raises(webhooks.WebhookFailed):
        services.alert_notify(alert_id=alert.pk)
    alert.refresh_from_db()
    assert "503" in alert.notify_error
    assert services.alert_notify(alert_id=alert.pk) == "sent"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address classified, not bound
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_address_classes(address, public):
    assert webhooks._public(address) is public
