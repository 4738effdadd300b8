"""Fixtures for the registry's tests: a run of project alpha whose checkpoint holds a
small Hugging Face folder (random weights, or the `tiny_trained` model for the slow
round trip), the corpus's real tokenizer and packed shards under FORGE_DATA_DIR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.alerts.services import rules_create_defaults
from console.runs.models import Checkpoint, Run
from tests.data.helpers import run_job
from tests.fleet.conftest import make_node  # noqa: F401 - a fixture
from tests.runs.conftest import make_corpus
from tests.train.conftest import tiny_corpus, tiny_trained  # noqa: F401 - fixtures

VOCAB = 512
CORPUS_KEY = "corpora/job-3"


@pytest.fixture(scope="session")
def random_hf(tmp_path_factory) -> Path:
    """A LLaMA-style model with random weights (vocab 512), saved as safetensors."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    folder = tmp_path_factory.mktemp("random") / "hf"
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture
def dirs(settings, tmp_path) -> dict[str, Path]:
    root = tmp_path / "forge-data"
    settings.FORGE_DATA_DIR = root
    settings.FORGE_RUNS_DIR = root / "runs"
    settings.FORGE_MODELS_DIR = tmp_path / "forge-models"
    return {"data": root, "models": settings.FORGE_MODELS_DIR, "ckpt": root / "runs" / "1"}


def place_checkpoint(root: Path, step: int, hf: Path | None, *, complete: bool = True) -> Path:
    tag = root / f"step_{step}"
    tag.mkdir(parents=True, exist_ok=True)
    if hf is not None:
        shutil.copytree(hf, tag / "hf")
    if complete:
        info = {"step": step, "tag": f"step_{step}", "world_size": 1}
        if hf is not None:
            info["hf"] = "hf"
        (tag / "forge_complete.json").write_text(json.dumps(info))
    return tag


def make_run(project, dirs, hf: Path | None, tiny_corpus: Path, *, step: int = 6) -> Run:  # noqa: F811
    shutil.copytree(tiny_corpus.parent / "tokenizer", dirs["data"] / "tokenizers" / CORPUS_KEY)
    shutil.copytree(tiny_corpus, dirs["data"] / CORPUS_KEY)
    corpus = make_corpus(project, vocab=VOCAB, key=CORPUS_KEY)
    run = Run.objects.create(
        project=project,
        name="tiny",
        corpus=corpus,
        preset="tiny",
        spec={"model": {"preset": "tiny", "vocab_size": VOCAB}, "steps": step},
        deepspeed={"zero_optimization": {"stage": 2}},
    )
    rules_create_defaults(run=run)  # as run_create's run_created effects would
    root = dirs["data"] / "runs" / str(run.pk)
    place_checkpoint(root, step, hf)
    Checkpoint.objects.create(run=run, step=step, tag=f"step_{step}", dir=str(root))
    return run


@pytest.fixture
def run(personas, dirs, random_hf, tiny_corpus):  # noqa: F811
    return make_run(personas.project, dirs, random_hf, tiny_corpus)


def ckpt_root(run: Run) -> Path:
    return Path(run.checkpoints.first().dir)


def register(run: Run, actor, *, step: int = 6, name: str = "tiny-lm"):
    from console.registry import services
    from console.registry.models import ModelVersion

    job = run_job(services.model_register(actor=actor, run=run, step=step, name=name))
    assert job.state == "succeeded", job.error
    return ModelVersion.objects.get(job=job)
