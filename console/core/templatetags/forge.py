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
