from django.apps import AppConfig

REFRESH_SECONDS = 60.0


class EnergyConfig(AppConfig):
    name = "console.energy"
    label = "energy"
    verbose_name = "Energy, emissions and cost"

    def ready(self) -> None:
        from celery import current_app

        from console.energy import services, tasks  # noqa: F401 - registers the task
        from console.jobs import hooks

        # Appended after console.fleet's hook (INSTALLED_APPS order), so the job's
        # allocations are released by the time the figures are taken (on commit).
        hooks.on_job_left_active.append(services.job_left_active)

        # workers/celery.py sets the beat schedule itself when Celery is configured:
        # add this app's entry to it (as console.alerts does with its own).
        current_app.conf.beat_schedule.setdefault(
            "energy-refresh",
            {
                "task": "energy.refresh",
                "schedule": REFRESH_SECONDS,
                "options": {"queue": "default", "expires": REFRESH_SECONDS},
            },
        )
