"""Thin Celery tasks for the fleet."""

from __future__ import annotations

from celery import shared_task

from console.fleet import services


@shared_task(name="fleet.reconcile", ignore_result=True)
def fleet_reconcile() -> dict:
    report = services.fleet_reconcile()
    return {"offline": report.offline, "lost_jobs": report.lost_jobs}


@shared_task(name="fleet.telemetry_compact", ignore_result=True)
def telemetry_compact() -> dict:
    return services.telemetry_compact()
