"""Audit reads. Every query of the log goes through ``audit_visible``: an admin reads every
event; anyone else reads the events of their own projects, and the project-less events
(sign-ins, tokens, refusals) of the people in those projects, never another project's
or an outsider's (RELIABILITY S16)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from console.audit.models import AuditEvent
from console.core.roles import Cap, has_cap


def audit_visible(*, reader: Any) -> QuerySet[AuditEvent]:
    """The events ``reader`` may see. Admin here is the Forge admin capability (the
    admin role or a superuser: console.core.roles), as for every project list."""
    events = AuditEvent.objects.all()
    if has_cap(reader, Cap.ADMIN):
        return events
    if not has_cap(reader, Cap.VIEW):
        return events.none()
    projects = reader.memberships.values("project_id")
    colleagues = get_user_model().objects.filter(memberships__project_id__in=projects).values("pk")
    return events.filter(
        Q(project_id__in=projects)
        | Q(project_id__isnull=True, actor_id__in=colleagues)
        | Q(project_id__isnull=True, actor_id=reader.pk)
    )


def audit_event_list(
    *,
    reader: Any,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    object_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    events = audit_visible(reader=reader)
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_name=actor)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events


def audit_object_history(*, object_type: str, object_id: str) -> QuerySet[AuditEvent]:
    """The events about one object that belongs to no project and that every member may
    see (a node: registered, online, tokens issued); not for project objects."""
    return AuditEvent.objects.filter(
        object_type=object_type, object_id=object_id, project_id__isnull=True
    )


def audit_actions(*, reader: Any) -> list[str]:
    return list(audit_visible(reader=reader).order_by().values_list("action", flat=True).distinct())
