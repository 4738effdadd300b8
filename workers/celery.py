"""The Celery app. Start a worker with

    celery -A workers worker -Q default,pipelines,scheduler,ingest
    celery -A workers beat

Tasks take ids, reload their row, and call a service (console/*/tasks.py).
"""

from __future__ import annotations

import os

from celery import Celery

from workers.queues import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings.base")

app = Celery("forge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {
    "jobs.schedule": {"queue": Queue.SCHEDULER.value},
    "jobs.reconcile": {"queue": Queue.SCHEDULER.value},
    "fleet.reconcile": {"queue": Queue.SCHEDULER.value},
}
app.conf.task_queues = None
# Every app with a tasks.py, named: nothing registers tasks from elsewhere.
app.autodiscover_tasks(
    [
        "console.jobs",
        "console.fleet",
        "console.data",
        "console.carbon",
        "console.alerts",
        "console.energy",
    ]
)

# How often the energy figures of running and just-finished jobs are brought up to date.
ENERGY_REFRESH_SECONDS = 60.0


def _beat_schedule() -> dict:
    """The whole beat schedule, in one place."""
    from django.conf import settings

    every = float(settings.FORGE_RECONCILE_INTERVAL)
    carbon = float(settings.FORGE_CARBON_REFRESH_SECONDS)
    alerts = float(settings.FORGE_ALERT_EVALUATE_SECONDS)

    def entry(task: str, seconds: float, queue: Queue) -> dict:
        return {
            "task": task,
            "schedule": seconds,
            "options": {"queue": queue.value, "expires": seconds},
        }

    return {
        "jobs-reconcile": entry("jobs.reconcile", every, Queue.SCHEDULER),
        "fleet-reconcile": entry("fleet.reconcile", every, Queue.SCHEDULER),
        "fleet-telemetry-compact": entry("fleet.telemetry_compact", 600.0, Queue.DEFAULT),
        "data-sweep": entry("data.sweep", 3600.0, Queue.DEFAULT),
        "carbon-refresh": entry("carbon.refresh", carbon, Queue.DEFAULT),
        "carbon-windows": entry("carbon.windows", 30.0, Queue.DEFAULT),
        "alerts-evaluate": entry("alerts.evaluate", alerts, Queue.DEFAULT),
        "energy-refresh": entry("energy.refresh", ENERGY_REFRESH_SECONDS, Queue.DEFAULT),
    }


@app.on_after_configure.connect
def _setup_beat(sender: Celery, **kwargs) -> None:
    sender.conf.beat_schedule = _beat_schedule()


from workers import shutdown  # noqa: E402,F401 - connects the shutdown signals
