from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "console.fleet"
    label = "fleet"

    def ready(self) -> None:
        from console.fleet import demo  # noqa: F401 - registers the demo.node kind
        from console.fleet.services import dispatch  # noqa: F401 - the "node" executor of jobs.kinds
