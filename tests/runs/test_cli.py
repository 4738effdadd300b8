from __future__ import annotations

import json

import pytest

from console.runs.models import Run
from tests.test_cli import config_file, forge, milo  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_runs_create_list_show(forge, milo, personas, corpus):  # noqa: F811
    result = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--preset", "tiny", "--steps", "12",
        "--gpus-per-node", "0", "--zero-stage", "2", "--grad-accum", "2", "--json",
        **milo,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    run = Run.objects.get(pk=data["id"])
    assert run.project == personas.project and run.spec["steps"] == 12
    listed = forge("runs", "list", **milo)
    assert listed.returncode == 0 and f"{run.pk}" in listed.stdout and "tiny" in listed.stdout
    shown = forge("runs", "show", str(run.pk), **milo)
    assert shown.returncode == 0 and f"Run {run.pk}:" in shown.stdout
    bad = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--preset", "huge", "--steps", "5",
        "--gpus-per-node", "0", **milo,
    )  # fmt: skip
    assert bad.returncode == 1 and "unknown preset" in bad.stderr
    assert forge("runs", "show", "999999", **milo).returncode == 1
