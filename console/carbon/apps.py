from django.apps import AppConfig


class CarbonConfig(AppConfig):
    name = "console.carbon"
    label = "carbon"
    verbose_name = "Carbon-aware scheduling"

    def ready(self) -> None:
        from console.carbon import services
        from console.jobs import hooks

        # A carbon-aware job gets its plan (start, windows) as it is scheduled.
        hooks.before_schedule.append(services.job_plan_on_schedule)
