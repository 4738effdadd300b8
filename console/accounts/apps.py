from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "console.accounts"
    label = "accounts"

    def ready(self) -> None:
        from console.accounts import schema  # noqa: F401 - registers the OpenAPI auth scheme
