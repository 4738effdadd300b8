"""bench/decode (GPU): Forge's decode loop (gpu_agent.models.decode: static KV cache,
the one-token step compiled whole with CUDA graphs) against transformers' generate
with a static cache (Forge's path before it), for bf16 and the quantized layers
Forge's loader builds (gpu_agent.models.kernels), side by side in one process.

    python3 bench/decode.py --presets 1b,deepseek-7b --batches 1,16

Random-init weights of each preset (bf16). The quantized variants replace every
decoder Linear with the module Forge's GPU loader builds from a compressed-tensors
folder, from the same weights rounded to nearest (the bench does not write the folder:
llm-compressor is not needed on the GPU node; tests/models_engine prove the loader
builds these modules from real folders): w8a16 (kernels.Int8Linear, per channel),
w4a16 (kernels.Int4Linear, tinygemm, group 128), fp8 (kernels.Fp8Linear).

Per variant: greedy decode tokens/s at each batch (exactly --new-tokens after a
--prompt-tokens random prompt, median of 3 after a warm-up), time to first token
(batch 1), peak memory, and the first greedy tokens compared with bf16's. Prints JSON
lines, then a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_agent.models import kernels
from gpu_agent.models.decode import Decoder

VOCAB = 52_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def random_model(name: str):
    from transformers import LlamaForCausalLM

    from gpu_agent.train.loop import llama_config
    from gpu_agent.train.presets import preset

    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(llama_config(preset(name, vocab_size=VOCAB)))
    return model.to(torch.bfloat16).eval()


def quantize_layers(model, method: str, group: int = 128) -> None:
    """Every decoder Linear -> the kernel module Forge's loader builds, RTN weights."""
    for name, module in list(model.model.layers.named_modules()):
        if not isinstance(module, nn.Linear):
            continue
        w = module.weight.data.float()
        if method == "w8a16":
            scale = w.abs().amax(1).clamp(min=1e-8) / 127
            q = (w / scale[:, None]).round().clamp(-128, 127).to(torch.int8)
            new: nn.Module = kernels.Int8Linear(q, scale, None)
        elif method == "w4a16":
            out, inp = w.shape
            g = w.view(out, inp // group, group)
            scale = g.abs().amax(2).clamp(min=1e-8) / 7.5
            q = (g / scale[..., None]).round().clamp(-8, 7).view(out, inp).to(torch.int8)
            new = kernels.Int4Linear(q, scale, group, None)
        elif method == "fp8":
            scale = w.abs().amax(1).clamp(min=1e-8) / kernels.FP8_MAX
            new = kernels.Fp8Linear((w / scale[:, None]).to(torch.float8_e4m3fn), scale, None)
        else:
            raise ValueError(method)
        parent, _, child = name.rpartition(".")
        setattr(model.model.layers.get_submodule(parent), child, new)
    torch.cuda.empty_cache()


def timed(fn, repeats: int = 3) -> float:
    fn()  # warm-up (compiles)
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def prompt(batch: int, length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, VOCAB, (batch, length), generator=g).cuda()


def hf_generate(model, ids, new_tokens):
    return model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=0,
        cache_implementation="static",
    )


def run_variant(model, label: str, loop: str, args, reference) -> dict:
    decoder = Decoder(model) if loop == "forge" else None
    row: dict = {"variant": label, "loop": loop, "tokens_per_s": {}}
    for batch in args.batches:
        ids = prompt(batch, args.prompt_tokens)
        if loop == "forge":
            seconds = timed(lambda ids=ids: decoder.generate(ids, new_tokens=args.new_tokens))
        else:
            seconds = timed(lambda ids=ids: hf_generate(model, ids, args.new_tokens))
        row["tokens_per_s"][str(batch)] = batch * args.new_tokens / seconds
        log(f"{label} {loop} b{batch}: {row['tokens_per_s'][str(batch)]:.1f} tok/s")
    ids = prompt(1, args.prompt_tokens)
    if loop == "forge":
        row["ttft_s"] = timed(lambda: decoder.generate(ids, new_tokens=1))
        out = decoder.generate(ids, new_tokens=args.check_tokens)
    else:
        row["ttft_s"] = timed(lambda: hf_generate(model, ids, 1))
        out = hf_generate(model, ids, args.check_tokens)
    tokens = out[0, args.prompt_tokens :].tolist()
    row["tokens"] = tokens
    if reference is not None:
        same = 0
        for a, b in zip(tokens, reference, strict=False):
            if a != b:
                break
            same += 1
        row["same_greedy_prefix"] = same
    row["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", default="1b,deepseek-7b")
    parser.add_argument(
        "--variants", default="hf:bf16,forge:bf16,forge:w8a16,forge:w4a16,forge:fp8"
    )
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--check-tokens", type=int, default=32)
    parser.add_argument("--out", default=None, help="append JSON lines here")
    args = parser.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    log(f"{torch.cuda.get_device_name()} torch {torch.__version__}")
    rows = []
    for name in args.presets.split(","):
        reference = None
        for variant in args.variants.split(","):
            loop, method = variant.split(":")
            model = random_model(name)
            if method != "bf16":
                quantize_layers(model, method)
            torch.cuda.reset_peak_memory_stats()
            torch._dynamo.reset()
            try:
                row = run_variant(model, method, loop, args, reference)
            except Exception as exc:  # a failed variant is reported, the others still run
                log(f"{name} {variant} failed: {exc!r}")
                row = {"variant": method, "loop": loop, "error": repr(exc)[:500]}
            row["preset"] = name
            if method == "bf16" and reference is None:
                reference = row.get("tokens")
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "tokens"}), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
            del model
            gc.collect()
            torch.cuda.empty_cache()
    print(f"\nbench/decode on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print(
        "preset | loop | weights | tok/s "
        + " | tok/s ".join(f"b{b}" for b in args.batches)
        + " | vs hf bf16 b1 | vs forge bf16 b1 | TTFT ms | greedy = first bf16 | peak GiB"
    )
    base: dict = {}
    for row in rows:
        if "error" in row:
            failed = row["error"][:120]
            print(f"{row['preset']} | {row['loop']} | {row['variant']} | failed: {failed}")
            continue
        b1 = row["tokens_per_s"][str(args.batches[0])]
        base.setdefault((row["preset"], row["loop"]), b1 if row["variant"] == "bf16" else None)
        hf = base.get((row["preset"], "hf"))
        forge = base.get((row["preset"], "forge"))
        speeds = " | ".join(f"{row['tokens_per_s'][str(b)]:.1f}" for b in args.batches)
        print(
            f"{row['preset']} | {row['loop']} | {row['variant']} | {speeds} | "
            f"{b1 / hf:.2f}x | " + (f"{b1 / forge:.2f}x" if forge else "-") + " | "
            f"{row['ttft_s'] * 1000:.1f} | "
            f"{row.get('same_greedy_prefix', '-')}/{args.check_tokens} | "
            f"{row['peak_memory_gib']:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
