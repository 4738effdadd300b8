"""The DeepSpeed configuration of a run, from its spec.

The console calls ``deepspeed_config`` once, shows and stores the result (users
may edit it as JSON), and the agent runs exactly the stored dict.
"""

from __future__ import annotations

from typing import Any

from gpu_agent.train.spec import TrainSpec


def deepspeed_config(spec: TrainSpec) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": spec.zero.stage}
    if spec.zero.stage >= 1 and spec.zero.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if spec.zero.stage == 3:
        zero.update(
            {
                "overlap_comm": True,
                "contiguous_gradients": True,
                "stage3_gather_16bit_weights_on_model_save": False,
            }
        )
        if spec.zero.offload_params:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    cpu = spec.gpus_per_node == 0
    return {
        "train_micro_batch_size_per_gpu": spec.micro_batch,
        "gradient_accumulation_steps": spec.grad_accum,
        "gradient_clipping": spec.grad_clip,
        "steps_per_print": 10**9,  # Forge reports metrics itself
        "wall_clock_breakdown": False,
        "optimizer": {
            "type": "AdamW",
            "params": {
                "lr": spec.optimizer.lr,
                "betas": [spec.optimizer.beta1, spec.optimizer.beta2],
                "eps": spec.optimizer.eps,
                "weight_decay": spec.optimizer.weight_decay,
                # torch's AdamW: fused kernels on GPUs, and no compiled op on CPU nodes
                "torch_adam": True,
                **({} if cpu else {"fused": True}),
            },
        },
        "scheduler": {
            "type": "WarmupDecayLR",
            "params": {
                "warmup_min_lr": 0.0,
                "warmup_max_lr": spec.optimizer.lr,
                # DeepSpeed refuses 0: no warm-up is one step of it.
                "warmup_num_steps": max(1, spec.scheduler.warmup_steps),
                "total_num_steps": spec.scheduler.total_steps,
                "warmup_type": "linear",
            },
        },
        "bf16": {"enabled": bool(spec.bf16)},
        "zero_optimization": zero,
    }
