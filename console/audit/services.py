from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.db import models

from console.audit.models import AuditEvent
from console.core import context
from console.core.errors import FieldErrors
from console.core.types import Actor

if TYPE_CHECKING:
    from django.contrib.auth.models import User

T = TypeVar("T")


def audit_record(
    *,
    action: str,
    actor: Actor | str | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    project_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; request id and client address come from the request context.

    ``actor``: the user who asked, or the name of a command (``manage.py node_token``)."""
    ctx = context.current()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
        if project_id is None:
            project_id = getattr(obj, "project_id", None)
    user = cast("User | None", actor if getattr(actor, "is_authenticated", False) else None)
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else (str(actor) if actor else ""),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        project_id=project_id,
        before=before,
        after=after,
        request_id=ctx.request_id,
        ip=ctx.ip,
    )


def refusals_audited(action: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A service whose bad-input refusals (FieldErrors) are audited as ``action``, with
    the actor, the project and the fields refused; the refusal is raised as it was."""

    def wrap(service: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(service)
        def audited(*, actor: Actor, project: Any, **kwargs: Any) -> T:
            try:
                return service(actor=actor, project=project, **kwargs)
            except FieldErrors as exc:
                audit_record(
                    action=action,
                    actor=actor,
                    obj=project,
                    project_id=getattr(project, "pk", None),
                    after={"errors": exc.errors},
                )
                raise

        return audited

    return wrap
