"""The job lifecycle's effects are one explicit, ordered list (settings.LIFECYCLE_EFFECTS,
run through console.core.effects): each event runs its effects in the listed order, and
a real job leaving an active state gets every effect (GPUs released, then energy)."""

from __future__ import annotations

import ast
import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings
from django.utils import timezone

from console.core.effects import EVENTS, effects, effects_problems
from console.energy.models import JobUsage
from console.jobs.models import JobState
from console.jobs.services import job_schedule, job_transition
from tests.energy.conftest import allocate, make_job, make_node, samples
from tests.factories import JobFactory

ROOT = Path(__file__).resolve().parent.parent

# The order the hooks had when apps appended them in ready() (INSTALLED_APPS order).
JOB_LEFT_ACTIVE = [
    "console.fleet.services.allocations.allocation_release_for_job",
    "console.data.services.data_job_left_active",
    "console.registry.services.model_job_left_active",
    "console.governance.services.review_check_left_active",
    "console.energy.services.job_left_active",
]

calls: list[tuple[str, object]] = []


def first(*args, **kwargs) -> None:
    calls.append(("first", args or kwargs))


def second(*args, **kwargs) -> None:
    calls.append(("second", args or kwargs))


def broken(*args, **kwargs) -> None:
    calls.append(("broken", args))
    raise RuntimeError("a planner that fails")


@pytest.fixture(autouse=True)
def _fresh_calls():
    calls.clear()


def test_the_lists_are_explicit_and_resolve():
    assert settings.LIFECYCLE_EFFECTS["job_left_active"] == JOB_LEFT_ACTIVE
    assert settings.LIFECYCLE_EFFECTS["before_schedule"] == [
        "console.carbon.services.job_plan_on_schedule"
    ]
    assert settings.LIFECYCLE_EFFECTS["checkpoint"] == [
        "console.runs.services.run_checkpoint_announced"
    ]
    assert settings.LIFECYCLE_EFFECTS["metrics"] == ["console.alerts.evaluate.on_metrics"]
    assert settings.LIFECYCLE_EFFECTS["run_created"] == [
        "console.alerts.services.rules_create_defaults"
    ]
    assert set(settings.LIFECYCLE_EFFECTS) == set(EVENTS)
    names = [f"{f.__module__}.{f.__qualname__}" for f in effects("job_left_active")]
    assert names == JOB_LEFT_ACTIVE
    assert effects_problems() == []
    with pytest.raises(KeyError):
        effects("job_finished")


def test_no_app_registers_effects_or_signals_in_ready():
    assert importlib.util.find_spec("console.jobs.hooks") is None
    for apps_py in sorted((ROOT / "console").glob("*/apps.py")):
        source = apps_py.read_text()
        tree = ast.parse(source)
        calls_made = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert not calls_made & {"append", "connect"}, apps_py
        assert "signals" not in source, apps_py


@pytest.mark.django_db
@override_settings(
    LIFECYCLE_EFFECTS={
        **settings.LIFECYCLE_EFFECTS,
        "job_left_active": ["tests.test_lifecycle.second", "tests.test_lifecycle.first"],
    }
)
def test_job_left_active_runs_the_list_in_its_order(personas):
    job = JobFactory(project=personas.project, state=JobState.RUNNING)
    job_transition(job_id=job.pk, to=JobState.PAUSED)  # not an active state: effects run
    assert calls == [("second", (job.pk,)), ("first", (job.pk,))]
    calls.clear()
    job_transition(job_id=job.pk, to=JobState.QUEUED)  # paused -> queued: never active
    assert calls == []


@pytest.mark.django_db
@override_settings(
    LIFECYCLE_EFFECTS={
        **settings.LIFECYCLE_EFFECTS,
        "before_schedule": ["tests.test_lifecycle.broken", "tests.test_lifecycle.first"],
    }
)
def test_before_schedule_runs_in_order_and_a_failure_never_keeps_a_job(personas):
    job = JobFactory(project=personas.project, state=JobState.QUEUED)
    scheduled = job_schedule(job_id=job.pk)
    assert [name for name, _ in calls] == ["broken", "first"]
    assert calls[1][1][0].pk == job.pk  # the locked row
    assert scheduled is not None


@pytest.mark.django_db
@override_settings(
    LIFECYCLE_EFFECTS={**settings.LIFECYCLE_EFFECTS, "metrics": ["tests.test_lifecycle.nope"]}
)
def test_a_bad_entry_is_a_system_check_error():
    assert any("tests.test_lifecycle.nope" in p for p in effects_problems())
    assert "core.E001" in {message.id for message in run_checks()}


@pytest.mark.django_db
def test_a_job_leaving_running_gets_every_effect_in_order(
    personas, settings, django_capture_on_commit_callbacks
):
    settings.FORGE_CARBON_PROVIDER = "constant"
    settings.FORGE_CARBON_CONSTANT = 250.0
    node = make_node("gpu-l", gpus=2)
    start = timezone.now() - timedelta(minutes=10)
    job = make_job(personas.project, state=JobState.RUNNING, started_at=start)
    allocation = allocate(job, node, [0, 1], start=start, end=None)
    for index in (0, 1):
        samples(node, index, start=start, end=timezone.now(), watts=300.0)
    with django_capture_on_commit_callbacks(execute=True):
        job_transition(job_id=job.pk, to=JobState.SUCCEEDED)
    allocation.refresh_from_db()
    assert allocation.released_at is not None  # fleet: the GPUs are free again
    assert not allocation.held.filter(active=True).exists()
    usage = JobUsage.objects.get(job=job)  # energy: figures taken on commit ...
    assert usage.breakdown[0]["open"] is False  # ... after fleet released the allocation
    assert usage.energy_kwh == pytest.approx(2 * 300 * (10 / 60) / 1000, rel=0.02)
