"""Governance fixtures: a draft model version of project alpha, the seeded "Model
release" checklist, a second reviewer, and a lead (ML engineer and reviewer, staff) who
creates and submits versions: the persona every self-approval test tries."""

from __future__ import annotations

import importlib
import itertools

import pytest
from django.apps import apps

from console.core.roles import Role
from console.governance import services
from console.governance.models import ChecklistTemplate, Review
from console.registry.models import ModelVersion
from tests.factories import MembershipFactory, UserFactory

_numbers = itertools.count(1)
seed_migration = importlib.import_module("console.governance.migrations.0002_seed_model_release")


def seed_templates() -> ChecklistTemplate:
    """The seeded template (re-seeded when a transactional test flushed it)."""
    seed_migration.seed(apps, None)
    return ChecklistTemplate.objects.get(name="Model release")


def make_version(project, creator, name: str = "court-lm") -> ModelVersion:
    n = next(_numbers)
    return ModelVersion.objects.create(
        project=project,
        name=name,
        number=n,
        folder=f"test-governance/{name}-{n}",
        files=[],
        created_by=creator,
    )


def fill_evidence(review: Review, actor) -> None:
    for item in review.items.all():
        services.review_item_update(actor=actor, item=item, text=f"Evidence for {item.key}.")


@pytest.fixture
def template(db) -> ChecklistTemplate:
    return seed_templates()


@pytest.fixture
def second_reviewer(personas):
    user = UserFactory(username="rex_reviewer", roles=[Role.REVIEWER], is_staff=True)
    MembershipFactory(project=personas.project, user=user)
    return user


@pytest.fixture
def lead(personas):
    """An ML engineer who is also a reviewer (and staff): may create, submit and review,
    but never sign off their own work."""
    user = UserFactory(username="lea_lead", roles=[Role.ML_ENGINEER, Role.REVIEWER], is_staff=True)
    MembershipFactory(project=personas.project, user=user)
    return user


@pytest.fixture
def version(personas) -> ModelVersion:
    return make_version(personas.project, personas.ml_engineer)


@pytest.fixture
def submitted(personas, version, template) -> Review:
    """A review of ``version`` opened, filled and submitted by the ML engineer."""
    review = services.review_open(actor=personas.ml_engineer, version=version, template=template)
    fill_evidence(review, personas.ml_engineer)
    return services.review_submit(actor=personas.ml_engineer, review=review)


@pytest.fixture
def lead_review(personas, lead, template) -> Review:
    """A version created by the lead, its review submitted by the lead."""
    version = make_version(personas.project, lead, name="lead-lm")
    review = services.review_open(actor=lead, version=version, template=template)
    fill_evidence(review, lead)
    return services.review_submit(actor=lead, review=review)
