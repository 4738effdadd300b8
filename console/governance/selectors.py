"""Governance reads, scoped to the projects the user may see: another team's reviews are
absent (404), like the registry's versions."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from console.governance.models import (
    ChecklistTemplate,
    Decision,
    Review,
    ReviewItem,
    ReviewState,
)
from console.projects.selectors import project_list


def review_list(*, user, state: str = "", version: int | None = None) -> QuerySet[Review]:
    reviews = Review.objects.filter(project__in=project_list(user=user)).select_related(
        "version", "project", "submitted_by"
    )
    if state:
        reviews = reviews.filter(state=state)
    if version:
        reviews = reviews.filter(version_id=version)
    return reviews


def review_get(*, user, review_id: int) -> Review | None:
    return review_list(user=user).filter(pk=review_id).first()


def review_item_get(*, user, review_id: int, item_id: int) -> ReviewItem | None:
    review = review_get(user=user, review_id=review_id)
    if review is None:
        return None
    return review.items.filter(pk=item_id).select_related("review").first()


def reviews_pending_for(*, user) -> QuerySet[Review]:
    """Submitted or in review, not submitted or created by the user, not yet decided by
    them in this round."""
    return (
        review_list(user=user)
        .filter(state__in=[ReviewState.SUBMITTED, ReviewState.IN_REVIEW])
        .exclude(Q(submitted_by=user) | Q(version__created_by=user))
        .exclude(
            Exists(
                Decision.objects.filter(
                    review=OuterRef("pk"), round=OuterRef("round"), reviewer=user
                )
            )
        )
    )


def reviews_submitted_by(*, user) -> QuerySet[Review]:
    return review_list(user=user).filter(submitted_by=user)


def template_list() -> QuerySet[ChecklistTemplate]:
    return ChecklistTemplate.objects.filter(active=True)
