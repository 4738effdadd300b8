"""bench/quant (GPU): bf16 / w8a16 / w4a16 / fp8 (compressed-tensors) of one model,
side by side, decoded the way Forge serves them.

    python3 bench/quant.py --folder MODEL_DIR [--corpus SHARDS_DIR]
    python3 bench/quant.py --preset 1b|deepseek-7b          # random-init weights
    python3 bench/quant.py --folder tiny_model --device cpu  # a smoke test

For each method: size of the weights on disk, peak memory (CUDA:
max_memory_allocated over load + decode; CPU: RSS high-water increase in a child
process), greedy decode tokens/s at batch 1 and 16 (exactly --new-tokens tokens
after a fixed random --prompt-tokens prompt, median of 3 after a warm-up),
perplexity on the same validation sequences, time to first token (batch 1), and the
speed-up vs bf16. Uses gpu_agent.models (quantize with llm-compressor, measure with
Forge's loader: on a GPU w4a16 runs on tinygemm's int4 kernel, w8a16 as int8
weight-only, fp8 on torch._scaled_mm); needs torch, transformers, llm-compressor,
not Django. --compile: static KV cache, transformers compiles the decoding step.
--check-plain: also opens every quantized folder with plain transformers (weights
decompressed to bf16) and reports its perplexity next to Forge's.

With --preset, no trained weights exist: the model is random-init (presets of
gpu_agent.train.presets, saved with save_pretrained into a temporary folder), and
without --corpus the text is random tokens. The absolute perplexity of a
random-init model is meaningless; its change vs bf16 still shows how far each
method moves the outputs. The output says so. Prints the table last.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_agent.models import measure, quantize, runtime_notes
from gpu_agent.models.folder import read_config
from gpu_agent.models.quantize import resolve_device

METHODS = ("bf16", "w8a16", "w4a16", "fp8")
PRESET_VOCAB = 52_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def random_corpus(
    folder: Path, *, vocab: int, seq_len: int, sequences: int, seed: int = 0, split: str = "val"
) -> Path:
    """Random tokens as packed shards (gpu_agent/data.py's format), one split."""
    folder.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if vocab <= 65_536 else np.uint32
    data = np.random.default_rng(seed).integers(3, vocab, size=(sequences, seq_len), dtype=dtype)
    data.tofile(folder / f"{split}-00000.bin")
    index = {
        "format": "forge.packed-shards",
        "version": 1,
        "dtype": "uint16" if dtype is np.uint16 else "uint32",
        "byte_order": "little",
        "seq_len": seq_len,
        "vocab_size": vocab,
        "bos_id": 0,
        "eos_id": 1,
        "pad_id": 2,
        "splits": {
            split: {
                "sequences": sequences,
                "tokens": sequences * seq_len,
                "last_sequence_tokens": seq_len,
                "padding_tokens": 0,
                "shards": [
                    {"file": f"{split}-00000.bin", "sequences": sequences, "bytes": data.nbytes}
                ],
            }
        },
    }
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def random_model(name: str, folder: Path, device: str) -> Path:
    """A random-init preset saved as a bf16 safetensors folder."""
    from transformers import LlamaForCausalLM

    from gpu_agent.train.loop import llama_config
    from gpu_agent.train.presets import preset

    config = llama_config(preset(name, vocab_size=PRESET_VOCAB))
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    del model
    return folder


def plain_perplexity(folder: Path, corpus: Path, device: str) -> float:
    """Perplexity with the folder opened by plain transformers (bf16, decompressed)."""
    from transformers import AutoModelForCausalLM

    from gpu_agent.data import PackedShards
    from gpu_agent.models.evaluate import _perplexity_of

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).to(device).eval()
    shards = PackedShards(corpus, "val")
    ppl = _perplexity_of(model, shards, max_sequences=64, batch_size=8)["perplexity"]
    del model
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return ppl


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", type=Path, help="a trained model folder (safetensors)")
    source.add_argument("--preset", choices=("tiny", "125m", "1b", "deepseek-7b"))
    parser.add_argument("--corpus", type=Path, help="packed shards; default random tokens")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--group-size", type=int, default=128)
    parser.add_argument("--algorithm", choices=("rtn", "gptq"), default="rtn")
    parser.add_argument("--calibration-samples", type=int, default=128)
    parser.add_argument("--check-plain", action="store_true")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=512, help="random-token corpus rows")
    parser.add_argument("--sequences", type=int, default=64, help="random-token corpus rows")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="CUDA: static KV cache + torch.compile(reduce-overhead) for decode",
    )
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder, removed")
    args = parser.parse_args()
    device = resolve_device(args.device)
    methods = [m for m in args.methods.split(",") if m]
    batches = tuple(int(b) for b in args.batches.split(","))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="forge-bench-quant-"))
    work.mkdir(parents=True, exist_ok=True)
    notes = []
    try:
        if args.preset:
            log(f"building a random-init {args.preset} (no trained weights) in {work}")
            src = random_model(args.preset, work / "parent", device)
            notes.append(
                f"weights: RANDOM INIT ({args.preset}); absolute perplexity is meaningless, "
                "only its change vs bf16 is reported"
            )
        else:
            src = args.folder
        vocab = read_config(src)["vocab_size"]
        corpus = args.corpus
        if corpus is None:
            corpus = random_corpus(
                work / "corpus", vocab=vocab, seq_len=args.seq_len, sequences=args.sequences
            )
            notes.append(
                f"text: {args.sequences} random-token sequences of {args.seq_len} tokens "
                "(the same for every method)"
            )
        corpus_train = corpus
        if args.algorithm == "gptq":
            corpus_train = random_corpus(
                work / "calibration",
                vocab=vocab,
                seq_len=args.seq_len,
                sequences=args.calibration_samples,
                seed=1,
                split="train",
            )
        rows = []
        for method in methods:
            dst = work / method
            log(f"quantize {method}")
            t0 = time.perf_counter()
            algorithm = args.algorithm if method in ("w8a16", "w4a16") else "rtn"
            info = quantize(
                src,
                dst,
                method=method,
                group_size=args.group_size,
                algorithm=algorithm,
                calibration_dir=corpus_train if algorithm == "gptq" else None,
                calibration_samples=args.calibration_samples,
                device=device,
            )
            info["quantize_s"] = time.perf_counter() - t0
            log(f"measure {method} ({info['quantize_s']:.0f} s to quantize)")
            result = measure(
                dst,
                corpus_dir=corpus,
                device=device,
                batch_sizes=batches,
                new_tokens=args.new_tokens,
                prompt_tokens=args.prompt_tokens,
                compile=args.compile,
            )
            if args.check_plain and method != "bf16":
                result["plain_perplexity"] = plain_perplexity(dst, corpus, device)
                forge_ppl, plain_ppl = result["perplexity"], result["plain_perplexity"]
                log(f"{method}: perplexity Forge {forge_ppl:.4f}, plain {plain_ppl:.4f}")
            rows.append({**info, **result, "method": method})
            print(json.dumps({"row": rows[-1]}, default=str), flush=True)
            gc.collect()
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
            shutil.rmtree(dst)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    base = next((r for r in rows if r["method"] == "bf16"), rows[0])
    device_name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU"
    print(json.dumps({"device": device_name, "rows": rows}, default=str))
    print()
    print(
        f"bench/quant on {device_name}; source: {args.folder or args.preset}; "
        f"w4a16 group size {args.group_size}; algorithm {args.algorithm}"
    )
    for note in notes:
        print(f"note: {note}")
    for method, note in runtime_notes(device).items():
        if method in methods:
            print(f"kernel {method}: {note}")
    head = ["method", "size MiB", "peak MiB"]
    head += [f"tok/s b{b}" for b in batches] + ["TTFT ms", "ppl", "ppl vs bf16"]
    head += [f"speed-up b{b}" for b in batches]
    print(" | ".join(head))
    for r in rows:
        cells = [r["method"], mib(r["size_bytes"]), mib(r["peak_memory_bytes"])]
        cells += [f"{r['tokens_per_s'][str(b)]:,.1f}" for b in batches]
        cells += [f"{r['ttft_s'] * 1000:,.1f}"]
        ppl, ref = r["perplexity"], base["perplexity"]
        cells += [f"{ppl:,.3f}", f"{ppl - ref:+.3f} ({(ppl / ref - 1) * 100:+.2f}%)"]
        cells += [
            f"{r['tokens_per_s'][str(b)] / base['tokens_per_s'][str(b)]:.2f}x" for b in batches
        ]
        print(" | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
