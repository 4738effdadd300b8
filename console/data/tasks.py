"""Thin Celery tasks: one service call."""

from __future__ import annotations

from celery import shared_task

from console.data import services


@shared_task(name="data.sweep", ignore_result=True)
def data_sweep() -> dict:
    return services.data_sweep()
