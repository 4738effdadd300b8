from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from console.jobs.models import Job, JobState
from console.projects.models import Membership, Project

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get_or_create(name=str(role))[0])
        if create:
            self.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    project = factory.SubFactory(ProjectFactory)
    kind = "demo.count"
    name = "Demo job"
    state = JobState.QUEUED
    spec = factory.LazyFunction(lambda: {"steps": 3, "step_seconds": 0.0, "fail_at_step": None})
    queue = "pipelines"


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "data.Dataset"

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"dataset-{n}")
    text_field = "text"


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row without files (pages and feedback need no weights); versions made
    by jobs come from tests.registry.conftest.register."""

    class Meta:
        model = "registry.ModelVersion"

    project = factory.SubFactory(ProjectFactory)
    name = "court-lm"
    number = factory.Sequence(lambda n: n + 1)
    folder = factory.Sequence(lambda n: f"factory/{n}")
