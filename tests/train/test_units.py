"""Presets, memory estimates, the run spec, the DeepSpeed config and the
TensorBoard writer: no processes, checked against transformers, DeepSpeed and
TensorBoard's own code."""

from __future__ import annotations

import math

import pytest
from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
from transformers import LlamaConfig, LlamaForCausalLM

from gpu_agent.spec import SpecError, spec_from_dict
from gpu_agent.train import memory
from gpu_agent.train.dsconfig import deepspeed_config
from gpu_agent.train.presets import (
    PRESETS,
    UnknownPreset,
    largest_layer_params,
    param_count,
    preset,
)
from gpu_agent.train.spec import TrainSpec
from gpu_agent.train.tensorboard import SummaryWriter, crc32c


def test_seed_config_is_the_7b_model():
    m = preset("deepseek-7b", vocab_size=52_000)
    assert (m.hidden_size, m.num_layers, m.num_heads, m.intermediate_size) == (4096, 32, 32, 11008)
    assert (m.max_positions, m.initializer_range, m.norm_eps) == (2048, 0.02, 1e-5)
    assert 6.85e9 < param_count(m) < 6.95e9


@pytest.mark.parametrize("name", ["tiny", "125m"])
def test_param_count_is_what_transformers_builds(name):
    m = preset(name, vocab_size=1_000)
    config = LlamaConfig(
        vocab_size=m.vocab_size,
        hidden_size=m.hidden_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        intermediate_size=m.intermediate_size,
    )
    assert param_count(m) == LlamaForCausalLM(config).num_parameters()


def test_unknown_preset():
    with pytest.raises(UnknownPreset, match="unknown preset 'gpt5'"):
        preset("gpt5", vocab_size=10)


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("gpus,nodes", [(1, 1), (8, 1), (8, 4)])
def test_memory_matches_deepspeeds_estimators(name, gpus, nodes):
    m = preset(name, vocab_size=52_000)
    total, largest = param_count(m), largest_layer_params(m)
    for offload in (False, True):
        assert memory.zero2_model_states(total, gpus, nodes, offload) == (
            estimate_zero2_model_states_mem_needs(total, gpus, nodes, offload)
        )
        for offload_params in (False, True):
            cpu, gpu, _ = estimate_zero3_model_states_mem_needs(
                total, largest, gpus, nodes, offload, offload_params
            )
            assert memory.zero3_model_states(
                total, largest, gpus, nodes, offload, offload_params
            ) == (cpu, gpu)


def test_7b_on_one_h200_fits_only_with_zero3():
    m = preset("deepseek-7b", vocab_size=52_000)
    h200 = 143_771 * 2**20  # what NVML reports
    table = {(e.stage, e.offload_optimizer, e.offload_params): e for e in memory.estimate_table(m)}
    assert memory.fits(table[(2, False, False)], gpu_bytes=h200)  # seen: out of memory
    assert not memory.fits(table[(3, False, False)], gpu_bytes=h200)  # seen: ~110 GiB peak
    assert table[(3, True, True)].gpu_model_states < 2 * memory.GIB
    host = memory.fits(table[(3, True, True)], gpu_bytes=h200, host_bytes=64 * memory.GIB)
    assert host and "host memory" in host[0]


def test_spec_errors_name_nested_fields():
    with pytest.raises(SpecError) as err:
        spec_from_dict(
            TrainSpec,
            {"model": {"num_heads": 5}, "zero": {"stage": 2, "offload_params": True}, "steps": 0},
        )
    assert set(err.value.errors) >= {"model.num_heads", "zero.offload_params"}
    with pytest.raises(SpecError) as err:
        spec_from_dict(TrainSpec, {"optimizer": {"lr": "fast"}})
    assert "optimizer.lr" in err.value.errors


def test_reference_recipe_is_the_default_deepspeed_config():
    ds = deepspeed_config(TrainSpec())
    assert ds["train_micro_batch_size_per_gpu"] == 4 and ds["gradient_accumulation_steps"] == 8
    opt = ds["optimizer"]["params"]
    assert ds["optimizer"]["type"] == "AdamW"
    assert (opt["lr"], opt["betas"], opt["eps"]) == (3e-5, [0.9, 0.95], 1e-8)
    sched = ds["scheduler"]
    assert sched["type"] == "WarmupDecayLR"
    assert (sched["params"]["warmup_num_steps"], sched["params"]["total_num_steps"]) == (
        1000,
        500_000,
    )
    assert ds["zero_optimization"]["stage"] == 3 and ds["bf16"]["enabled"] is True


def test_tensorboard_reads_our_event_files(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    writer = SummaryWriter(tmp_path)
    for step in range(1, 6):
        writer.add_scalars(step, {"Loss/train": 3.0 / step, "LR/train": 1e-4})
    writer.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert {"Loss/train", "LR/train"} <= set(acc.Tags()["scalars"])
    loss = acc.Scalars("Loss/train")
    assert [e.step for e in loss] == [1, 2, 3, 4, 5]
    assert math.isclose(loss[-1].value, 0.6, rel_tol=1e-6)


@pytest.mark.parametrize("warmup", [0, 1, 7])
def test_a_schedule_without_warmup_is_one_deepspeed_accepts(warmup):
    """A short run's default warm-up (a tenth of 8 steps) is 0, which DeepSpeed's
    WarmupDecayLR refuses at start-up ("warmup_num_steps must be a positive integer")."""
    import torch
    from deepspeed.runtime.lr_schedules import WarmupDecayLR

    from gpu_agent.train.dsconfig import deepspeed_config
    from gpu_agent.train.spec import SchedulerSpec, TrainSpec

    spec = TrainSpec(scheduler=SchedulerSpec(warmup_steps=warmup, total_steps=8), gpus_per_node=0)
    params = deepspeed_config(spec)["scheduler"]["params"]
    assert params["warmup_num_steps"] == max(1, warmup)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    WarmupDecayLR(optimizer, **{k: v for k, v in params.items()})
