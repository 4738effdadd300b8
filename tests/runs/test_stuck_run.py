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
from console.runs import services
from gpu_agent.supervisor import STUCK_PREFIX
from tests.processes import wait_for
from tests.runs.conftest import _start_stack, _stop_stack, _wait_online, make_corpus
from tests.train.conftest import VOCAB

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
    settings.FORGE_DATA_DIR = tiny_corpus.parent
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    corpus = make_corpus(personas.project, vocab=VOCAB, seq_len=64, key=tiny_corpus.name)
    run = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        preset="tiny",
        steps=4,
        micro_batch=4,
        grad_accum=1,
        zero_stage=2,
        gpus_per_node=0,
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
