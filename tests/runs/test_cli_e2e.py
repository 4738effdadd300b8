"""The `forge runs` CLI against real processes (console, Celery worker, a CPU agent):
launch a tiny run and wait for it while the loss is printed, read its loss series,
download its TensorBoard logs; pause, resume and cancel another."""

from __future__ import annotations

import re
import zipfile

import pytest

from console.jobs.models import Job, JobState
from console.runs.models import Checkpoint, Run
from tests.processes import wait_for
from tests.runs.conftest import make_corpus
from tests.test_cli import config_file, forge, token_for  # noqa: F401 - fixtures
from tests.train.conftest import VOCAB

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TINY = [
    "--preset", "tiny", "--gpus-per-node", "0", "--zero-stage", "2",
    "--micro-batch", "4", "--grad-accum", "2", "--checkpoint-every", "5",
]  # fmt: skip


def test_forge_runs_cli_end_to_end(
    personas,
    settings,
    tmp_path,
    tiny_corpus,
    stack,
    forge,  # noqa: F811
    live_server,
):
    settings.FORGE_DATA_DIR = tiny_corpus.parent
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    corpus = make_corpus(personas.project, vocab=VOCAB, seq_len=64, key=tiny_corpus.name)
    # The CLI talks to a console in this process (it sees the data folders set above);
    # the agent and the worker use the stack's, on the same database.
    me = {"url": live_server.url, "token": token_for(personas.ml_engineer)}

    # Long enough (40 steps, checkpoints at 20 and 40) and polled often enough that
    # --wait shows several step lines.
    proc = forge.popen(
        "runs", "create", "--corpus", str(corpus.pk), "--steps", "40", *TINY,
        "--checkpoint-every", "20", "--wait", "--interval", "0.2", **me,
    )  # fmt: skip
    out, err = proc.communicate(timeout=420)
    assert proc.returncode == 0, (out, err, stack["agent"].log()[-3000:])
    run = Run.objects.get()
    assert f"Launched run {run.pk}" in out
    # --wait prints the progress line, which carries the loss as it falls.
    losses = [float(x) for x in re.findall(r"step \d+/40 loss ([0-9.]+)", out)]
    assert losses, out
    assert f"Job {run.job_id} succeeded." in out
    assert "Latest checkpoint: step 40" in out

    shown = forge("runs", "metrics", str(run.pk), **me)
    assert shown.returncode == 0, shown.stderr
    steps = [int(line.split()[0]) for line in shown.stdout.splitlines() if line[:1].isdigit()]
    assert steps[0] == 1 and steps[-1] == 40 and steps == sorted(steps)

    target = tmp_path / "tb.zip"
    saved = forge("runs", "tensorboard", str(run.pk), "-o", str(target), **me)
    assert saved.returncode == 0, saved.stderr
    with zipfile.ZipFile(target) as archive:
        events = [i for i in archive.infolist() if "tfevents" in i.filename]
    assert events and events[0].file_size > 0
    missing = forge("runs", "tensorboard", "999999", "-o", str(tmp_path / "x.zip"), **me)
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()

    # Pause (a checkpoint, then stop), resume from it, cancel.
    launched = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--steps", "500", *TINY, "--json", **me
    )
    assert launched.returncode == 0, launched.stderr
    second = Run.objects.exclude(pk=run.pk).get()
    wait_for(
        lambda: Checkpoint.objects.filter(run=second).exists(),
        timeout=300,
        what=f"a checkpoint\n{stack['agent'].log()[-3000:]}",
    )
    paused = forge("runs", "pause", str(second.pk), **me)
    assert paused.returncode == 0 and "now paused" in paused.stdout, paused.stderr
    resumed = forge("runs", "resume", str(second.pk), **me)
    assert resumed.returncode == 0 and "resumed" in resumed.stdout, resumed.stderr
    wait_for(
        lambda: (
            Job.objects.get(pk=second.job_id).state == JobState.RUNNING
            and Job.objects.get(pk=second.job_id).attempt == 2
        ),
        timeout=180,
        what=f"attempt 2 to run\n{stack['agent'].log()[-3000:]}",
    )
    cancelled = forge("runs", "cancel", str(second.pk), **me)
    assert cancelled.returncode == 0 and "now cancelled" in cancelled.stdout, cancelled.stderr
    assert Job.objects.get(pk=second.job_id).state == JobState.CANCELLED
