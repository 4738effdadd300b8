from django.apps import AppConfig


class CarbonConfig(AppConfig):
    name = "console.carbon"
    label = "carbon"
    verbose_name = "Carbon-aware scheduling"
