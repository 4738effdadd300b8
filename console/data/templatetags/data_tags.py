from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def thousands(value) -> str:
    """1234567 -> '1,234,567'."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—"


@register.filter
def bytesize(value) -> str:
    """1536 -> '1.5 KB' (decimal units, as disks are sold)."""
    try:
        n = float(value)
    except (TypeError, ValueError):
        return "—"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


@register.filter
def percent(value, digits: int = 0) -> str:
    """0.493 -> '49%'."""
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def get(mapping, key):
    """A dict's value by a key that is not a valid template identifier."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def short(value: str, n: int = 12) -> str:
    return str(value or "")[: int(n)]


@register.filter
def main_languages(mix, floor: float = 0.05) -> str:
    """{"en": 0.5, "zh": 0.49, "other": 0.01} -> 'en 50%, zh 49%' (shares of 5% and more)."""
    try:
        items = sorted(mix.items(), key=lambda kv: -kv[1])
    except AttributeError:
        return ""
    return ", ".join(f"{lang} {share * 100:.0f}%" for lang, share in items if share >= floor)


@register.filter
def partial_bytes(piece: str) -> bool:
    """A token piece that is part of a character (shown as escaped bytes)."""
    return "\\x" in str(piece)


@register.filter
def braces_as_entities(value) -> str:
    """Escaped text with { and } as character references: a Jinja chat template shown
    in a textarea (the browser shows and submits the braces) never reads as template
    syntax in the page's HTML."""
    text = escape("" if value is None else str(value))
    return mark_safe(text.replace("{", "&#123;").replace("}", "&#125;"))  # noqa: S308 - escaped above
