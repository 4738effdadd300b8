"""System checks of core's settings (``manage.py check`` runs them, and so does CI)."""

from __future__ import annotations

from django.core.checks import Error, register

from console.core.effects import effects_problems


@register()
def lifecycle_effects_check(app_configs, **kwargs) -> list[Error]:
    return [
        Error(f"LIFECYCLE_EFFECTS: {problem}", id="core.E001") for problem in effects_problems()
    ]
