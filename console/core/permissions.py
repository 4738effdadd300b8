from __future__ import annotations

from rest_framework.permissions import BasePermission

from console.core.roles import Cap, has_cap


class IsMember(BasePermission):
    """Default for every endpoint: an authenticated user holding at least one role."""

    message = "Your account has no role in Forge; ask an administrator."

    def has_permission(self, request, view) -> bool:
        return bool(
            request.user and request.user.is_authenticated and has_cap(request.user, Cap.VIEW)
        )


def require(cap: Cap) -> type[BasePermission]:
    """A DRF permission class asking for one capability."""

    class _Cap(BasePermission):
        message = f"This needs the '{cap.value}' permission."

        def has_permission(self, request, view) -> bool:
            return bool(
                request.user and request.user.is_authenticated and has_cap(request.user, cap)
            )

    _Cap.__name__ = f"Requires_{cap.name}"
    return _Cap
