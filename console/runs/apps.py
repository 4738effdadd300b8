from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "console.runs"
    label = "runs"
    verbose_name = "Training runs"

    def ready(self) -> None:
        from console.runs import jobs  # noqa: F401 - registers the train.run kind
