from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "console.data"
    label = "data"
    verbose_name = "Data"

    def ready(self) -> None:
        from console.data import jobs  # noqa: F401 - registers the data job kinds
