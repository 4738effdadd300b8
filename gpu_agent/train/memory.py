"""Memory estimates per GPU and per host for each ZeRO stage and offload choice.

Model states follow DeepSpeed's own estimators
(deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs and
stage3.estimate_zero3_model_states_mem_needs, tests cross-check them), without
importing DeepSpeed so the console can show them. Activations are a rough
figure on top (bf16, per micro-batch): with checkpointing each layer keeps its
input and one layer is recomputed at a time; without, every layer keeps about
34·s·b·h + 5·a·s²·b bytes (Korthikanti et al., 2022, sdpa's attention not
materialised so the s² term is dropped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gpu_agent.train.presets import largest_layer_params, param_count
from gpu_agent.train.spec import ModelSpec

GIB = 1024**3
BUFFER = 1.5  # DeepSpeed's additional_buffer_factor
# Share of a GPU's memory a run may plan to use: the rest goes to the CUDA context,
# NCCL buffers, temporary tensors and allocator fragmentation. (7B with ZeRO-2 on one
# H200 is estimated at 95% of its memory and ran out of it.)
HEADROOM = 0.9


@dataclass(frozen=True)
class Estimate:
    stage: int
    offload_optimizer: bool
    offload_params: bool
    gpu_model_states: int  # bytes per GPU
    host_model_states: int  # bytes per host
    gpu_activations: int  # bytes per GPU, rough

    @property
    def gpu_total(self) -> int:
        return self.gpu_model_states + self.gpu_activations

    def as_dict(self) -> dict:
        return {**asdict(self), "gpu_total": self.gpu_total}


def zero2_model_states(
    total: int, gpus_per_node: int, nodes: int, offload: bool
) -> tuple[int, int]:
    """(host bytes, GPU bytes): DeepSpeed's ZeRO-2 estimator."""
    gpus = nodes * gpus_per_node
    if offload:
        return int(total * max(4 * gpus, 16) * BUFFER), int(2 * total)
    return int(total * 4 * gpus_per_node * BUFFER), int(2 * total + int(18 * total / gpus))


def zero3_model_states(
    total: int,
    largest: int,
    gpus_per_node: int,
    nodes: int,
    offload_optimizer: bool,
    offload_params: bool,
    zero_init: bool = True,
) -> tuple[int, int]:
    """(host bytes, GPU bytes): DeepSpeed's ZeRO-3 estimator."""
    gpus = nodes * gpus_per_node
    per_node = 1 / nodes
    largest_memory = 4 * largest
    if offload_optimizer:
        if offload_params:
            gpu = largest_memory
            factor = 18 * per_node if zero_init else max(4 * gpus_per_node, 18 * per_node)
        else:
            gpu = largest_memory + int(2 * total / gpus)
            factor = 16 * per_node if zero_init else max(4 * gpus_per_node, 16 * per_node)
        return int(total * factor * BUFFER), int(gpu)
    gpu = largest_memory + int(18 * total / gpus)
    host = (largest if zero_init else total) * 4 * gpus_per_node * BUFFER
    return int(host), int(gpu)


def activations(m: ModelSpec, seq_len: int, micro_batch: int, checkpointing: bool) -> int:
    s, b, h = seq_len, micro_batch, m.hidden_size
    per_layer = 34 * s * b * h
    logits = 6 * s * b * m.vocab_size  # bf16 logits + fp32 for the loss
    if checkpointing:
        return int(m.num_layers * 2 * s * b * h + per_layer + logits)
    return int(m.num_layers * per_layer + logits)


def estimate(
    m: ModelSpec,
    *,
    stage: int,
    offload_optimizer: bool = False,
    offload_params: bool = False,
    gpus_per_node: int = 1,
    nodes: int = 1,
    seq_len: int = 2048,
    micro_batch: int = 4,
    checkpointing: bool = True,
) -> Estimate:
    total, largest = param_count(m), largest_layer_params(m)
    gpus = max(1, gpus_per_node)
    if stage == 3:
        host, gpu = zero3_model_states(
            total, largest, gpus, nodes, offload_optimizer, offload_params
        )
    elif stage in (1, 2):
        host, gpu = zero2_model_states(total, gpus, nodes, offload_optimizer)
    else:  # plain data parallel: bf16 weights and grads, fp32 master, Adam states everywhere
        host, gpu = int(total * 4 * gpus * BUFFER), 20 * total
    return Estimate(
        stage=stage,
        offload_optimizer=offload_optimizer,
        offload_params=offload_params,
        gpu_model_states=gpu,
        host_model_states=host,
        gpu_activations=activations(m, seq_len, micro_batch, checkpointing),
    )


def fits(est: Estimate, *, gpu_bytes: int, host_bytes: int | None = None) -> list[str]:
    """Why ``est`` does not fit GPUs of ``gpu_bytes`` (and hosts of ``host_bytes``);
    empty when it does."""
    problems = []
    if est.gpu_total > HEADROOM * gpu_bytes:
        problems.append(
            f"needs about {est.gpu_total / GIB:.1f} GiB per GPU; the GPUs have "
            f"{gpu_bytes / GIB:.1f} GiB (plan at most {HEADROOM:.0%})"
        )
    if host_bytes is not None and est.host_model_states > HEADROOM * host_bytes:
        problems.append(
            f"needs about {est.host_model_states / GIB:.1f} GiB of host memory; the host has "
            f"{host_bytes / GIB:.1f} GiB"
        )
    return problems


def estimate_table(m: ModelSpec, **kwargs) -> list[Estimate]:
    """Every stage and offload choice, as the preset pages show them."""
    choices = [(0, False, False), (1, False, False), (2, False, False), (2, True, False)]
    choices += [(3, False, False), (3, True, False), (3, True, True)]
    return [
        estimate(m, stage=s, offload_optimizer=o, offload_params=p, **kwargs) for s, o, p in choices
    ]
