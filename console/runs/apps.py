from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "console.runs"
    label = "runs"
    verbose_name = "Training runs"

    def ready(self) -> None:
        from console.jobs import hooks
        from console.runs import jobs, services  # noqa: F401 - registers the train.run kind

        # Registers every checkpoint as the agent's stream announces it.
        hooks.on_checkpoint.append(services.run_checkpoint_announced)
