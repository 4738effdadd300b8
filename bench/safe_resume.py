"""Resume GPU-written DeepSpeed checkpoints through Forge's restricted unpickler.

gpu_agent.train.safe_load lets torch.load unpickle only weights, plain values and a short
allowlist of DeepSpeed types (S10). The allowlist was read off CPU (fp32) checkpoints;
this checks that bf16 checkpoints written on a GPU with ZeRO-2 and ZeRO-3 resume through
it, with the real entry point under DeepSpeed's launcher:

    python3 bench/safe_resume.py [--stages 2 3] [--out DIR]

For each stage: train the tiny preset 6 steps (checkpoints at 3 and 6), then launch the
same run to 9 steps: it must resume from step 6 ("resumed from checkpoint step 6") and
exit 0. Prints a table last; the logs stay under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.data.engine.shards import tokenize_to_shards  # noqa: E402
from console.data.engine.tokenizer import train_tokenizer  # noqa: E402

SAMPLE = ROOT / "data" / "sample"


def corpus(base: Path) -> Path:
    version = base / "version"
    version.mkdir(parents=True, exist_ok=True)
    with open(version / "documents.jsonl", "w", encoding="utf-8") as out:
        for name in ("en.jsonl", "zh.jsonl"):
            for line in (SAMPLE / name).read_text("utf-8").splitlines():
                out.write(json.dumps({"text": json.loads(line)["text"]}, ensure_ascii=False) + "\n")
    (version / "manifest.json").write_text("{}\n")
    train_tokenizer(version, base / "tokenizer", vocab_size=512)
    tokenize_to_shards(version, base / "tokenizer", base / "shards", seq_len=64, val_fraction=0.1)
    return base / "shards"


def launch(spec: dict, work: Path, port: int) -> tuple[int, str, float]:
    work.mkdir(parents=True, exist_ok=True)
    (work / "launch.json").write_text(json.dumps({"kind": "train.run", "spec": spec}))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", "1",
            "--master_port", str(port), "--module", "gpu_agent.train",
            "--spec", str(work / "launch.json"),
        ],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    log = done.stdout + done.stderr
    (work / "log.txt").write_text(log)
    return done.returncode, log, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--out", type=Path, default=None, help="default: a new temporary folder")
    args = parser.parse_args()
    args.out = args.out or Path(tempfile.mkdtemp(prefix="safe_resume-"))
    shards = corpus(args.out / "corpus")
    rows = []
    for stage in args.stages:
        ckpt = args.out / f"ckpt-zero{stage}"

        def spec(steps: int, ckpt: Path = ckpt, stage: int = stage) -> dict:
            return {
                "model": {"preset": "tiny", "vocab_size": 512, "max_positions": 64},
                "optimizer": {"lr": 1e-3},
                "scheduler": {"warmup_steps": 2, "total_steps": 1000},
                "zero": {"stage": stage},
                "data": {"corpus_dir": str(shards), "seq_len": 64},
                "checkpoint": {"dir": str(ckpt), "every": 3, "eval_every": 3, "eval_batches": 2},
                "steps": steps,
                "micro_batch": 4,
                "grad_accum": 2,
                "bf16": True,
                "activation_checkpointing": False,
                "gpus_per_node": 1,
            }

        first, _, t1 = launch(spec(6), args.out / f"zero{stage}-first", 29700 + stage)
        second, log, t2 = launch(spec(9), args.out / f"zero{stage}-resume", 29710 + stage)
        resumed = "resumed from checkpoint step 6" in log
        refused = "refused to load" in log
        rows.append((stage, first, second, resumed, refused, t1, t2))
    print("\nZeRO | first exit | resume exit | resumed from 6 | refused | first s | resume s")
    for stage, first, second, resumed, refused, t1, t2 in rows:
        print(f"{stage:>4} | {first:>10} | {second:>11} | {resumed!s:>14} | {refused!s:>7} | "
              f"{t1:7.1f} | {t2:8.1f}")  # fmt: skip
    ok = all(r[1] == 0 and r[2] == 0 and r[3] and not r[4] for r in rows)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
