from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from console.core.roles import Cap, caps_for, roles_of

# The console's sections, in navigation order: (label, URL name or None for a section
# whose release has not landed yet, capability needed). Sections a user may not open
# are shown greyed with the reason, never as links to a 403.
NAV: list[tuple[str, str | None, Cap]] = [
    ("Home", "home:home", Cap.VIEW),
    ("Jobs", "jobs:list", Cap.VIEW),
    ("Fleet", "fleet:list", Cap.VIEW),
    ("Data", "data:list", Cap.VIEW),
    ("Runs", "runs:list", Cap.VIEW),
    ("Models", "registry:list", Cap.VIEW),
    ("Reviews", "governance:list", Cap.VIEW),
    ("Carbon", "carbon:home", Cap.VIEW),
    ("Energy", "energy:home", Cap.VIEW),
    ("Audit", "audit:list", Cap.AUDIT_VIEW),
]


def _nav(path: str, caps: frozenset[Cap]) -> list[dict]:
    items = []
    for label, url_name, cap in NAV:
        href = reverse(url_name) if url_name else None
        reason = "" if href else "Arrives with a later release"
        if href and cap not in caps:
            href, reason = None, "Reviewers and administrators only"
        active = bool(href) and (path == href if href == "/" else path.startswith(href or "\0"))
        items.append({"label": label, "href": href, "active": active, "reason": reason})
    return items


def forge(request: HttpRequest) -> dict:
    # An inline <script> runs only with this response's nonce (ContentSecurityPolicyMiddleware):
    # <script nonce="{{ csp_nonce }}">.
    nonce = getattr(request, "csp_nonce", "")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": [], "caps": frozenset(), "roles": [], "csp_nonce": nonce}
    caps = caps_for(user)
    return {
        "nav": _nav(request.path, caps),
        "caps": {c.value for c in caps},
        "roles": roles_of(user),
        "csp_nonce": nonce,
    }
