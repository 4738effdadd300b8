"""A two-node run with real processes: two agents on this machine (each its own node,
work dir and queue), one CPU rank each over gloo, meeting at the rendezvous the console
chose. It trains and checkpoints like a single-node run; a rank killed on one node
restarts the whole group from the latest complete checkpoint."""

from __future__ import annotations

import json
import signal

import psutil
import pytest

from console.fleet.models import Allocation
from console.jobs.models import Job, JobState
from console.metrics.selectors import metric_points
from console.runs import services
from console.runs.models import Checkpoint, Run
from tests.processes import wait_for
from tests.runs.conftest import make_corpus
from tests.runs.test_control import loss_by_attempt
from tests.train.conftest import VOCAB

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def launch(personas, settings, tmp_path, tiny_corpus, two_node_stack):
    settings.FORGE_DATA_DIR = tiny_corpus.parent
    settings.FORGE_RUNS_DIR = tmp_path / "runs"  # one folder both nodes see (shared storage)
    corpus = make_corpus(personas.project, vocab=VOCAB, seq_len=64, key=tiny_corpus.name)

    def make(steps: int) -> Run:
        return services.run_create(
            actor=personas.ml_engineer,
            project=personas.project,
            corpus=corpus,
            preset="tiny",
            steps=steps,
            micro_batch=4,
            grad_accum=2,
            zero_stage=2,
            gpus_per_node=0,
            nodes=2,
            checkpoint_every=5,
            eval_every=5,
            lr=3e-3,
            warmup_steps=2,
        )

    return make


def _logs(stack) -> str:
    return "\n".join(f"--- {n}\n{a.log()[-2000:]}" for n, a in stack["agents"].items())


def _wait_ended(run: Run, stack) -> Job:
    wait_for(
        lambda: Job.objects.get(pk=run.job_id).is_terminal,
        timeout=480,
        what=f"the run to end\n{_logs(stack)}",
    )
    return Job.objects.get(pk=run.job_id)


def test_two_nodes_train_and_checkpoint_like_one(tmp_path, launch, two_node_stack):
    run = launch(steps=12)
    job = _wait_ended(run, two_node_stack)
    assert job.state == JobState.SUCCEEDED, (job.error, job.log_tail[-3000:])
    group = Allocation.objects.filter(job_id=run.job_id, attempt=1).order_by("node_rank")
    assert [a.node_rank for a in group] == [0, 1]
    assert sorted((a.node.name, a.outcome) for a in group) == [
        ("cpu-1", "succeeded"),
        ("cpu-2", "succeeded"),
    ]
    assert sorted(job.result["nodes"]) == ["cpu-1", "cpu-2"]
    # One world of two ranks across the two launchers, node rank 1 on the second node.
    assert "2 rank(s)" in job.log_tail
    second = group[1].node.name
    part = json.loads(
        (tmp_path / f"agent-{second}" / "jobs" / f"{run.job_id}-1" / "launch.json").read_text()
    )
    assert part["rendezvous"] == {
        "master_addr": "127.0.0.1",  # rank 0's agent's address towards the console
        "master_port": group[0].master_port,
        "node_rank": 1,
        "hosts": [group[0].node.name, second],
        "procs": [1, 1],
    }
    steps, losses = metric_points(job_id=run.job_id, name="loss")
    assert list(steps) == list(range(1, 13))
    assert losses[-3:].mean() < losses[:3].mean(), losses
    assert sorted(Checkpoint.objects.filter(run=run).values_list("step", flat=True)) == [5, 10, 12]


def test_a_rank_killed_on_one_node_restarts_the_group(launch, two_node_stack):
    run = launch(steps=20)

    def registered() -> bool:
        job = Job.objects.get(pk=run.job_id)
        assert not job.is_terminal, (job.state, job.error, job.log_tail[-3000:])
        return Checkpoint.objects.filter(run=run).exists()

    wait_for(registered, timeout=300, what=f"a checkpoint\n{_logs(two_node_stack)}")
    rank1 = Allocation.objects.get(job_id=run.job_id, attempt=1, node_rank=1).node.name
    agent = psutil.Process(two_node_stack["agents"][rank1].proc.pid)
    ranks = [
        p
        for p in agent.children(recursive=True)
        if "gpu_agent.train" in p.cmdline() and "deepspeed.launcher.launch" not in p.cmdline()
    ]
    assert len(ranks) == 1, [p.cmdline() for p in agent.children(recursive=True)]
    registered_step = max(Checkpoint.objects.filter(run=run).values_list("step", flat=True))
    wait_for(lambda: loss_by_attempt(run, 1)[0][-1] > registered_step, timeout=60, what="a step")
    ranks[0].send_signal(signal.SIGKILL)

    job = _wait_ended(run, two_node_stack)
    assert job.state == JobState.SUCCEEDED, (job.error, job.log_tail[-3000:])
    assert job.attempt == 2
    after_steps, after = loss_by_attempt(run, 2)
    resumed = after_steps[0] - 1
    assert resumed >= registered_step and resumed % 5 == 0
    assert after[-1] < after[0], after
    assert after_steps == list(range(resumed + 1, 21))
    assert Allocation.objects.filter(job_id=run.job_id, attempt=2).count() == 2
    assert sorted(Checkpoint.objects.filter(run=run).values_list("step", flat=True))[-1] == 20
