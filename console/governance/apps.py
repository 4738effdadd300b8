from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "console.governance"
    label = "governance"
    verbose_name = "Governance (model sign-off)"

    def ready(self) -> None:
        from console.governance import jobs, services  # noqa: F401 - registers review.check
        from console.jobs import hooks

        # Writes a succeeded check job's result onto its review item, in the
        # transaction that marks the job succeeded.
        hooks.on_job_left_active.append(services.review_check_left_active)
