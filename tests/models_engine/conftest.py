from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from gpu_agent.models import quantize
from tests.train.conftest import tiny_corpus, tiny_trained  # noqa: F401

# The tiny model's layers are 64 and 172 inputs wide: int4 groups of 32 (172 is
# padded to 192 = 6 groups). The default 128 would pad every 64-wide row to 128.
INT4_GROUP = 32


@pytest.fixture(scope="session")
def model_dir(tiny_trained, tmp_path_factory) -> Path:  # noqa: F811
    """The trained tiny model's weights with its tokenizer: a complete model folder."""
    folder = tmp_path_factory.mktemp("model") / "parent"
    shutil.copytree(tiny_trained["hf"], folder)
    for path in Path(tiny_trained["tokenizer"]).iterdir():
        shutil.copy2(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def quantized(model_dir, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """method -> (folder, quantize()'s result), made once per session."""
    base = tmp_path_factory.mktemp("quantized")
    out = {}
    for method in ("bf16", "fp16", "int8", "int4"):
        dst = base / method
        out[method] = (
            dst,
            quantize(model_dir, dst, method=method, group_size=INT4_GROUP, device="cpu"),
        )
    return out


@pytest.fixture
def random_folder(tmp_path) -> Path:
    """A random-init 2-layer Llama saved as safetensors (no training; fast)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    folder = tmp_path / "random"
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder
