"""Shared fixtures: personas (one user per role, plus an outsider), projects, API clients."""

from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import dataclass

import pytest
from django.db import connection
from rest_framework.test import APIClient

from console.accounts.services import api_token_create
from console.core.roles import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

ROLE_USERNAMES = {
    Role.VIEWER: "vera_viewer",
    Role.DATA_ENGINEER: "dana_data",
    Role.ML_ENGINEER: "milo_ml",
    Role.REVIEWER: "rita_reviewer",
    Role.ADMIN: "ada_admin",
}


@dataclass
class Personas:
    viewer: object
    data_engineer: object
    ml_engineer: object
    reviewer: object
    admin: object
    outsider: object  # logged in, no role, no project: must see nothing
    stranger: object  # an ML engineer of another team (project beta)
    project: object
    other_project: object

    def by_role(self) -> dict[str, object]:
        return {
            "viewer": self.viewer,
            "data_engineer": self.data_engineer,
            "ml_engineer": self.ml_engineer,
            "reviewer": self.reviewer,
            "admin": self.admin,
            "outsider": self.outsider,
        }


@pytest.fixture
def personas(db) -> Personas:
    project = ProjectFactory(slug="alpha", name="Alpha team")
    other = ProjectFactory(slug="beta", name="Beta team")
    users = {
        role: UserFactory(username=name, roles=[role]) for role, name in ROLE_USERNAMES.items()
    }
    for user in users.values():
        MembershipFactory(project=project, user=user)
    outsider = UserFactory(username="otto_outsider")
    stranger = UserFactory(username="sam_stranger", roles=[Role.ML_ENGINEER])
    MembershipFactory(project=other, user=stranger)
    return Personas(
        viewer=users[Role.VIEWER],
        data_engineer=users[Role.DATA_ENGINEER],
        ml_engineer=users[Role.ML_ENGINEER],
        reviewer=users[Role.REVIEWER],
        admin=users[Role.ADMIN],
        outsider=outsider,
        stranger=stranger,
        project=project,
        other_project=other,
    )


@pytest.fixture
def api():
    """api(user) -> an APIClient authenticating with a fresh token of that user."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            key = api_token_create(user=user, name="test").key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL): SQLite has no triggers/row locks to test")


@pytest.fixture(scope="session", autouse=True)
def _run_dir_cleanup():
    """Remove this run's broker folder (and SQLite test database) at the end."""
    yield
    import shutil

    from django.conf import settings

    shutil.rmtree(settings.VAR_DIR / "runs" / settings.RUN_ID, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    """DeepSpeed's CPU op leaves 66 MB per rank in /dev/shm; runs whose agent was torn
    down mid-run leave theirs to the next sweep. Nothing a live process maps goes, so
    another worker's running job keeps its buffers (gpu_agent.shm)."""
    from gpu_agent import shm

    shm.sweep()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Longest first, within pytest-django's order. pytest-django runs tests in the
    database's transaction before the transactional ones (which empty the tables the
    migrations seed) and those before the ones without a database; `make test` hands
    tests out with pytest-xdist's --dist loadgroup in list order, so each worker keeps that
    order. Within it: tests that start real processes (marked slow) first, then browser
    tests, then the rest; the slow tests without a database go before everything (they
    touch no table), so the run does not end with idle workers waiting on one long test
    that happened to start last."""

    def key(item: pytest.Item) -> tuple[int, int]:
        fixtures = set(getattr(item, "fixturenames", ()))
        marker = item.get_closest_marker("django_db")
        transactional = bool(
            (marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
            or fixtures & {"transactional_db", "live_server"}
        )
        uses_db = bool(marker) or "db" in fixtures or transactional
        slow = item.get_closest_marker("slow") is not None
        if not uses_db:
            return (0, 0) if slow else (3, 0)
        speed = 0 if slow else 1 if item.get_closest_marker("browser") else 2
        return (2 if transactional else 1, speed)

    items.sort(key=key)


# FORGE_TEST_CPU=path: each test's CPU seconds (this worker's plus the children it waited
# for: the processes a test starts and stops), one JSON line per test phase, appended to
# path. The suite is CPU-bound on a 2-core CI machine, and wall times under six workers
# mostly measure waiting: this says which tests cost the machine's time.
_CPU_REPORT = os.environ.get("FORGE_TEST_CPU")


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _CPU_REPORT:
        yield
        return
    start, wall = _cpu_seconds(), time.monotonic()
    yield
    line = {
        "test": item.nodeid,
        "cpu_s": round(_cpu_seconds() - start, 2),
        "wall_s": round(time.monotonic() - wall, 2),
    }
    with open(_CPU_REPORT, "a") as fh:
        fh.write(json.dumps(line) + "\n")
