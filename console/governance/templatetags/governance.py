"""{% review_panel version %}: the model page's review state and its buttons;
{% check_result item %}: a review item's check result, whatever its shape."""

from __future__ import annotations

from django import template

from console.core.roles import Cap, has_cap
from console.governance.display import check_view
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


@register.inclusion_tag("governance/_check_result.html")
def check_result(item) -> dict:
    """{% check_result item %}: the item's check, verdict, result of any shape (see
    console.governance.display), and its running or failed check job."""
    return {"item": item, "c": check_view(item)}
