"""Fixtures for run approval: a project policy, a held CPU run."""

from __future__ import annotations

import pytest

from console.policies.models import RunApprovalPolicy
from console.runs import services
from tests.fleet.conftest import make_node  # noqa: F401 - a fixture
from tests.runs.conftest import CPU_RUN, corpus, data_dir  # noqa: F401 - fixtures


@pytest.fixture
def policy(personas):
    return RunApprovalPolicy.objects.create(project=personas.project, presets=["tiny"])


def launch(user, project, corpus, **overrides):  # noqa: F811
    return services.run_create(
        actor=user, project=project, corpus=corpus, **{**CPU_RUN, **overrides}
    )
