from django import template

register = template.Library()


@register.filter
def label(value: str) -> str:
    """'awaiting_approval' -> 'awaiting approval'."""
    return str(value).replace("_", " ")


@register.filter
def filesizeformat_mib(value) -> str:
    """12288 -> '12.0 GiB'."""
    try:
        mib = float(value)
    except (TypeError, ValueError):
        return "-"
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


@register.filter
def ago(value) -> str:
    """A datetime as 'just now', '5 minutes ago', '2 hours ago'."""
    from django.utils import timezone
    from django.utils.timesince import timesince

    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value).split(',')[0]} ago"
