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


@register.filter
def storage_paths(value):
    """A value (text, or a spec's dict or list) with storage paths made storage-relative:
    members never see the server's absolute paths (console.core.redact)."""
    from console.core.redact import scrub_paths

    return scrub_paths(value)


@register.filter
def error_message(value) -> str:
    """A job's error as its message: a traceback's last line (the traceback is on the
    job's log), storage paths relative."""
    from console.core.redact import error_message as message

    return message(str(value or ""))
