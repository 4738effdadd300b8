"""The demo project `make run` loads, so a new user sees a working console at once."""

from __future__ import annotations

from django.db import transaction

from console.data.services import dataset_sample_load
from console.jobs.services import job_submit
from console.projects.models import Project
from console.projects.services import project_create, project_member_add

DEMO_SLUG = "demo"


@transaction.atomic
def demo_load(*, admin) -> Project | None:
    """Create the demo project with the admin as member, a first demo job and the sample
    corpus as a dataset (ingested by a job).

    Idempotent: returns None when the project already exists (a demo project made
    before datasets existed gets the sample corpus then).
    """
    existing = Project.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        dataset_sample_load(actor=admin, project=existing)
        return None
    project = project_create(
        actor=admin,
        slug=DEMO_SLUG,
        name="Demo: clinical-notes assistant",
        description=(
            "A sample project: a small LLM for summarising de-identified clinical notes. "
            "Its first job is a synthetic workload that shows progress, logs and checkpoints."
        ),
    )
    project_member_add(actor=admin, project=project, user=admin)
    job_submit(
        actor=admin,
        project=project,
        kind="demo.count",
        params={"steps": 30, "step_seconds": 0.5},
        name="Warm-up: synthetic workload",
    )
    # The shipped sample corpus, ingested by a real data.ingest job once the worker runs.
    dataset_sample_load(actor=admin, project=project)
    return project
