"""A run's estimated GPU-hours and cost, from its spec alone (pure: no database).

tokens = steps x micro-batch x accumulation x GPUs x nodes x seq_len;
seconds = tokens x flops_per_token / (GPUs x nodes x peak FLOP/s x MFU);
GPU-hours = GPUs x nodes x hours; cost = GPU-hours x price per GPU-hour.
A CPU run (0 GPUs per node) costs 0 GPU-hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from gpu_agent.train.loop import PEAK_TFLOPS
from gpu_agent.train.presets import flops_per_token
from gpu_agent.train.spec import TrainSpec

# When no enabled node names a GPU we know: assume the fastest (H100/H200), which
# under-estimates rather than over-estimates hours.
DEFAULT_PEAK_TFLOPS = max(PEAK_TFLOPS.values())


@dataclass(frozen=True)
class RunEstimate:
    tokens: int
    flops: float
    gpus: int
    peak_tflops: float
    mfu: float
    hours: float
    gpu_hours: float
    cost: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def peak_tflops_for(gpu_models: Iterable[str]) -> float:
    """The slowest known GPU among ``gpu_models`` (a run may land on any of them)."""
    known = [
        tflops for name in gpu_models for key, tflops in PEAK_TFLOPS.items() if key in name.upper()
    ]
    return min(known) if known else DEFAULT_PEAK_TFLOPS


def run_cost_estimate(
    spec: TrainSpec, *, peak_tflops: float, mfu: float, price_per_gpu_hour: float
) -> RunEstimate:
    gpus = spec.gpus_per_node * spec.nodes
    tokens = spec.steps * spec.tokens_per_step
    flops = tokens * flops_per_token(spec.model, spec.data.seq_len)
    if gpus == 0:
        return RunEstimate(
            tokens=tokens,
            flops=flops,
            gpus=0,
            peak_tflops=0.0,
            mfu=mfu,
            hours=0.0,
            gpu_hours=0.0,
            cost=0.0,
        )
    seconds = flops / (gpus * peak_tflops * 1e12 * mfu)
    hours = seconds / 3600
    gpu_hours = gpus * hours
    return RunEstimate(
        tokens=tokens,
        flops=flops,
        gpus=gpus,
        peak_tflops=peak_tflops,
        mfu=mfu,
        hours=hours,
        gpu_hours=gpu_hours,
        cost=gpu_hours * price_per_gpu_hour,
    )
