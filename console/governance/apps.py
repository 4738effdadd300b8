from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "console.governance"
    label = "governance"
    verbose_name = "Governance (model sign-off)"

    def ready(self) -> None:
        from console.governance import jobs  # noqa: F401 - registers review.check
