from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "console.alerts"
    label = "alerts"
    verbose_name = "Run alerts"

    def ready(self) -> None:
        from celery import current_app
        from django.conf import settings
        from django.db.models.signals import post_save

        from console.alerts import cache, evaluate, tasks  # noqa: F401 - registers the tasks
        from console.jobs import hooks
        from console.runs.models import Run

        # Every ingested batch of metrics is checked against its run's rules.
        hooks.on_metrics.append(evaluate.on_metrics)

        def run_saved(sender, instance: Run, created: bool, **kwargs) -> None:
            from console.alerts.services import rules_create_defaults

            cache.forget(instance.job_id)
            if created and not kwargs.get("raw"):
                rules_create_defaults(run=instance)

        post_save.connect(run_saved, sender=Run, weak=False, dispatch_uid="alerts.run_saved")

        # workers/celery.py sets the beat schedule itself when Celery is configured:
        # add this app's entries (settings.CELERY_BEAT_SCHEDULE) to it.
        schedule = current_app.conf.beat_schedule
        for name, entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).items():
            schedule.setdefault(name, entry)
