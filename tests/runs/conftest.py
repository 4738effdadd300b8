"""Fixtures for the runs app's tests: a tokenized corpus row in project alpha, nodes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from console.data.models import DatasetVersion, Origin, TokenizedCorpus, Tokenizer
from console.fleet import services as fleet
from console.fleet.models import Node
from gpu_agent import shm
from gpu_agent.supervisor import COMMAND_FILE
from tests.factories import DatasetFactory
from tests.fleet.conftest import make_node  # noqa: F401 - a fixture
from tests.processes import (
    CeleryWorker,
    ConsoleServer,
    ManagedProcess,
    broker_purge,
    process_env,
    wait_for,
)
from tests.shared import run_root_of
from tests.train.conftest import VOCAB, tiny_corpus  # noqa: F401 - a fixture


@pytest.fixture
def data_dir(settings, tmp_path) -> Path:
    root = tmp_path / "forge-data"
    settings.FORGE_DATA_DIR = root
    settings.FORGE_RUNS_DIR = root / "runs"
    return root


def make_corpus(
    project,
    *,
    vocab: int = 480,
    seq_len: int = 64,
    key: str = "corpora/job-3",
    train_sequences: int = 4096,
    val_sequences: int = 64,
):
    """A corpus row (no files: ``key`` may name real shards, e.g. tiny_corpus's) with
    enough sequences in each split for the runs the tests launch, unless told fewer."""
    dataset = DatasetFactory(project=project)
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        origin=Origin.UPLOAD,
        storage_key=f"datasets/{dataset.pk}/versions/job-1",
        sha256="a" * 64,
        bytes=10,
        documents=2,
    )
    tokenizer = Tokenizer.objects.create(
        project=project,
        name="bpe",
        version=version,
        vocab_size_requested=vocab,
        vocab_size=vocab,
        storage_key=f"tokenizers/{key}",
        sha256="b" * 64,
    )
    return TokenizedCorpus.objects.create(
        project=project,
        version=version,
        tokenizer=tokenizer,
        seq_len=seq_len,
        dtype="uint16",
        val_fraction=0.1,
        total_tokens=(train_sequences + val_sequences) * seq_len,
        train_tokens=train_sequences * seq_len,
        val_tokens=val_sequences * seq_len,
        sequences=train_sequences + val_sequences,
        shards=2,
        storage_key=key,
        index={
            "seq_len": seq_len,
            "split": {"val_fraction": 0.1, "seed": 0},
            "splits": {
                "train": {"documents": 2, "sequences": train_sequences},
                "val": {"documents": 1 if val_sequences else 0, "sequences": val_sequences},
            },
        },
    )


@pytest.fixture
def corpus(personas, data_dir):
    return make_corpus(personas.project)


def shm_buffers(job_dir: Path) -> list[Path]:
    """The /dev/shm buffers DeepSpeed's CPU op made for this attempt: named after the
    master port the agent chose (its command.json)."""
    argv = json.loads((job_dir / COMMAND_FILE).read_text())["argv"]
    port = next(a.split("=", 1)[1] for a in argv if a.startswith("--master_port="))
    return sorted(shm.SHM_DIR.glob(f"{shm.PREFIX}{os.getuid()}_*_{port}_*"))


def wait_shm_released(job_dir: Path, stack) -> None:
    """The agent removes an attempt's buffers (66 MB a rank) once its ranks are gone."""
    wait_for(
        lambda: not shm_buffers(job_dir),
        timeout=30,
        what=f"{job_dir.name}'s shared memory to go\n{stack['agent'].log()[-2000:]}",
    )


def tiny_cpu_run(personas, settings, tmp_path, corpus_dir, **overrides):
    """Launch a tiny CPU run (ZeRO-2, checkpoints every 5 steps under tmp_path/runs) on
    the real shards in corpus_dir (the tiny_corpus fixture), as project alpha's ML
    engineer, through run_create; keyword arguments override run_create's."""
    from console.runs import services

    settings.FORGE_DATA_DIR = corpus_dir.parent
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    corpus = make_corpus(personas.project, vocab=VOCAB, seq_len=64, key=corpus_dir.name)
    launch = {**CPU_RUN, "checkpoint_every": 5, "eval_every": 5, "lr": 3e-3, "warmup_steps": 2}
    return services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**launch, **overrides},
    )


CPU_RUN = {
    "preset": "tiny",
    "steps": 12,
    "micro_batch": 4,
    "grad_accum": 2,
    "zero_stage": 2,
    "gpus_per_node": 0,
    "nodes": 1,
}


def _start_stack(tmp_path, names: list[str], env: dict[str, str] | None = None):
    """A console (gunicorn on the test database), a Celery worker and one CPU node agent
    per name, each with its own work dir (as on separate machines).

    The tests keep corpora and checkpoints in pytest's temporary folders (they set the
    test process's FORGE_DATA_DIR, which the console process does not see), so the
    agents take this run's pytest base folder (every xdist worker's) as their root, as
    a node's administrator would name the shared storage with FORGE_AGENT_ROOTS."""
    broker_purge()
    issued = {name: fleet.node_create(actor=None, name=name) for name in names}
    console = ConsoleServer(tmp_path / "console.log").start()
    worker = CeleryWorker(tmp_path / "worker.log", queues="scheduler,default").start()
    agents = {}
    for name in names:
        work = tmp_path / ("agent" if len(names) == 1 else f"agent-{name}")
        agents[name] = ManagedProcess(
            [
                sys.executable,
                "-m",
                "gpu_agent",
                "--console",
                console.url,
                "--name",
                name,
                "--work-dir",
                str(work),
                "--grace",
                "10",
            ],
            tmp_path / f"{work.name}.log",
            env=process_env(
                FORGE_NODE_TOKEN=issued[name].key,
                OMP_NUM_THREADS="1",
                FORGE_AGENT_ROOTS=str(run_root_of(tmp_path)),
                **(env or {}),
            ),
        ).start()
    return console, worker, agents


def _stop_stack(tmp_path, console, worker, agents) -> None:
    from tests.agent.conftest import kill_jobs

    for agent in agents.values():
        agent.stop()
    worker.stop()
    console.stop()
    for work in [tmp_path / "agent", *(tmp_path / f"agent-{name}" for name in agents)]:
        if work.exists():
            kill_jobs(work)


def _wait_online(names, agents) -> None:
    for name in names:
        wait_for(
            lambda name=name: Node.objects.get(name=name).status == Node.Status.ONLINE,
            timeout=60,
            what=f"the agent {name} to register\n{agents[name].log()}",
        )


# A console (gunicorn on the test database), a Celery worker and one CPU node agent;
# a test marked ``@pytest.mark.agent_env(NAME="value")`` runs the agent with those.
@pytest.fixture
def stack(request, tmp_path, personas):
    marker = request.node.get_closest_marker("agent_env")
    console, worker, agents = _start_stack(tmp_path, ["cpu-1"], marker.kwargs if marker else None)
    try:
        _wait_online(["cpu-1"], agents)
        yield {"console": console, "worker": worker, "agent": agents["cpu-1"]}
    finally:
        _stop_stack(tmp_path, console, worker, agents)


# The same with two CPU node agents on this machine: a two-node group's two parts.
@pytest.fixture
def two_node_stack(tmp_path, personas):
    names = ["cpu-1", "cpu-2"]
    console, worker, agents = _start_stack(tmp_path, names)
    try:
        _wait_online(names, agents)
        yield {"console": console, "worker": worker, "agents": agents}
    finally:
        _stop_stack(tmp_path, console, worker, agents)
