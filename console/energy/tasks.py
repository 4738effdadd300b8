"""Thin Celery tasks: one service call each."""

from __future__ import annotations

from celery import shared_task

from console.energy import services


@shared_task(name="energy.refresh", ignore_result=True)
def energy_refresh() -> dict:
    return services.usage_refresh_due()
