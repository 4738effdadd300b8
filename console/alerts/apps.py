from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "console.alerts"
    label = "alerts"
    verbose_name = "Run alerts"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from console.alerts import cache, evaluate
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
