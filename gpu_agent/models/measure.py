"""Size, peak memory, decode speed and perplexity of one model folder.

On CUDA everything runs in this process (``max_memory_allocated`` after load +
generate). On CPU it runs in a fresh child (``python -m gpu_agent.models.probe``)
so that models loaded earlier in this process do not inflate the RSS high-water
mark: after importing torch and transformers the child resets the kernel's
RSS high-water mark (``/proc/self/clear_refs``), then reports ``VmHWM`` after
load + generate minus the RSS before the load (``ru_maxrss`` where /proc is
missing).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from gpu_agent.models.folder import check_folder, weights_bytes
from gpu_agent.models.quantize import resolve_device

_ROOT = Path(__file__).resolve().parents[2]


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rss_baseline() -> int:
    """Current RSS, after resetting the kernel's RSS high-water mark (Linux >= 4.0:
    writing 5 to /proc/self/clear_refs), so that import-time peaks do not hide the
    load's. Without /proc, the getrusage high-water mark so far."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        rss = _status_kib("VmRSS")
        if rss is not None:
            return rss * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _rss_peak() -> int:
    hwm = _status_kib("VmHWM")
    return (
        max(hwm or 0, 0) * 1024
        if hwm is not None
        else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    )


@torch.no_grad()
def decode_tokens_per_s(
    model, *, batch: int, new_tokens: int, prompt_tokens: int, repeats: int = 3
) -> float:
    """Greedy decode of exactly new_tokens after a fixed random prompt; median of
    ``repeats`` timed runs after one warm-up. Counts batch x new_tokens tokens."""
    device = next(model.parameters()).device
    vocab = model.config.vocab_size
    ids = torch.randint(
        0, vocab, (batch, prompt_tokens), generator=torch.Generator().manual_seed(0)
    )
    ids = ids.to(device)
    kwargs = dict(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=0,
        use_cache=True,
    )
    times = []
    for n in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = model.generate(**kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if n:
            times.append(time.perf_counter() - t0)
        assert out.shape[1] == prompt_tokens + new_tokens
    return batch * new_tokens / statistics.median(times)


@torch.no_grad()
def time_to_first_token(model, *, prompt_tokens: int, repeats: int = 3) -> float:
    """Seconds from a batch-1 prompt to its first new token (prefill + one step),
    median of ``repeats`` after one warm-up."""
    device = next(model.parameters()).device
    ids = torch.randint(
        0, model.config.vocab_size, (1, prompt_tokens), generator=torch.Generator().manual_seed(1)
    ).to(device)
    times = []
    for n in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=1,
            min_new_tokens=1,
            pad_token_id=0,
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if n:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_in_process(
    folder: Path,
    *,
    corpus_dir: Path | None,
    device: str,
    batch_sizes: tuple[int, ...],
    new_tokens: int,
    prompt_tokens: int,
    max_sequences: int = 64,
    compile: bool = False,
) -> dict:
    """Load, time decoding, read the memory peak, then (optionally) perplexity.
    ``compile`` (CUDA): a static KV cache, with which transformers' generate compiles
    the decoding step (CUDA graphs), the way decode is served; eager decode of a single sequence
    is bound by kernel launches, not by the weights' memory traffic."""
    from gpu_agent.data import PackedShards
    from gpu_agent.models.evaluate import _perplexity_of, load_model

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base = _rss_baseline()
    model, _ = load_model(folder, device=device)
    if compile and cuda:
        # transformers compiles the decoding step itself for a static cache (its own
        # compile config, CUDA graphs handled between steps).
        model.generation_config.cache_implementation = "static"
    speeds = {
        str(b): decode_tokens_per_s(
            model, batch=b, new_tokens=new_tokens, prompt_tokens=prompt_tokens
        )
        for b in batch_sizes
    }
    ttft = time_to_first_token(model, prompt_tokens=prompt_tokens)
    peak = torch.cuda.max_memory_allocated(device) - base if cuda else _rss_peak() - base
    ppl = None
    if corpus_dir is not None:
        shards = PackedShards(Path(corpus_dir), "val")
        ppl = _perplexity_of(model, shards, max_sequences=max_sequences, batch_size=8)["perplexity"]
    return {
        "size_bytes": weights_bytes(folder),
        "peak_memory_bytes": int(peak),
        "tokens_per_s": speeds,
        "ttft_s": ttft,
        "perplexity": ppl,
        "runtime": getattr(model, "forge_runtime", ""),
    }


def measure(
    folder: Path,
    *,
    corpus_dir: Path | None = None,
    device: str = "auto",
    batch_sizes: tuple[int, ...] = (1,),
    new_tokens: int = 32,
    prompt_tokens: int = 32,
    compile: bool = False,
) -> dict:
    """{"size_bytes", "peak_memory_bytes", "tokens_per_s": {str(batch): float},
    "ttft_s" (batch 1, prompt_tokens), "perplexity": float | None} (plus "runtime": the
    kernels used)."""
    folder = Path(folder)
    check_folder(folder)
    device = resolve_device(device)
    for name, value in (
        ("new_tokens", new_tokens),
        ("prompt_tokens", prompt_tokens),
        *(("batch size", b) for b in batch_sizes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not batch_sizes:
        raise ValueError("batch_sizes must not be empty")
    args = dict(
        corpus_dir=corpus_dir,
        device=device,
        batch_sizes=tuple(batch_sizes),
        new_tokens=new_tokens,
        prompt_tokens=prompt_tokens,
    )
    if device.startswith("cuda"):
        return run_in_process(folder, **args, compile=compile)
    request = {
        **args,
        "folder": str(folder),
        "corpus_dir": None if corpus_dir is None else str(corpus_dir),
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "gpu_agent.models.probe", json.dumps(request)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measure probe failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
