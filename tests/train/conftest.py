from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.data.engine.shards import tokenize_to_shards
from console.data.engine.tokenizer import train_tokenizer
from gpu_agent import shm
from tests.processes import free_port
from tests.shared import built_once

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
SEQ_LEN = 64
VOCAB = 512


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """The sample corpus, tokenized with a 512-token BPE into 64-token sequences
    (built once per test run, shared by xdist's workers)."""

    def build(base: Path) -> None:
        version = base / "version"
        version.mkdir()
        with open(version / "documents.jsonl", "w", encoding="utf-8") as out:
            for name in ("en.jsonl", "zh.jsonl"):
                for line in (SAMPLE / name).read_text("utf-8").splitlines():
                    text = json.loads(line)["text"]
                    out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        (version / "manifest.json").write_text("{}\n")
        train_tokenizer(version, base / "tokenizer", vocab_size=VOCAB)
        tokenize_to_shards(
            version, base / "tokenizer", base / "shards", seq_len=SEQ_LEN, val_fraction=0.1
        )

    return built_once(tmp_path_factory, "tiny-corpus", build) / "shards"


def tiny_spec(corpus: Path, ckpt: Path, **overrides) -> dict:
    spec = {
        "model": {"preset": "tiny", "vocab_size": VOCAB, "max_positions": SEQ_LEN},
        "optimizer": {"lr": 3e-3, "weight_decay": 0.0},
        "scheduler": {"warmup_steps": 2, "total_steps": 1000},
        "zero": {"stage": 2},
        "data": {"corpus_dir": str(corpus), "seq_len": SEQ_LEN},
        "checkpoint": {"dir": str(ckpt), "every": 5, "eval_every": 5, "eval_batches": 2},
        "steps": 12,
        "micro_batch": 4,
        "grad_accum": 2,
        "bf16": False,
        "activation_checkpointing": False,
        "gpus_per_node": 0,
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            spec[key] = {**spec.get(key, {}), **value}
        else:
            spec[key] = value
    return spec


def launch_by_hand(
    spec: dict,
    work: Path,
    *,
    procs: int = 1,
    port: int | None = None,
    timeout: int = 600,
    env: dict[str, str] | None = None,
):
    """The entry point under DeepSpeed's launcher on CPU, as an operator would run it."""
    work.mkdir(parents=True, exist_ok=True)
    launch = work / "launch.json"
    launch.write_text(json.dumps({"kind": "train.run", "spec": spec, "checkpoint": None}))
    env = {
        **os.environ,
        "DS_ACCELERATOR": "cpu",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    cmd = [
        sys.executable,
        "-m",
        "deepspeed.launcher.runner",
        "--num_gpus",
        str(procs),
        "--master_port",
        str(port or free_port()),
        "--module",
        "gpu_agent.train",
        "--spec",
        str(launch),
    ]
    try:
        return subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
    finally:
        shm.sweep()  # the CPU op's buffers outlive the run (gpu_agent.shm)


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory, tiny_corpus) -> dict[str, Path]:
    """A tiny model trained for 6 steps by the real entry point (CPU, gloo), with
    checkpoints at steps 3 and 6, each holding its weights as a Hugging Face folder
    (<tag>/hf). Keys: root (the checkpoint folder), hf (step 6's weights), tokenizer
    (the corpus's tokenizer, Hugging Face format), corpus (the packed shards)."""

    def build(base: Path) -> None:
        spec = tiny_spec(
            tiny_corpus, base / "ckpt", steps=6, checkpoint={"every": 3, "eval_every": 3}
        )
        done = launch_by_hand(spec, base / "work")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    base = built_once(tmp_path_factory, "tiny-trained", build)
    return {
        "root": base / "ckpt",
        "hf": base / "ckpt" / "step_6" / "hf",
        "tokenizer": tiny_corpus.parent / "tokenizer",
        "corpus": tiny_corpus,
    }
