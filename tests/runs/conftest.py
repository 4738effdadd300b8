"""Fixtures for the runs app's tests: a tokenized corpus row in project alpha, nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.data.models import DatasetVersion, Origin, TokenizedCorpus, Tokenizer
from tests.factories import DatasetFactory
from tests.fleet.conftest import make_node  # noqa: F401 - a fixture


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
