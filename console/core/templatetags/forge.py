from django import template

register = template.Library()


@register.filter
def label(value: str) -> str:
    """'awaiting_approval' -> 'awaiting approval'."""
    return str(value).replace("_", " ")
