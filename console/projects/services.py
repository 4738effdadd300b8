from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from console.core.types import Actor

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from console.audit.services import audit_record
from console.projects.models import Membership, Project


@transaction.atomic
def project_create(*, actor: Actor, slug: str, name: str, description: str = "") -> Project:
    project = Project.objects.create(slug=slug, name=name, description=description)
    audit_record(
        action="project.create",
        actor=actor,
        obj=project,
        project_id=project.pk,
        after={"slug": slug, "name": name},
    )
    return project


@transaction.atomic
def project_member_add(*, actor: Actor, project: Project, user: User) -> Membership:
    membership, created = Membership.objects.get_or_create(project=project, user=user)
    if created:
        audit_record(
            action="project.member_add",
            actor=actor,
            obj=project,
            project_id=project.pk,
            after={"user": user.get_username()},
        )
    return membership
