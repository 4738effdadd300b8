from django.apps import AppConfig


class EnergyConfig(AppConfig):
    name = "console.energy"
    label = "energy"
    verbose_name = "Energy, emissions and cost"
