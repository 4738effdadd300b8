from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from gpu_agent.models import quantize
from tests.shared import built_once
from tests.train.conftest import tiny_corpus, tiny_trained  # noqa: F401

# The tiny model's layers are 64 and 172 inputs wide: int4 groups of 32 (the last of
# 172's six groups holds 12 inputs).
INT4_GROUP = 32
# name -> quantize()'s arguments: every format Forge writes, GPTQ on the tiny corpus.
RECIPES = {
    "bf16": {"method": "bf16"},
    "fp16": {"method": "fp16"},
    "w8a16": {"method": "w8a16"},
    "w4a16": {"method": "w4a16", "group_size": INT4_GROUP},
    "w4a16-gptq": {"method": "w4a16", "group_size": INT4_GROUP, "algorithm": "gptq"},
    "fp8": {"method": "fp8"},
}


@pytest.fixture(scope="session")
def model_dir(tiny_trained, tmp_path_factory) -> Path:  # noqa: F811
    """The trained tiny model's weights with its tokenizer: a complete model folder."""
    folder = tmp_path_factory.mktemp("model") / "parent"
    shutil.copytree(tiny_trained["hf"], folder)
    for path in Path(tiny_trained["tokenizer"]).iterdir():
        shutil.copy2(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def quantized(model_dir, tiny_corpus, tmp_path_factory) -> dict[str, tuple[Path, dict]]:  # noqa: F811
    """recipe name -> (folder, quantize()'s result), made once per test run and shared
    by xdist's workers (tests/shared.py): six llm-compressor runs, GPTQ among them."""

    def build(base: Path) -> None:
        results = {}
        for name, recipe in RECIPES.items():
            calibration = {"calibration_dir": tiny_corpus, "calibration_samples": 32}
            results[name] = quantize(
                model_dir,
                base / name,
                device="cpu",
                **recipe,
                **(calibration if recipe.get("algorithm") == "gptq" else {}),
            )
        (base / "results.json").write_text(json.dumps(results))

    base = built_once(tmp_path_factory, "quantized", build)
    results = json.loads((base / "results.json").read_text())
    return {name: (base / name, results[name]) for name in RECIPES}


def random_llama(**config):
    """A random-init 2-layer Llama (seed 0) in eval mode; ``config`` overrides the
    small defaults."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    defaults = dict(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(LlamaConfig(**{**defaults, **config})).eval()


@pytest.fixture
def random_folder(tmp_path) -> Path:
    """A random-init 2-layer Llama saved as safetensors (no training; fast)."""
    folder = tmp_path / "random"
    random_llama().save_pretrained(folder, safe_serialization=True)
    return folder
