"""bench/train (GPU): tokens/s per GPU, MFU and peak memory of Forge's own training
entry point (gpu_agent/train), launched by DeepSpeed's launcher as the agent does.

    python3 bench/train.py --runs "deepseek-7b:gpus=1:zero=3:mb=4:ga=4:ckpt=1" [--steps 8]

Each run is PRESET:key=value:...; keys: gpus (GPUs on this node), zero (stage),
mb (micro-batch per GPU), ga (gradient accumulation), ckpt (activation
checkpointing 1/0), seq (sequence length, default 2048), and ZeRO-3 knobs set in the
DeepSpeed config on top of Forge's default: pf (stage3_prefetch_bucket_size), pt
(stage3_param_persistence_threshold), ml (stage3_max_live_parameters), rb
(reduce_bucket_size). The corpus is random
tokens over the preset's 52,000-token vocabulary in Forge's packed-shard format
(the model, optimizer and step are the same as with real text). No checkpoint is
written. Figures are medians over the steps after the first two (warm-up).
MFU = FLOPs per token (6 x matmul parameters + 12 x layers x hidden x seq,
recomputation not counted; gpu_agent/train/presets.flops_per_token) x tokens/s
per GPU / 989 TFLOP/s (H100/H200 dense bf16). Prints a table last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpu_agent.spec import STDOUT_MARKER  # noqa: E402
from gpu_agent.train.presets import param_count, preset  # noqa: E402

VOCAB = 52_000


def synthetic_corpus(folder: Path, *, seq_len: int, sequences: int, seed: int = 0) -> Path:
    """Random tokens as packed shards (gpu_agent/data.py's format), train and val."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    splits = {}
    for split, rows in (("train", sequences), ("val", max(8, sequences // 50))):
        name = f"{split}-00000.bin"
        data = rng.integers(4, VOCAB, size=(rows, seq_len), dtype=np.uint16)
        data.tofile(folder / name)
        splits[split] = {
            "sequences": rows,
            "tokens": rows * seq_len,
            "last_sequence_tokens": seq_len,
            "padding_tokens": 0,
            "shards": [{"file": name, "sequences": rows, "bytes": data.nbytes}],
        }
    index = {
        "format": "forge.packed-shards",
        "version": 1,
        "dtype": "uint16",
        "byte_order": "little",
        "seq_len": seq_len,
        "vocab_size": VOCAB,
        "eos_id": 1,
        "pad_id": 2,
        "bos_id": 0,
        "splits": splits,
    }
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def parse_run(text: str) -> dict:
    name, *pairs = text.split(":")
    run = {"preset": name, "gpus": 1, "zero": 3, "mb": 4, "ga": 4, "ckpt": 1, "seq": 2048}
    for pair in pairs:
        key, value = pair.split("=")
        run[key] = int(value)
    return run


ZERO_KNOBS = {
    "pf": "stage3_prefetch_bucket_size",
    "pt": "stage3_param_persistence_threshold",
    "ml": "stage3_max_live_parameters",
    "rb": "reduce_bucket_size",
}


def spec_for(run: dict, corpus: Path, ckpt: Path, steps: int) -> dict:
    spec = _spec(run, corpus, ckpt, steps)
    knobs = {ZERO_KNOBS[k]: v for k, v in run.items() if k in ZERO_KNOBS}
    if knobs:
        from gpu_agent.spec import spec_from_dict
        from gpu_agent.train.dsconfig import deepspeed_config
        from gpu_agent.train.spec import TrainSpec

        ds = deepspeed_config(spec_from_dict(TrainSpec, spec))
        ds["zero_optimization"].update(knobs)
        spec["deepspeed"] = ds
    return spec


def _spec(run: dict, corpus: Path, ckpt: Path, steps: int) -> dict:
    model = preset(run["preset"], vocab_size=VOCAB)
    return {
        "model": {**model.__dict__, "max_positions": max(model.max_positions, run["seq"])},
        "optimizer": {"lr": 3e-5},
        "scheduler": {"warmup_steps": 1, "total_steps": 500_000},
        "zero": {"stage": run["zero"]},
        "data": {"corpus_dir": str(corpus), "seq_len": run["seq"]},
        "checkpoint": {
            "dir": str(ckpt),
            "every": 10**9,
            "eval_every": 10**9,
            "eval_batches": 1,
            "save_final": False,
        },
        "steps": steps,
        "micro_batch": run["mb"],
        "grad_accum": run["ga"],
        "bf16": True,
        "activation_checkpointing": bool(run["ckpt"]),
        "gpus_per_node": run["gpus"],
    }


def launch(
    spec: dict, work: Path, gpus: int, port: int, log: Path
) -> tuple[int, list[dict], float]:
    work.mkdir(parents=True, exist_ok=True)
    (work / "launch.json").write_text(json.dumps({"kind": "train.run", "spec": spec}))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", str(gpus)]
    cmd += ["--master_port", str(port), "--module", "gpu_agent.train"]
    cmd += ["--spec", str(work / "launch.json")]
    started = time.time()
    with open(log, "w") as out:
        proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=out, text=True)
    out_text = proc.stdout
    with open(log, "a") as out:
        out.write(out_text)
    records = [
        json.loads(line[len(STDOUT_MARKER) :])
        for line in out_text.splitlines()
        if line.startswith(STDOUT_MARKER)
    ]
    return proc.returncode, records, time.time() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", required=True, help="comma-separated PRESET:key=value:...")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument(
        "--logs", type=Path, default=Path(os.environ.get("OUT", ".")) / "train-logs"
    )
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(args.runs.split(",")):
            run = parse_run(text)
            need = run["gpus"] * run["mb"] * run["ga"] * (args.steps + 1)
            corpus = synthetic_corpus(
                Path(tmp) / f"corpus-{run['seq']}-{need}", seq_len=run["seq"], sequences=need
            )
            spec = spec_for(run, corpus, Path(tmp) / f"ckpt-{i}", args.steps)
            log = args.logs / f"run-{i}-{text.replace(':', '_').replace('=', '')}.log"
            print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)
            rc, records, wall = launch(spec, Path(tmp) / f"work-{i}", run["gpus"], 29600 + i, log)
            metrics = [r["values"] for r in records if r["type"] == "metric"]
            timed = metrics[2:] or metrics
            row = {"run": text, "rc": rc, "wall_s": round(wall, 1), "steps": len(metrics)}
            if timed:
                tps = statistics.median(m["tokens_per_s"] for m in timed)
                row.update(
                    {
                        "params": param_count(preset(run["preset"], vocab_size=VOCAB)),
                        "tokens_per_s": round(tps),
                        "tokens_per_s_per_gpu": round(tps / run["gpus"]),
                        "mfu": round(statistics.median(m.get("mfu", 0.0) for m in timed), 4),
                        "peak_gib": round(max(m.get("gpu_mem_gib", 0.0) for m in metrics), 1),
                        "loss_first_last": [
                            round(metrics[0]["loss"], 3),
                            round(metrics[-1]["loss"], 3),
                        ],
                    }
                )
            else:
                with open(log) as f:
                    row["tail"] = f.read()[-1500:]
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\nrun | params | tokens/s/GPU | MFU | peak GiB | rc")
    for r in rows:
        print(
            f"{r['run']} | {r.get('params', 0) / 1e9:.2f} B | "
            f"{r.get('tokens_per_s_per_gpu', '-')} | "
            f"{r.get('mfu', 0):.1%} | {r.get('peak_gib', '-')} | {r['rc']}"
        )
    (args.logs / "results.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
