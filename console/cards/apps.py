from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "console.cards"
    label = "cards"
    verbose_name = "Model cards and deployment bundles"
