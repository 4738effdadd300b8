"""Controlling a tiny run with real processes (console, Celery worker, agent, DeepSpeed on
CPU): pause then resume from the pause's checkpoint; a killed rank restarted from the
latest complete checkpoint as a new attempt; cancel ends the process group at once.

Each test acts once the run's first checkpoint is registered: by then the ranks are
in the step loop, with no sleep to guess it."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import psutil
import pytest

from console.jobs import services as jobs
from console.jobs.models import Job, JobState
from console.metrics.models import MetricChunk
from console.runs.models import Checkpoint, Run
from gpu_agent.spec import STDOUT_MARKER
from gpu_agent.train import checkpoints
from tests.processes import (
    wait_for,
)
from tests.runs.conftest import shm_buffers, tiny_cpu_run, wait_shm_released

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def launch(personas, settings, tmp_path, tiny_corpus, stack):

    def make(steps: int) -> Run:
        return tiny_cpu_run(personas, settings, tmp_path, tiny_corpus, steps=steps)

    return make


def attempt_dir(tmp_path: Path, run: Run, attempt: int) -> Path:
    return tmp_path / "agent" / "jobs" / f"{run.job_id}-{attempt}"


def rank_steps(tmp_path: Path, run: Run, attempt: int) -> list[int]:
    """The steps an attempt's rank has printed so far: its metric records in its stdout on
    the node (the supervisor's stdout.log, written as the rank prints)."""
    path = attempt_dir(tmp_path, run, attempt) / "stdout.log"
    steps = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        if line.startswith(STDOUT_MARKER):
            try:
                record = json.loads(line[len(STDOUT_MARKER) :])
            except ValueError:
                continue  # the line being written
            if record.get("type") == "metric":
                steps.append(record["step"])
    return steps


def loss_by_attempt(run: Run, attempt: int) -> tuple[list[int], list[float]]:
    chunks = MetricChunk.objects.filter(job_id=run.job_id, attempt=attempt, name="loss")
    steps: list[int] = []
    values: list[float] = []
    for raw_steps, raw_values in chunks.order_by("id").values_list("steps", "values"):
        steps.extend(np.frombuffer(raw_steps, dtype="<i8").tolist())
        values.extend(np.frombuffer(raw_values, dtype="<f8").tolist())
    return steps, values


def first_checkpoint(run: Run, stack) -> None:
    """Wait until the run registered its first checkpoint (it is well into its steps)."""

    def registered() -> bool:
        job = Job.objects.get(pk=run.job_id)
        assert not job.is_terminal, (job.state, job.error, job.log_tail[-3000:])
        return Checkpoint.objects.filter(run=run).exists()

    wait_for(registered, timeout=300, what=f"a checkpoint\n{stack['agent'].log()[-3000:]}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ended(run: Run, stack, timeout: float = 420) -> Job:
    wait_for(
        lambda: Job.objects.get(pk=run.job_id).is_terminal,
        timeout=timeout,
        what=f"the run to end\n{stack['agent'].log()[-3000:]}",
    )
    return Job.objects.get(pk=run.job_id)


def test_pause_saves_a_checkpoint_and_resume_continues_from_it(personas, tmp_path, launch, stack):
    run = launch(steps=30)
    first_checkpoint(run, stack)
    jobs.job_pause(actor=personas.ml_engineer, job_id=run.job_id)
    first = attempt_dir(tmp_path, run, 1)
    pgid = int((first / "wrapper.pid").read_text())
    # SIGTERM: the rank finishes its step, saves, exits; the whole group is gone.
    wait_for(lambda: not group_alive(pgid), timeout=30, what="the paused run's processes to end")
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.PAUSED
    stdout = (first / "stdout.log").read_text()
    assert "after saving a checkpoint" in stdout, stdout[-3000:]
    paused_at = checkpoints.latest_complete(Path(run.spec["checkpoint"]["dir"]))
    assert paused_at is not None and 5 <= paused_at < 30
    assert f"stopped at step {paused_at} after saving a checkpoint" in stdout
    # The stopping attempt's last records still count: every step up to the pause and the
    # checkpoint it saved on the way out, announced through its stream.
    wait_for(
        lambda: Checkpoint.objects.filter(run=run, step=paused_at).exists(),
        timeout=30,
        what="the pause checkpoint to arrive through the stream",
    )
    assert loss_by_attempt(run, 1)[0] == list(range(1, paused_at + 1))
    assert Checkpoint.objects.filter(run=run).first().step == paused_at

    jobs.job_resume(actor=personas.ml_engineer, job_id=run.job_id)
    job = wait_ended(run, stack)
    assert job.state == JobState.SUCCEEDED, (job.error, job.log_tail[-3000:])
    assert job.attempt == 2
    second = (attempt_dir(tmp_path, run, 2) / "stdout.log").read_text()
    assert f"resumed from checkpoint step {paused_at}" in second
    before_steps, before = loss_by_attempt(run, 1)
    after_steps, after = loss_by_attempt(run, 2)
    # The new attempt trains exactly the steps after the checkpoint, none before it.
    assert after_steps == list(range(paused_at + 1, 31))
    assert before_steps == list(range(1, paused_at + 1))
    # The loss curve continues where it was, not from an untrained model.
    # (An untrained model starts near ln(512) = 6.24 again.)
    # Within the spread of the last steps before the pause (batch-to-batch noise is
    # about 0.1 here), and far below an untrained model's first loss.
    assert after[0] < max(before[-5:]) + 0.05, (paused_at, before, after)
    assert after[0] < before[0] - 0.2, (paused_at, before, after)
    assert after[-1] < after[0], after
    assert sorted(Checkpoint.objects.filter(run=run).values_list("step", flat=True))[-1] == 30


def test_a_killed_rank_restarts_from_the_latest_checkpoint(personas, tmp_path, launch, stack):
    run = launch(steps=20)
    first_checkpoint(run, stack)
    agent = psutil.Process(stack["agent"].proc.pid)
    ranks = [
        p
        for p in agent.children(recursive=True)
        if "gpu_agent.train" in p.cmdline() and "deepspeed.launcher.launch" not in p.cmdline()
    ]
    assert len(ranks) == 1, [p.cmdline() for p in agent.children(recursive=True)]
    registered = max(Checkpoint.objects.filter(run=run).values_list("step", flat=True))

    # Mid-run: a step after the checkpoint was trained, so there is work to lose and train
    # again; early in a checkpoint interval (every 5 steps), so the next save is 3 or more
    # steps away. Read from the rank's own output on the node, not from the reports the
    # console has ingested: on a loaded machine those lag the rank by many steps, and a
    # kill decided on them could land after the last save (nothing left to train again).
    def early_in_an_interval() -> bool:
        steps = rank_steps(tmp_path, run, 1)
        return bool(steps) and steps[-1] > registered and steps[-1] % 5 in (1, 2)

    wait_for(early_in_an_interval, timeout=60, interval=0.05, what="a step early in an interval")
    ranks[0].send_signal(signal.SIGKILL)

    job = wait_ended(run, stack)
    assert job.state == JobState.SUCCEEDED, (job.error, job.log_tail[-3000:])
    assert job.attempt == 2
    killed_steps, killed = loss_by_attempt(run, 1)
    after_steps, after = loss_by_attempt(run, 2)
    resumed = after_steps[0] - 1
    second = (attempt_dir(tmp_path, run, 2) / "stdout.log").read_text()
    assert f"resumed from checkpoint step {resumed}" in second
    # The latest complete checkpoint when the rank died (maybe one saved after we looked).
    assert resumed >= registered and resumed % 5 == 0
    assert resumed <= killed_steps[-1]
    # Steps after the checkpoint are trained again, none before it.
    assert after_steps == list(range(resumed + 1, 21))
    # From the checkpoint's weights, optimizer and data position: the steps trained
    # again give the losses they gave before the kill (the batches are deterministic).
    again = [
        (before, after[after_steps.index(step)])
        for step, before in zip(killed_steps, killed, strict=True)
        if step > resumed
    ]
    assert again and all(abs(a - b) < 0.02 for a, b in again), again
    assert after[-1] < after[0] < killed[0], (killed, after)
    assert sorted(Checkpoint.objects.filter(run=run).values_list("step", flat=True))[-1] == 20


def test_cancel_ends_the_process_group_within_seconds(personas, tmp_path, launch, stack):
    run = launch(steps=200)
    first_checkpoint(run, stack)
    pgid = int((attempt_dir(tmp_path, run, 1) / "wrapper.pid").read_text())
    assert group_alive(pgid)
    assert shm_buffers(attempt_dir(tmp_path, run, 1)), "a CPU run's ranks map their buffers"
    jobs.job_cancel(actor=personas.ml_engineer, job_id=run.job_id)
    wait_for(lambda: not group_alive(pgid), timeout=15, what="the run's processes to end")
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.CANCELLED
    assert job.attempt == 1
    wait_shm_released(attempt_dir(tmp_path, run, 1), stack)


@pytest.mark.agent_env(FORGE_TRAIN_CRASH_AT="0:3")
def test_a_rank_that_keeps_crashing_fails_the_run_with_its_traceback(
    personas, settings, tmp_path, tiny_corpus, stack, client
):
    """Every attempt's rank 0 raises at step 3: restarted max_restarts times, then failed
    with that rank's own traceback as the reason, shown on the run page."""
    run = tiny_cpu_run(personas, settings, tmp_path, tiny_corpus, steps=20, max_restarts=1)
    job = wait_ended(run, stack)
    assert job.state == JobState.FAILED
    assert job.attempt == 2  # the first attempt and one restart
    assert "gave up after 2 attempts" in job.error
    assert "RuntimeError: injected fault (FORGE_TRAIN_CRASH_AT) at step 3" in job.error
    # The error is the message; the crashed rank's whole traceback is on the job's log.
    assert "Traceback (most recent call last)" not in job.error
    assert "rank 0 (local rank 0)" in job.log_tail
    assert "Traceback (most recent call last)" in job.log_tail
    client.force_login(personas.ml_engineer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "RuntimeError: injected fault" in page and "gave up after 2 attempts" in page
