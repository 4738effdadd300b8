"""Cross-project 404s are audited like 403s (RELIABILITY S3, S16).

Another project's object answers 404 on every page and endpoint, exactly as an id that
does not exist, so the requester learns nothing. The attempt is still recorded: when a
signed-in member's request names an object by id in its URL and the answer is a 404,
and that object exists in a project the member cannot see, an ``access.denied`` event
names the actor, the object's kind and id, the path, and carries the owning project's
id (so that project's auditors see the probe; the requester, not a member there, never
does). One place for pages and the API: whatever view refused, the answer is a 404.

The table maps URL parameters to models by app label (the app registry, not an
import: this app sits below the apps whose objects it names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse

from console.audit.services import audit_record
from console.core.roles import Cap, has_cap

# URL parameter -> (model label, field holding the id, path to the object's project id)
SCOPED_URL_OBJECTS: dict[str, tuple[str, str, str]] = {
    "job_id": ("jobs.Job", "pk", "project_id"),
    "run_id": ("runs.Run", "pk", "project_id"),
    "dataset_id": ("data.Dataset", "pk", "project_id"),
    "tokenizer_id": ("data.Tokenizer", "pk", "project_id"),
    "corpus_id": ("data.TokenizedCorpus", "pk", "project_id"),
    "review_id": ("governance.Review", "pk", "project_id"),
    "version_id": ("registry.ModelVersion", "pk", "project_id"),
}
# version_id names a dataset version on the data pages and its API routes.
DATASET_VERSION = ("data.DatasetVersion", "pk", "dataset__project_id")
PROJECT = ("projects.Project", "slug", "pk")


def _objects_named(request: HttpRequest) -> list[tuple[Any, tuple[str, str, str]]]:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return []
    named = []
    for param, value in match.kwargs.items():
        target = SCOPED_URL_OBJECTS.get(param)
        if param == "version_id" and (
            "data" in match.namespaces or match.url_name.startswith("dataset-version")
        ):
            target = DATASET_VERSION
        if param == "slug" and match.url_name == "project-detail":
            target = PROJECT
        if target is not None:
            named.append((value, target))
    return named


def audit_cross_project_not_found(request: HttpRequest) -> None:
    """Record the first object the 404'd URL names that lives in a project the user
    is not a member of; nothing when it does not exist or the user may see it."""
    user = getattr(request, "user", None)
    memberships = getattr(user, "memberships", None)  # a node's agent has none
    if memberships is None or not user.is_authenticated or has_cap(user, Cap.ADMIN):
        return
    mine = set(memberships.values_list("project_id", flat=True))
    for value, (label, field, project_path) in _objects_named(request):
        try:
            model = apps.get_model(label)
            project_id = (
                model._base_manager.filter(**{field: value})
                .values_list(project_path, flat=True)
                .first()
            )
        except (LookupError, ValueError, TypeError, OverflowError):
            continue
        if project_id is None or project_id in mine:
            continue
        audit_record(
            action="access.denied",
            actor=user,
            object_type=model._meta.label_lower,
            object_id=str(value),
            object_repr=request.path[:200],
            project_id=project_id,
            after={"status": 404, "method": request.method, "reason": "another project's"},
        )
        return


class CrossProjectNotFoundAuditMiddleware:
    """Audit a 404 that hid another project's object (see the module docstring). Sits
    after AuthenticationMiddleware; API token users are set on the request by DRF."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404:
            audit_cross_project_not_found(request)
        return response
