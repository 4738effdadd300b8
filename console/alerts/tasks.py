"""Thin Celery tasks: one service call each."""

from __future__ import annotations

from celery import shared_task

from console.alerts import evaluate, services, webhooks


@shared_task(
    name="alerts.notify",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(webhooks.WebhookFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def alert_notify(alert_id: int) -> str:
    return services.alert_notify(alert_id=alert_id)


@shared_task(name="alerts.evaluate", ignore_result=True)
def alerts_evaluate() -> dict:
    return evaluate.evaluate_periodic()
