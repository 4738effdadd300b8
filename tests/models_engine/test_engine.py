"""Perplexity, generation and measurement on the tiny trained model (quantized formats:
test_formats.py)."""

from __future__ import annotations

import math

import pytest
import torch

from gpu_agent.data import PackedShards
from gpu_agent.models import generate, load_model, measure, perplexity

# Asks pytest-xdist (--dist loadgroup) to run this module on one worker, as its
# session/module fixtures are built per worker; not honoured yet (see the Makefile).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("models_engine")]
SEQS = 24  # validation sequences scored: enough to compare, quick on 2 cores


def test_perplexity_equals_the_models_own_loss(model_dir, tiny_trained):
    result = perplexity(model_dir, tiny_trained["corpus"], max_sequences=SEQS, batch_size=5)
    model, _ = load_model(model_dir, device="cpu")
    shards = PackedShards(tiny_trained["corpus"], "val")
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(SEQS):  # one sequence at a time, HF's own shifted loss
            item = {k: torch.from_numpy(v)[None] for k, v in shards[i].items()}
            n = int((item["labels"][0, 1:] != -100).sum())
            total += float(model(**item).loss) * n
            count += n
    assert result["sequences"] == SEQS
    assert result["tokens"] == count == SEQS * (shards.seq_len - 1)
    assert result["nll"] == pytest.approx(total / count, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)
    again = perplexity(model_dir, tiny_trained["corpus"], max_sequences=SEQS, batch_size=8)
    assert again["nll"] == pytest.approx(result["nll"], rel=1e-6)  # batching does not matter


def test_generate_with_the_default_sampling(model_dir):
    out = generate(model_dir, ["The model", "数据"], max_new_tokens=12, device="cpu")
    assert out["params"] == {
        "temperature": 0.7,
        "top_p": 0.92,
        "repetition_penalty": 1.2,
        "max_new_tokens": 12,
        "seed": 0,
    }
    assert [o["prompt"] for o in out["outputs"]] == ["The model", "数据"]
    for o in out["outputs"]:
        assert 1 <= o["new_tokens"] <= 12 and isinstance(o["text"], str)
    assert out["tokens_per_s"] > 0
    same = generate(model_dir, ["The model", "数据"], max_new_tokens=12, device="cpu")
    assert [o["text"] for o in same["outputs"]] == [o["text"] for o in out["outputs"]]
    other = generate(model_dir, ["The model", "数据"], max_new_tokens=12, seed=1, device="cpu")
    assert [o["text"] for o in other["outputs"]] != [o["text"] for o in out["outputs"]]
    greedy = generate(model_dir, ["The model"], temperature=0, max_new_tokens=8, device="cpu")
    again = generate(
        model_dir, ["The model"], temperature=0, max_new_tokens=8, seed=9, device="cpu"
    )
    assert greedy["outputs"] == again["outputs"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"repetition_penalty": 0.9}, "repetition_penalty"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 4097}, "max_new_tokens"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_generate_validates_its_parameters(tmp_path, kwargs, message):
    # Checked before the folder is even looked at.
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, ["hi"], **kwargs)


def test_generate_validates_its_prompts(tmp_path):
    for prompts in ([], ["x"] * 101, "a string", [3]):
        with pytest.raises(ValueError, match="prompt"):
            generate(tmp_path, prompts)


def test_measure_on_cpu(model_dir, quantized, tiny_trained):
    parent = measure(
        model_dir, corpus_dir=tiny_trained["corpus"], device="cpu", new_tokens=8, prompt_tokens=8
    )
    assert set(parent) >= {"size_bytes", "peak_memory_bytes", "tokens_per_s", "perplexity"}
    assert parent["size_bytes"] == (model_dir / "model.safetensors").stat().st_size
    assert parent["peak_memory_bytes"] > 0
    assert parent["tokens_per_s"]["1"] > 0
    direct = perplexity(model_dir, tiny_trained["corpus"], max_sequences=64, device="cpu")
    assert parent["perplexity"] == pytest.approx(direct["perplexity"], rel=1e-5)
    q = measure(
        quantized["w4a16"][0], device="cpu", batch_sizes=(1, 2), new_tokens=4, prompt_tokens=4
    )
    assert set(q["tokens_per_s"]) == {"1", "2"} and q["perplexity"] is None
    assert q["size_bytes"] < parent["size_bytes"]
