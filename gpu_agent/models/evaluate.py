"""Load a model folder, score it (perplexity on packed shards), sample from it."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from gpu_agent.data import IGNORE_INDEX, PackedShards
from gpu_agent.models.folder import ModelFolderError, check_folder, read_config
from gpu_agent.models.quantize import describe, load_quantized, resolve_device

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def _dtype(dtype: str | None) -> torch.dtype | None:
    if dtype is None:
        return None
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, not {dtype!r}") from None


def load_model(folder: Path, *, device: str = "auto", dtype: str | None = None):
    """(model in eval mode, tokenizer or None when the folder has no tokenizer files).

    Plain folders load in their stored dtype (``dtype`` overrides); quantized ones
    (compressed-tensors) through gpu_agent.models.quantize.load_quantized: plain
    transformers on CPU, Forge's kernels on a GPU. A folder in Forge's legacy
    quantized format is refused (re-quantize its parent). Weights are read from
    safetensors only.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    check_folder(folder)
    device = resolve_device(device)
    torch_dtype = _dtype(dtype)
    config = read_config(folder)
    if describe(config) is not None:
        model = load_quantized(folder, device=device, dtype=torch_dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            folder, use_safetensors=True, dtype=torch_dtype or "auto"
        )
        model.to(device).eval()
        model.forge_runtime = "native"
    tokenizer = None
    if any((folder / name).is_file() for name in _TOKENIZER_FILES):
        tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer


def _positive_int(name: str, value, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (hi and value > hi):
        bound = f"1..{hi}" if hi else ">= 1"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return value


@torch.no_grad()
def nll_sum(
    model, shards: PackedShards, *, max_sequences: int, batch_size: int
) -> tuple[float, int, int]:
    """(summed token NLL, predicted tokens, sequences) over the first sequences."""
    device = next(model.parameters()).device
    n = min(len(shards), max_sequences)
    pad = shards.pad_id if shards.pad_id != shards.eos_id else None
    total, count = 0.0, 0
    for start in range(0, n, batch_size):
        items = [shards[i] for i in range(start, min(n, start + batch_size))]
        ids = torch.from_numpy(np.stack([it["input_ids"] for it in items])).to(device)
        mask = torch.from_numpy(np.stack([it["attention_mask"] for it in items])).to(device)
        labels = torch.from_numpy(np.stack([it["labels"] for it in items])).to(device)
        if pad is not None:
            labels = labels.masked_fill(labels == pad, IGNORE_INDEX)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        target = labels[:, 1:]
        losses = F.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]),
            target.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        total += float(losses.double())
        count += int((target != IGNORE_INDEX).sum())
    return total, count, n


def perplexity(
    folder: Path,
    corpus_dir: Path,
    *,
    split: str = "val",
    max_sequences: int = 256,
    batch_size: int = 8,
    device: str = "auto",
) -> dict:
    """exp(mean NLL per predicted token) over the split's first max_sequences rows.

    Labels are the inputs shifted by one, as Hugging Face does; padding (the
    index's last_sequence_tokens, and the pad id when it differs from eos) is
    not counted.
    """
    _positive_int("max_sequences", max_sequences)
    _positive_int("batch_size", batch_size)
    shards = PackedShards(Path(corpus_dir), split)
    model, _ = load_model(folder, device=device)
    return _perplexity_of(model, shards, max_sequences=max_sequences, batch_size=batch_size)


def _perplexity_of(model, shards: PackedShards, *, max_sequences: int, batch_size: int) -> dict:
    total, count, n = nll_sum(model, shards, max_sequences=max_sequences, batch_size=batch_size)
    if count == 0:
        raise ValueError(f"{shards.directory} [{shards.split}]: no tokens to score")
    nll = total / count
    return {"perplexity": math.exp(nll), "nll": nll, "tokens": count, "sequences": n}


def check_sampling(
    prompts, temperature, top_p, repetition_penalty, max_new_tokens
) -> dict[str, float | int]:
    if not isinstance(prompts, list | tuple) or not 1 <= len(prompts) <= 100:
        raise ValueError("prompts must be a list of 1..100 strings")
    for prompt in prompts:
        if not isinstance(prompt, str):
            raise ValueError(f"each prompt must be a string, got {type(prompt).__name__}")
    for name, value in (
        ("temperature", temperature),
        ("top_p", top_p),
        ("repetition_penalty", repetition_penalty),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if repetition_penalty < 1:
        raise ValueError(f"repetition_penalty must be >= 1, got {repetition_penalty}")
    _positive_int("max_new_tokens", max_new_tokens, 4096)
    return {
        "temperature": float(temperature),
        "top_p": float(top_p),
        "repetition_penalty": float(repetition_penalty),
        "max_new_tokens": max_new_tokens,
    }


def generate(
    folder: Path,
    prompts: list[str],
    *,
    temperature: float = 0.7,
    top_p: float = 0.92,
    repetition_penalty: float = 1.2,
    max_new_tokens: int = 64,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Sample a continuation of each prompt (temperature 0 = greedy).

    Prompts run one at a time, prompt i seeded with seed + i, so an output does
    not depend on the other prompts. Returns {"outputs": [{"prompt", "text",
    "new_tokens"}], "tokens_per_s", "params"}.
    """
    params = check_sampling(prompts, temperature, top_p, repetition_penalty, max_new_tokens)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    params["seed"] = seed
    model, tokenizer = load_model(folder, device=device)
    if tokenizer is None:
        raise ModelFolderError(f"{folder}: no tokenizer files; cannot generate text")
    return generate_with(model, tokenizer, prompts, params)


def generate_with(model, tokenizer, prompts: list[str], params: dict) -> dict:
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    sampling = {"do_sample": False}
    if params["temperature"] > 0:
        sampling = {
            "do_sample": True,
            "temperature": params["temperature"],
            "top_p": params["top_p"],
        }
    outputs, new_total, seconds = [], 0, 0.0
    for i, prompt in enumerate(prompts):
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        if ids.shape[1] == 0:
            ids = torch.tensor([[start if start is not None else 0]])
        ids = ids.to(device)
        torch.manual_seed(params["seed"] + i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=params["max_new_tokens"],
            repetition_penalty=params["repetition_penalty"],
            pad_token_id=pad,
            use_cache=True,
            **sampling,
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - t0
        new = out[0, ids.shape[1] :]
        new_total += int(new.numel())
        outputs.append(
            {
                "prompt": prompt,
                "text": tokenizer.decode(new, skip_special_tokens=True),
                "new_tokens": int(new.numel()),
            }
        )
    return {
        "outputs": outputs,
        "tokens_per_s": new_total / seconds if seconds > 0 else 0.0,
        "params": params,
    }
