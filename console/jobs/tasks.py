"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from console.jobs import execution, services


@shared_task(name="jobs.schedule", ignore_result=True)
def job_schedule(job_id: int) -> None:
    services.job_schedule(job_id=job_id)


@shared_task(name="jobs.execute", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def job_execute(job_id: int, attempt: int) -> str:
    return execution.job_execute(job_id=job_id, attempt=attempt)


@shared_task(name="jobs.reconcile", ignore_result=True)
def job_reconcile() -> dict:
    return services.job_reconcile().as_dict()
