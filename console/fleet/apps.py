from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "console.fleet"
    label = "fleet"

    def ready(self) -> None:
        from console.fleet import demo, services  # noqa: F401 - node job kind, release hook
        from console.jobs import hooks

        hooks.on_job_left_active.append(services.allocation_release_for_job)
