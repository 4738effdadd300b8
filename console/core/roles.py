"""Roles (Django groups) and the capabilities each grants.

Every page and endpoint asks for a capability, never for a role by name, so a
role's reach is read in one table.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    DATA_ENGINEER = "data engineer"
    ML_ENGINEER = "ML engineer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Cap(StrEnum):
    VIEW = "view"  # see the projects one is a member of, and their jobs
    JOBS_SUBMIT = "jobs.submit"
    JOBS_MANAGE = "jobs.manage"  # cancel, pause, resume
    DATA_WRITE = "data.write"
    TRAINING_WRITE = "training.write"
    REVIEW = "review"  # approve or reject what a policy gates
    FEEDBACK = "feedback"  # rate a model version's answers (changes no model, runs nothing)
    AUDIT_VIEW = "audit.view"
    FLEET_MANAGE = "fleet.manage"
    ADMIN = "admin"  # every project, user management


ROLE_CAPS: dict[Role, frozenset[Cap]] = {
    Role.VIEWER: frozenset({Cap.VIEW, Cap.FEEDBACK}),
    Role.DATA_ENGINEER: frozenset(
        {Cap.VIEW, Cap.FEEDBACK, Cap.JOBS_SUBMIT, Cap.JOBS_MANAGE, Cap.DATA_WRITE}
    ),
    Role.ML_ENGINEER: frozenset(
        {
            Cap.VIEW,
            Cap.FEEDBACK,
            Cap.JOBS_SUBMIT,
            Cap.JOBS_MANAGE,
            Cap.DATA_WRITE,
            Cap.TRAINING_WRITE,
        }
    ),
    Role.REVIEWER: frozenset({Cap.VIEW, Cap.FEEDBACK, Cap.REVIEW, Cap.AUDIT_VIEW}),
    Role.ADMIN: frozenset(Cap),
}


def caps_for(user) -> frozenset[Cap]:
    """Capabilities of a user: the union over their groups; superusers hold all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(Cap)
    cached = getattr(user, "_forge_caps", None)
    if cached is not None:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    caps: set[Cap] = set()
    for role in Role:
        if role.value in names:
            caps |= ROLE_CAPS[role]
    result = frozenset(caps)
    user._forge_caps = result
    return result


def has_cap(user, cap: Cap) -> bool:
    return cap in caps_for(user)


def roles_of(user) -> list[str]:
    if getattr(user, "is_superuser", False):
        return [Role.ADMIN.value]
    names = set(user.groups.values_list("name", flat=True))
    return [role.value for role in Role if role.value in names]
