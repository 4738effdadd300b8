from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "console.data"
    label = "data"
    verbose_name = "Data"

    def ready(self) -> None:
        from console.data import jobs, services  # noqa: F401 - registers the data job kinds
        from console.jobs import hooks

        # Registers a succeeded data job's output in the transaction that marks it
        # succeeded; removes a failed or cancelled one's files.
        hooks.on_job_left_active.append(services.data_job_left_active)
