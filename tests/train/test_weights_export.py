"""Each complete checkpoint also holds the model's weights as a Hugging Face folder
(config.json + safetensors, no pickle), consolidated from every rank: what the model
registry exports. Under ZeRO-3 the partitioned weights are gathered first."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from gpu_agent.spec import spec_from_dict
from gpu_agent.train.presets import param_count
from gpu_agent.train.spec import TrainSpec
from tests.train.conftest import launch_by_hand, tiny_spec

pytestmark = pytest.mark.slow


def test_a_checkpoint_holds_loadable_safetensors_weights(tiny_trained):
    hf = tiny_trained["hf"]
    names = sorted(p.name for p in hf.iterdir())
    assert "config.json" in names and "model.safetensors" in names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl", ".pth"))]
    assert json.loads((hf.parent / "forge_complete.json").read_text())["hf"] == "hf"
    model = AutoModelForCausalLM.from_pretrained(hf)
    tokenizer = AutoTokenizer.from_pretrained(tiny_trained["tokenizer"])
    # The special tokens are the corpus tokenizer's, so generation stops where it should.
    assert model.config.eos_token_id == tokenizer.eos_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id
    ids = tokenizer("The model", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 5
    # The two checkpoints hold different weights (training moved them).
    earlier = AutoModelForCausalLM.from_pretrained(tiny_trained["root"] / "step_3" / "hf")
    assert not torch.equal(earlier.model.embed_tokens.weight, model.model.embed_tokens.weight)


def test_zero3_gathers_the_partitioned_weights(tmp_path, tiny_corpus):
    spec = tiny_spec(
        tiny_corpus, tmp_path / "ckpt", steps=2, zero={"stage": 3}, checkpoint={"every": 2}
    )
    done = launch_by_hand(spec, tmp_path / "work", procs=2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt" / "step_2" / "hf")
    expected = param_count(spec_from_dict(TrainSpec, spec).model)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert all(p.abs().sum() > 0 for p in model.parameters())  # no empty placeholder
