from django.apps import AppConfig


class EnergyConfig(AppConfig):
    name = "console.energy"
    label = "energy"
    verbose_name = "Energy, emissions and cost"

    def ready(self) -> None:
        from console.energy import services
        from console.jobs import hooks

        # Appended after console.fleet's hook (INSTALLED_APPS order), so the job's
        # allocations are released by the time the figures are taken (on commit).
        hooks.on_job_left_active.append(services.job_left_active)
