"""The training entry point on CPU (gloo) under DeepSpeed's launcher: loss falls,
checkpoints are complete before they count, resume continues the step count."""

from __future__ import annotations

import json

import pytest

from gpu_agent.spec import STDOUT_MARKER
from gpu_agent.train import checkpoints
from tests.train.conftest import launch_by_hand, tiny_spec

pytestmark = pytest.mark.slow


def records(stdout: str) -> list[dict]:
    return [
        json.loads(line[len(STDOUT_MARKER) :])
        for line in stdout.splitlines()
        if line.startswith(STDOUT_MARKER)
    ]


def test_tiny_model_trains_checkpoints_and_resumes(tiny_corpus, tmp_path):
    ckpt = tmp_path / "ckpt"
    first = launch_by_hand(tiny_spec(tiny_corpus, ckpt, steps=12), tmp_path / "a")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    recs = records(first.stdout)
    metrics = [r for r in recs if r["type"] == "metric"]
    assert [m["step"] for m in metrics] == list(range(1, 13))
    losses = [m["values"]["loss"] for m in metrics]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3  # it learns
    assert {"lr", "grad_norm", "tokens_per_s", "samples"} <= set(metrics[-1]["values"])
    assert "eval_loss" in metrics[4]["values"] and "eval_ppl" in metrics[4]["values"]
    saved = [
        r["checkpoint"]["step"] for r in recs if r["type"] == "progress" and r.get("checkpoint")
    ]
    assert saved == [5, 10, 12]
    assert checkpoints.complete_steps(ckpt) == [5, 10, 12]
    run = json.loads((ckpt / "run.json").read_text())
    assert run["deepspeed"]["zero_optimization"]["stage"] == 2
    assert list((ckpt / "tensorboard").glob("events.out.tfevents.*"))

    # Resume: more steps, the same folder; it continues at step 13 from the step-12 state.
    again = launch_by_hand(tiny_spec(tiny_corpus, ckpt, steps=15), tmp_path / "b")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "resumed from checkpoint step 12" in again.stdout
    steps = [r["step"] for r in records(again.stdout) if r["type"] == "metric"]
    assert steps == [13, 14, 15]


def test_an_incomplete_checkpoint_is_never_latest(tiny_corpus, tmp_path):
    ckpt = tmp_path / "ckpt"
    done = launch_by_hand(tiny_spec(tiny_corpus, ckpt, steps=5), tmp_path / "a")
    assert done.returncode == 0, done.stderr[-3000:]
    # A save that died half way: the folder exists, the completion marker does not.
    (ckpt / "step_9").mkdir()
    (ckpt / "step_9" / "mp_rank_00_model_states.pt").write_bytes(b"partial")
    assert checkpoints.latest_complete(ckpt) == 5
    again = launch_by_hand(tiny_spec(tiny_corpus, ckpt, steps=7), tmp_path / "b")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed from checkpoint step 5" in again.stdout


def test_a_rank_killed_during_save_never_makes_it_latest(tiny_corpus, tmp_path):
    """Two ranks; rank 1 is SIGKILLed in the middle of the step-10 save, after its
    DeepSpeed files are written: the group dies, step 10 has files but no completion
    marker, and the next launch resumes from step 5."""
    ckpt = tmp_path / "ckpt"
    spec = tiny_spec(tiny_corpus, ckpt, steps=12)
    died = launch_by_hand(spec, tmp_path / "a", procs=2, env={"FORGE_TRAIN_KILL_IN_SAVE": "1:10"})
    assert died.returncode != 0
    assert (ckpt / "step_10").is_dir() and any((ckpt / "step_10").iterdir())
    assert not (ckpt / "step_10" / checkpoints.COMPLETE).exists()
    assert checkpoints.latest_complete(ckpt) == 5
    again = launch_by_hand(spec, tmp_path / "b", procs=2)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed from checkpoint step 5" in again.stdout
    assert checkpoints.latest_complete(ckpt) == 12


def test_data_that_does_not_match_the_model_is_a_clear_error(tiny_corpus, tmp_path):
    spec = tiny_spec(tiny_corpus, tmp_path / "ckpt", model={"vocab_size": 300})
    result = launch_by_hand(spec, tmp_path / "a")
    assert result.returncode != 0
    assert "cannot train: the corpus's tokenizer has 512 tokens" in result.stdout + result.stderr
