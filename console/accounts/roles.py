"""Moved to console.core.roles (issue 15 item 3: audit and core read roles, so roles
sit at the bottom). Kept only for console/fleet/services.py, which another branch is
splitting into a package; remove once that lands and imports console.core.roles."""

from console.core.roles import ROLE_CAPS, Cap, Role, caps_for, has_cap, roles_of

__all__ = ["ROLE_CAPS", "Cap", "Role", "caps_for", "has_cap", "roles_of"]
