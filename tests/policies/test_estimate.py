"""The GPU-hours and cost estimate: a pure function of the spec."""

from __future__ import annotations

import pytest

from console.policies.estimate import DEFAULT_PEAK_TFLOPS, peak_tflops_for, run_cost_estimate
from gpu_agent.spec import spec_from_dict, spec_to_dict
from gpu_agent.train.presets import flops_per_token, preset
from gpu_agent.train.spec import TrainSpec


def _spec(**overrides) -> TrainSpec:
    data = {
        "model": spec_to_dict(preset("1b", vocab_size=32_000)),
        "data": {"corpus_dir": "/x", "seq_len": 2048},
        "steps": 10_000,
        "micro_batch": 4,
        "grad_accum": 8,
        "gpus_per_node": 8,
        "nodes": 2,
        "scheduler": {"warmup_steps": 100, "total_steps": 10_000},
        **overrides,
    }
    return spec_from_dict(TrainSpec, data)


def test_gpu_hours_and_cost_follow_the_formula():
    spec = _spec()
    est = run_cost_estimate(spec, peak_tflops=989.0, mfu=0.4, price_per_gpu_hour=3.0)
    tokens = 10_000 * 4 * 8 * 8 * 2 * 2048
    assert est.tokens == tokens
    seconds = tokens * flops_per_token(spec.model, 2048) / (16 * 989e12 * 0.4)
    assert est.hours == pytest.approx(seconds / 3600)
    assert est.gpu_hours == pytest.approx(16 * seconds / 3600)
    assert est.cost == pytest.approx(3.0 * 16 * seconds / 3600)
    assert est.gpus == 16
    # Half the MFU: twice the hours; a slower GPU: longer in proportion.
    slower = run_cost_estimate(spec, peak_tflops=312.0, mfu=0.2, price_per_gpu_hour=3.0)
    assert slower.gpu_hours == pytest.approx(est.gpu_hours * 2 * 989 / 312)


def test_a_cpu_run_costs_no_gpu_hours():
    est = run_cost_estimate(
        _spec(gpus_per_node=0, bf16=False), peak_tflops=989.0, mfu=0.4, price_per_gpu_hour=3.0
    )
    assert est.gpu_hours == 0 and est.cost == 0 and est.gpus == 0 and est.tokens > 0


def test_peak_is_the_slowest_known_gpu_of_the_fleet():
    assert peak_tflops_for(["NVIDIA H200", "NVIDIA A100-SXM4-80GB"]) == 312.0
    assert peak_tflops_for(["NVIDIA H100 80GB HBM3"]) == 989.0
    assert peak_tflops_for(["Some Future GPU"]) == DEFAULT_PEAK_TFLOPS
    assert peak_tflops_for([]) == DEFAULT_PEAK_TFLOPS
