from __future__ import annotations

from django.db.models import QuerySet

from console.core.roles import Cap, has_cap
from console.projects.models import Project


def project_list(*, user) -> QuerySet[Project]:
    """Projects the user may see: all for admins, their memberships otherwise."""
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    if has_cap(user, Cap.ADMIN):
        return Project.objects.all()
    if not has_cap(user, Cap.VIEW):
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user)


def project_get(*, user, slug: str) -> Project | None:
    return project_list(user=user).filter(slug=slug).first()
