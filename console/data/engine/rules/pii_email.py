"""Mask e-mail addresses (ASCII addresses, also glued to text in scripts without
spaces: ``请联系zhang.wei@example.cn获取``). ``logo@2x.png``-style file names are
not addresses. Internationalised addresses (non-ASCII local parts) are not found."""

from __future__ import annotations

import re

from console.data.engine.rules._pii import PiiRule, Span, tag_params

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})"
    r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)
_FILE_SUFFIXES = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "pdf"}
    | {"css", "js", "json", "txt", "html", "htm", "xml"}
)


def find(text: str) -> list[Span]:
    """Addresses around each "@", matched in a window (fast on long documents)."""
    spans: list[Span] = []
    at = text.find("@")
    while at >= 0:
        lo = max(0, at - 70, spans[-1][1] if spans else 0)
        hit = None
        for m in _EMAIL.finditer(text, lo, at + 260):
            if m.start() > at:
                break
            if at < m.end():
                hit = m
                break
        if hit is not None and hit.group(1).lower() not in _FILE_SUFFIXES:
            spans.append(hit.span())
            at = text.find("@", hit.end())
        else:
            at = text.find("@", at + 1)
    return spans


Params = tag_params("[EMAIL]")


class MaskEmail(PiiRule):
    name = "mask_email"
    label = "Mask e-mail addresses"
    help = "Replaces e-mail addresses with a tag."
    pii_type = "email"
    Params = Params
    find = staticmethod(find)
