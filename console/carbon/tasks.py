"""Beat tasks: refresh the forecast; pause and resume interruptible jobs at window edges."""

from __future__ import annotations

from celery import shared_task

from console.carbon import services


@shared_task(name="carbon.refresh", ignore_result=True)
def carbon_refresh() -> None:
    services.forecast_refresh()


@shared_task(name="carbon.windows", ignore_result=True)
def carbon_windows() -> None:
    services.carbon_windows_tick()
