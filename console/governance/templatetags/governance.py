"""{% review_panel version %}: the model page's review state and its buttons."""

from __future__ import annotations

from django import template

from console.accounts.roles import Cap, has_cap
from console.governance.services import review_latest

register = template.Library()


@register.inclusion_tag("governance/panel.html", takes_context=True)
def review_panel(context, version) -> dict:
    user = context["request"].user
    return {
        "version": version,
        "review": review_latest(version),
        "can_write": has_cap(user, Cap.TRAINING_WRITE),
        "csrf_token": context.get("csrf_token"),
    }
