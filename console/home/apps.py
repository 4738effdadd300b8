from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The top layer: the dashboard, the demo loader and the commands that set up and run
    the whole stack (``forge_setup``, ``run_stack``). It may import every app; none
    imports it."""

    name = "console.home"
    label = "home"
