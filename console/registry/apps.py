from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "console.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from console.registry import jobs  # noqa: F401 - registers the model.* kinds
