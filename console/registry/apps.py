from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "console.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from console.jobs import hooks
        from console.registry import jobs, services  # noqa: F401 - registers the model.* kinds

        # Creates a succeeded export/quantize job's ModelVersion (and an evaluate job's
        # Evaluation) in the transaction that marks it succeeded; removes a failed one's files.
        hooks.on_job_left_active.append(services.model_job_left_active)
