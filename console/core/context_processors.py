from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from console.accounts.roles import caps_for, roles_of

# The console's sections, in navigation order. A URL name, or None for a section
# whose release has not landed yet (shown greyed, not a link).
NAV: list[tuple[str, str | None]] = [
    ("Home", "core:home"),
    ("Jobs", "jobs:list"),
    ("Fleet", "fleet:list"),
    ("Data", None),
    ("Runs", None),
    ("Models", None),
    ("Reviews", None),
    ("Carbon", None),
    ("Audit", "audit:list"),
]


def _nav(path: str) -> list[dict]:
    items = []
    for label, url_name in NAV:
        href = reverse(url_name) if url_name else None
        active = bool(href) and (path == href if href == "/" else path.startswith(href or "\0"))
        items.append({"label": label, "href": href, "active": active})
    return items


def forge(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": [], "caps": frozenset(), "roles": []}
    return {
        "nav": _nav(request.path),
        "caps": {c.value for c in caps_for(user)},
        "roles": roles_of(user),
    }
