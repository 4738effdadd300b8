"""A planted pickle in a run's checkpoint folder never runs (S10), through a real agent.

DeepSpeed reads checkpoints with ``torch.load(weights_only=False)``. Someone who can
write to the checkpoint storage plants a "complete" checkpoint whose model file runs
code when unpickled; the run resumes from it. The training process must refuse the
file (gpu_agent.train.safe_load), fail the run at once with the reason (no retry:
it would fail the same way), and the payload must never run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from console.jobs.models import Job, JobState
from console.jobs.services import job_dispatch_if_due
from tests.processes import wait_for
from tests.runs.conftest import tiny_cpu_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def plant(folder: Path, marker: Path) -> Path:
    """A checkpoint tag that looks complete, whose model states run code when unpickled."""
    folder.mkdir(parents=True)
    code = (
        "import torch\n"
        "class Payload:\n"
        "    def __reduce__(self):\n"
        f"        return (exec, ({f'open({str(marker)!r}, chr(119)).write(chr(120))'!r},))\n"
        f"torch.save({{'module': Payload()}}, {str(folder / 'mp_rank_00_model_states.pt')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    (folder / "forge_complete.json").write_text(json.dumps({"step": 5, "tag": folder.name}))
    return folder / "mp_rank_00_model_states.pt"


def test_a_planted_pickle_fails_the_run_and_never_runs(
    personas, settings, tmp_path, tiny_corpus, stack
):
    run = tiny_cpu_run(
        personas,
        settings,
        tmp_path,
        tiny_corpus,
        checkpoint_every=100,
        eval_every=100,
        not_before=timezone.now() + timedelta(hours=2),  # held while the file is planted
    )
    marker = tmp_path / "pwned"
    evil = plant(tmp_path / "runs" / str(run.pk) / "step_5", marker)
    # The time comes (as the reconciler would find it): dispatched to the agent.
    Job.objects.filter(pk=run.job_id).update(not_before=timezone.now())
    job_dispatch_if_due(job_id=run.job_id)

    wait_for(
        lambda: Job.objects.get(pk=run.job_id).is_terminal,
        timeout=420,
        what=f"the run to end\n{stack['agent'].log()[-3000:]}",
    )
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.FAILED, (job.state, job.error)
    assert "refused to load" in job.error and "mp_rank_00_model_states.pt" in job.error
    assert job.attempt == 1  # not retried: the same file would be refused again (R10)
    assert not marker.exists()

    # The payload is live: an ordinary torch.load of the same file runs it.
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import torch; torch.load({str(evil)!r}, weights_only=False)",
        ],
        check=True,
    )
    assert marker.read_text() == "x"
