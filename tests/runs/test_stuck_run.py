"""The hang of issue 14, item 13, end to end: a tiny CPU run whose DeepSpeed op build
lock is held by another process. Before, the run stayed "running" at 0% with an empty
log forever. Now the agent fails it at its start-up limit, naming the lock, and the
rank's Python stack (DeepSpeed waiting in torch's FileBaton) is on the run's page.

Real processes: the console (gunicorn), a Celery worker, a node agent that starts
DeepSpeed's launcher on CPU, and a process holding the op's build lock the way torch
does while it builds (its FileBaton, kept)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.test import Client

from console.fleet.models import StackDump
from console.jobs.models import Job, JobState
from gpu_agent.supervisor import STUCK_PREFIX
from tests.processes import wait_for
from tests.runs.conftest import _start_stack, _stop_stack, _wait_online, tiny_cpu_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OP = "deepspeed_shm_comm"
STARTUP_LIMIT = 120  # seconds: DeepSpeed reaches its op build well within it on CPU
HOLD = """
import sys, time
from torch.utils.file_baton import FileBaton
baton = FileBaton(sys.argv[1])
assert baton.try_acquire()
print("held", flush=True)
time.sleep(900)
"""


@pytest.fixture
def ext_dir(tmp_path):
    return tmp_path / "torch_extensions"


@pytest.fixture
def holder(ext_dir, tmp_path):
    (ext_dir / OP).mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ext_dir / OP / "lock")],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def stack(tmp_path, personas, ext_dir):
    env = {
        "FORGE_TORCH_EXTENSIONS_DIR": str(ext_dir),
        "FORGE_JOB_STARTUP_TIMEOUT": str(STARTUP_LIMIT),
        "FORGE_AGENT_PREBUILD": "0",
    }
    console, worker, agents = _start_stack(tmp_path, ["cpu-1"], env)
    try:
        _wait_online(["cpu-1"], agents)
        yield {"console": console, "worker": worker, "agent": agents["cpu-1"]}
    finally:
        _stop_stack(tmp_path, console, worker, agents)


def test_a_run_stuck_on_a_build_lock_fails_with_the_reason_and_its_stacks(
    personas, settings, tmp_path, tiny_corpus, ext_dir, holder, stack
):
    run = tiny_cpu_run(
        personas,
        settings,
        tmp_path,
        tiny_corpus,
        steps=4,
        grad_accum=1,
        checkpoint_every=4,
        eval_every=4,
        max_restarts=0,
    )
    wait_for(
        lambda: Job.objects.get(pk=run.job_id).is_terminal,
        timeout=STARTUP_LIMIT + 180,
        what=f"the run to end\n{stack['agent'].log()[-3000:]}",
    )
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.FAILED, (job.state, job.error, job.log_tail[-2000:])
    assert job.error.startswith(
        f"{STUCK_PREFIX} waiting on the build lock of {OP} in {ext_dir} "
        f"(held by pid {holder.pid} for "
    ), job.error
    assert job.error.endswith(f"no first record after {STARTUP_LIMIT} s")
    assert holder.poll() is None and (ext_dir / OP / "lock").exists()  # a live build's: kept

    [dump] = StackDump.objects.filter(job_id=run.job_id)
    assert dump.reason == job.error
    ranks = [p for p in dump.processes if p["label"].startswith("rank 0")]
    assert ranks and ranks[0]["method"] == "py-spy"
    assert "file_baton" in ranks[0]["text"] and "build_shm_op" in ranks[0]["text"]
    assert any(p["label"] == "launcher" for p in dump.processes)

    client = Client()
    client.force_login(personas.viewer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "stuck before the first step: waiting on the build lock of" in page
    panel = client.get(f"/alerts/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert f'id="stacks-{dump.pk}"' in panel and "Stacks at" in panel
    assert "build_shm_op" in panel and "rank 0 (local 0)" in panel


@pytest.fixture
def plain_stack(tmp_path, personas):
    """console + worker + agent, on this install's prebuilt ops."""
    console, worker, agents = _start_stack(tmp_path, ["cpu-1"], {"FORGE_AGENT_PREBUILD": "0"})
    try:
        _wait_online(["cpu-1"], agents)
        yield {"console": console, "worker": worker, "agent": agents["cpu-1"]}
    finally:
        _stop_stack(tmp_path, console, worker, agents)


def test_a_run_that_stalls_mid_training_gets_its_stacks_on_the_alert(
    personas, settings, tmp_path, tiny_corpus, plain_stack
):
    """The rank hangs writing its step-4 checkpoint (a FIFO stands where its file goes,
    as a hung filesystem would hold the write): the stall alert fires, asks the node,
    and the rank's stack (in torch.save, under save_checkpoint) is on the alert."""
    import os

    from console.alerts import evaluate
    from console.alerts.models import Alert, AlertRule
    from console.jobs.services import job_cancel
    from console.metrics.selectors import metric_points

    run = tiny_cpu_run(
        personas,
        settings,
        tmp_path,
        tiny_corpus,
        steps=8,
        grad_accum=1,
        checkpoint_every=4,
        eval_every=8,
        max_restarts=0,
    )
    step_dir = tmp_path / "runs" / str(run.pk) / "step_4"
    step_dir.mkdir(parents=True)
    os.mkfifo(step_dir / "mp_rank_00_model_states.pt")
    AlertRule.objects.filter(run=run, name="metrics-stalled").update(window=5)

    wait_for(
        lambda: list(metric_points(job_id=run.job_id, name="loss")[0]) == [1, 2, 3, 4],
        timeout=300,
        interval=0.5,
        what=f"steps 1-4 (job {Job.objects.get(pk=run.job_id).state})\n"
        f"{plain_stack['agent'].log()[-3000:]}\n{plain_stack['worker'].log()[-2000:]}",
    )

    def fired() -> bool:
        evaluate.evaluate_periodic()
        return Alert.objects.filter(run=run, rule__name="metrics-stalled").exists()

    wait_for(fired, timeout=60, interval=1, what="the stall alert")
    wait_for(
        lambda: StackDump.objects.filter(job_id=run.job_id).exists(),
        timeout=60,
        what=f"the stacks\n{plain_stack['agent'].log()[-3000:]}",
    )
    [dump] = StackDump.objects.filter(job_id=run.job_id)
    assert dump.reason.startswith("metrics-stalled: no new metric point for ")
    [rank] = [p for p in dump.processes if p["label"].startswith("rank 0")]
    assert rank["method"] == "py-spy"
    assert "save_checkpoint" in rank["text"] and "torch/serialization.py" in rank["text"]
    assert Job.objects.get(pk=run.job_id).state == JobState.RUNNING  # nothing was stopped

    client = Client()
    client.force_login(personas.viewer)
    panel = client.get(f"/alerts/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert f'href="#stacks-{dump.pk}" data-testid="alert-stacks"' in panel
    assert "save_checkpoint" in panel
    job_cancel(actor=personas.ml_engineer, job_id=run.job_id)
