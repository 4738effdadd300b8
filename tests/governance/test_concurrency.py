"""RELIABILITY S2 on PostgreSQL: decisions arriving at once, on separate connections,
produce exactly one final state (the review row is locked with SELECT … FOR UPDATE)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from console.audit.models import AuditEvent
from console.core.errors import Conflict
from console.governance import services
from console.governance.models import Decision, Review, ReviewState
from console.registry.models import Status
from tests.governance.conftest import fill_evidence, make_version, seed_templates


def race(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = []

    def run(call) -> None:
        try:
            barrier.wait(timeout=10)
            try:
                results.append(call().state)
            except Conflict as exc:
                results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == len(calls)
    return results


@pytest.fixture
def widened(monkeypatch):
    """Hold each decision, after its row is written and before approvals are counted,
    until the other decision is there too (or 1 s passed): without the row lock both
    would count only their own approval; with it, the second waits at the lock."""
    arrived = threading.Condition()
    count = [0]
    real = services._audit

    def audit(action, actor, review, **after):
        real(action, actor, review, **after)
        if action in ("review.approve", "review.reject"):
            with arrived:
                count[0] += 1
                arrived.notify_all()
                arrived.wait_for(lambda: count[0] >= 2, timeout=1.0)

    monkeypatch.setattr(services, "_audit", audit)


def submitted_review(personas, required: int) -> Review:
    template = seed_templates()
    version = make_version(personas.project, personas.ml_engineer)
    review = services.review_open(actor=personas.ml_engineer, version=version, template=template)
    Review.objects.filter(pk=review.pk).update(required_approvers=required)
    fill_evidence(review, personas.ml_engineer)
    services.review_submit(actor=personas.ml_engineer, review=review)
    # picked up already, so no decision's own UPDATE of the row serializes the race
    return services.review_start(actor=personas.admin, review=review)


@pytest.mark.parametrize("required", [1, 2])
def test_two_approvals_at_once(
    postgres_only, personas, second_reviewer, transactional_db, required
):
    review = submitted_review(personas, required)
    results = race(
        [
            lambda: services.review_approve(actor=personas.reviewer, review=review),
            lambda: services.review_approve(actor=second_reviewer, review=review),
        ]
    )
    review.refresh_from_db()
    review.version.refresh_from_db()
    assert review.state == ReviewState.APPROVED
    assert review.version.status == Status.APPROVED
    approved_once = AuditEvent.objects.filter(
        action="model.status", object_id=str(review.version_id), after__status="approved"
    )
    assert approved_once.count() == 1
    assert (
        AuditEvent.objects.filter(action="review.approved", object_id=str(review.pk)).count() == 1
    )
    if required == 1:  # the first one decides; the second arrives after a final state
        assert sum(isinstance(r, Conflict) for r in results) == 1
        assert Decision.objects.filter(review=review).count() == 1
    else:
        assert Decision.objects.filter(review=review).count() == 2


def test_approval_and_rejection_at_once(
    postgres_only, personas, second_reviewer, transactional_db, widened
):
    review = submitted_review(personas, 1)
    results = race(
        [
            lambda: services.review_approve(actor=personas.reviewer, review=review),
            lambda: services.review_reject(actor=second_reviewer, review=review, comment="no"),
        ]
    )
    review.refresh_from_db()
    review.version.refresh_from_db()
    assert review.state in (ReviewState.APPROVED, ReviewState.REJECTED)
    assert sum(isinstance(r, Conflict) for r in results) == 1
    expected = Status.APPROVED if review.state == ReviewState.APPROVED else Status.DRAFT
    assert review.version.status == expected
    assert Decision.objects.filter(review=review).count() == 1
