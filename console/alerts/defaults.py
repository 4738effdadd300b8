"""The rules every new run starts with, scaled to what the run trains.

``DEFAULT_RULES`` is the reference monitoring table of the reference recipe (the
deepseek-7b preset, a 52,000-token vocabulary, peak lr 3e-5) for the metric names the
training loop reports (gpu_agent/train/loop.py: loss, eval_loss, lr, tokens_per_s,
...); migration 0002 gave it to the runs that existed then. Its absolute numbers fire
on every small run: a tiny model's loss stays far above 3.0, and its learning rate is
not the reference's. So ``rules_for_run`` scales the table to the run:

* **Loss** (train and eval). A model that has learned nothing guesses uniformly over
  its vocabulary: loss ln(V), which is also where training starts. deepseek-7b keeps
  the reference thresholds and normal ranges, rescaled by ln(V) / ln(52,000) for
  another vocabulary. Every other preset (and a custom model) alerts above
  LOSS_DIVERGED x ln(V), worse than that uniform guess (diverging, or not learning),
  and shows "normal <= ln(V)": what is normal for a small model on a small corpus is
  the user's to set on the run's page.
* **Learning rate**, relative to the run's own peak (its spec's optimizer.lr): below
  LR_LOW x peak or above LR_HIGH x peak, normal 0.1 x peak to peak. The evaluation
  (console.alerts.evaluate) judges lr only between the end of warm-up and
  LR_JUDGED_UNTIL of the schedule's total steps, where a linear decay to 0 stays above
  about a tenth of the peak: warm-up and the final decay are the schedule working,
  not an alert.
* **GPU utilisation**: a model under SMALL_MODEL_PARAMS cannot keep a GPU busy, so its
  rule has no lower bound (only "above 98%").
* Not-finite loss, loss spikes, throughput drops and stalls are relative already
  (rolling medians, time) and stay as the reference has them.

Each run's rules can be edited on its page or through the API.
"""

from __future__ import annotations

import copy
import math
from typing import Any

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "train-loss-high",
        "kind": "threshold",
        "metric": "loss",
        "high": 3.0,
        "normal_low": 1.8,
        "normal_high": 2.5,
    },
    {
        "name": "eval-loss-high",
        "kind": "threshold",
        "metric": "eval_loss",
        "high": 3.5,
        "normal_low": 2.0,
        "normal_high": 2.8,
    },
    {
        "name": "lr-out-of-range",
        "kind": "threshold",
        "metric": "lr",
        "low": 1e-6,
        "high": 1e-4,
        "normal_low": 1e-6,
        "normal_high": 1e-4,
    },
    {
        "name": "gpu-util",
        "kind": "gpu_util",
        "low": 70.0,
        "high": 98.0,
        "window": 120,
        "normal_low": 85.0,
        "normal_high": 95.0,
    },
    {"name": "loss-not-finite", "kind": "not_finite", "metric": "loss", "severity": "critical"},
    {"name": "loss-spike", "kind": "spike", "metric": "loss", "factor": 1.5, "window": 50},
    {
        "name": "throughput-drop",
        "kind": "drop",
        "metric": "tokens_per_s",
        "factor": 0.5,
        "window": 50,
    },
    {"name": "metrics-stalled", "kind": "stall", "window": 300, "severity": "critical"},
]

REFERENCE_PRESET = "deepseek-7b"
REFERENCE_VOCAB = 52_000
LOSS_RULES = ("train-loss-high", "eval-loss-high")
LOSS_DIVERGED = 1.1  # x ln(vocab): worse than a uniform guess
LR_LOW, LR_HIGH = 0.05, 1.5  # x the run's peak lr
LR_JUDGED_UNTIL = 0.9  # of the schedule's total steps (see console.alerts.evaluate)
SMALL_MODEL_PARAMS = 100_000_000


def _round(value: float) -> float:
    return float(f"{value:.3g}")


def default_rules(
    *, preset: str, vocab_size: int | None, lr: float | None, params: int | None = None
) -> list[dict[str, Any]]:
    """The rules for a run of ``preset`` on a ``vocab_size`` vocabulary with peak ``lr``
    (unknown: None keeps the reference's value) and ``params`` parameters."""
    rules = copy.deepcopy(DEFAULT_RULES)
    by_name = {rule["name"]: rule for rule in rules}
    if vocab_size and vocab_size > 1:
        uniform = math.log(vocab_size)
        for name in LOSS_RULES:
            rule = by_name[name]
            if preset == REFERENCE_PRESET:
                scale = uniform / math.log(REFERENCE_VOCAB)
                for key in ("high", "normal_low", "normal_high"):
                    rule[key] = _round(rule[key] * scale)
            else:
                rule.update(
                    high=_round(LOSS_DIVERGED * uniform),
                    normal_low=None,
                    normal_high=_round(uniform),
                )
    if lr is not None and lr > 0:
        by_name["lr-out-of-range"].update(
            low=_round(LR_LOW * lr),
            high=_round(LR_HIGH * lr),
            normal_low=_round(0.1 * lr),
            normal_high=_round(lr),
        )
    if params is not None and params < SMALL_MODEL_PARAMS:
        by_name["gpu-util"].update(low=None, normal_low=None)
    return rules


def rules_for_run(run: Any) -> list[dict[str, Any]]:
    """``default_rules`` for a Run: its preset and parameter count, its corpus's
    vocabulary, and the peak lr of its spec (run_create's ``run_created`` effects call
    this once the run has its job's spec)."""
    spec = run.spec or {}
    model = spec.get("model") or {}
    vocab = model.get("vocab_size")
    if vocab is None and run.corpus_id is not None:
        vocab = run.corpus.tokenizer.vocab_size
    return default_rules(
        preset=run.preset,
        vocab_size=vocab,
        lr=(spec.get("optimizer") or {}).get("lr"),
        params=run.params or None,
    )
