"""Fixtures for the runs app's tests: a tokenized corpus row in project alpha, nodes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from console.data.models import DatasetVersion, Origin, TokenizedCorpus, Tokenizer
from console.fleet import services as fleet
from console.fleet.models import Node
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
from tests.train.conftest import tiny_corpus  # noqa: F401 - a fixture


@pytest.fixture
def data_dir(settings, tmp_path) -> Path:
    root = tmp_path / "forge-data"
    settings.FORGE_DATA_DIR = root
    settings.FORGE_RUNS_DIR = root / "runs"
    return root


def make_corpus(project, *, vocab: int = 480, seq_len: int = 64, key: str = "corpora/job-3"):
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
        total_tokens=100,
        train_tokens=90,
        val_tokens=10,
        sequences=2,
        shards=2,
        storage_key=key,
    )


@pytest.fixture
def corpus(personas, data_dir):
    return make_corpus(personas.project)


CPU_RUN = {
    "preset": "tiny",
    "steps": 12,
    "micro_batch": 4,
    "grad_accum": 2,
    "zero_stage": 2,
    "gpus_per_node": 0,
    "nodes": 1,
}


# A console (gunicorn on the test database), a Celery worker and one CPU node agent.
@pytest.fixture
def stack(tmp_path, personas):
    broker_purge()
    issued = fleet.node_create(actor=None, name="cpu-1")
    console = ConsoleServer(tmp_path / "console.log").start()
    worker = CeleryWorker(tmp_path / "worker.log", queues="scheduler,default").start()
    agent = ManagedProcess(
        [
            sys.executable,
            "-m",
            "gpu_agent",
            "--console",
            console.url,
            "--name",
            "cpu-1",
            "--work-dir",
            str(tmp_path / "agent"),
            "--grace",
            "10",
        ],
        tmp_path / "agent.log",
        env=process_env(FORGE_NODE_TOKEN=issued.key, OMP_NUM_THREADS="1"),
    ).start()
    try:
        wait_for(
            lambda: Node.objects.get(name="cpu-1").status == Node.Status.ONLINE,
            timeout=60,
            what=f"the agent to register\n{agent.log()}",
        )
        yield {"console": console, "worker": worker, "agent": agent}
    finally:
        agent.stop()
        worker.stop()
        console.stop()
        from tests.agent.conftest import kill_jobs

        kill_jobs(tmp_path / "agent")
