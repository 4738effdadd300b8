"""The rules every new run starts with: the reference monitoring table for the metric
names the training loop reports (gpu_agent/train/loop.py: loss, eval_loss, lr,
tokens_per_s, ...). A tiny model on a small corpus has other normal ranges: each run's
rules are edited on its page or through the API."""

from __future__ import annotations

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
