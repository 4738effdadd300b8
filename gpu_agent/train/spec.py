"""The typed spec of a training run, shared by the console (which validates and
stores it) and the agent's training entry point (which runs exactly it).

Nested, as nanoGPT/torchtitan configs are: model, optimizer, scheduler, zero,
data, checkpoint. ``deepspeed_config(spec)`` (dsconfig.py) turns it into the
DeepSpeed JSON; the console stores that JSON beside the spec, and the agent
runs the stored JSON, not a recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(kw_only=True)
class ModelSpec:
    """A LLaMA-style decoder (DeepSeek-LLM v1's architecture). ``preset`` names the
    preset it came from, or "custom" for a shape the user set. Attention is multi-head
    (as many key/value heads as query heads)."""

    # What a shape may be; a custom model is refused outside these, here and on the
    # agent, and the console's forms take their bounds from them.
    LIMITS: ClassVar[dict[str, tuple[int, int]]] = {
        "vocab_size": (1, 10_000_000),
        "hidden_size": (8, 65_536),
        "num_layers": (1, 1_024),
        "num_heads": (1, 1_024),
        "intermediate_size": (8, 262_144),
        "max_positions": (8, 1_048_576),
    }
    ROPE_THETA_MAX: ClassVar[float] = 1e9

    preset: str = "tiny"
    vocab_size: int = 52_000
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 172
    max_positions: int = 256
    initializer_range: float = 0.02
    norm_eps: float = 1e-5
    rope_theta: float = 10_000.0
    tie_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads if self.num_heads > 0 else 0

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not self.preset or len(self.preset) > 40:
            errors["preset"] = ["must be a preset name or 'custom' (at most 40 characters)"]
        for name, (low, high) in self.LIMITS.items():
            if not low <= getattr(self, name) <= high:
                errors[name] = [f"must be between {low} and {high}"]
        if "num_heads" not in errors and "hidden_size" not in errors:
            if self.hidden_size % self.num_heads:
                errors["num_heads"] = [
                    f"must divide hidden_size ({self.hidden_size} is not a multiple of "
                    f"{self.num_heads})"
                ]
            elif self.head_dim % 2:
                errors["num_heads"] = [
                    f"gives an odd head dimension (hidden_size / num_heads = {self.head_dim}); "
                    "rotary embeddings need it even"
                ]
        if not 0 < self.rope_theta <= self.ROPE_THETA_MAX:
            errors["rope_theta"] = [f"must be greater than 0 and at most {self.ROPE_THETA_MAX:g}"]
        if not 0 < self.initializer_range < 1:
            errors["initializer_range"] = ["must be between 0 and 1"]
        if not 0 < self.norm_eps < 0.1:
            errors["norm_eps"] = ["must be between 0 and 0.1"]
        return errors


@dataclass(kw_only=True)
class OptimizerSpec:
    """AdamW, the reference recipe's values."""

    lr: float = 3e-5
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 0 < self.lr < 1:
            errors["lr"] = ["must be between 0 and 1"]
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                errors[name] = ["must be in [0, 1)"]
        if not 0 < self.eps < 1:
            errors["eps"] = ["must be between 0 and 1"]
        if not 0 <= self.weight_decay < 1:
            errors["weight_decay"] = ["must be in [0, 1)"]
        return errors


@dataclass(kw_only=True)
class SchedulerSpec:
    """DeepSpeed's WarmupDecayLR: linear warm-up, then linear decay to 0 at total_steps."""

    warmup_steps: int = 1_000
    total_steps: int = 500_000

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if self.warmup_steps < 0:
            errors["warmup_steps"] = ["must be >= 0"]
        if self.total_steps <= self.warmup_steps:
            errors["total_steps"] = ["must be greater than warmup_steps"]
        return errors


@dataclass(kw_only=True)
class ZeroSpec:
    stage: int = 3
    offload_optimizer: bool = False
    offload_params: bool = False

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if self.stage not in (0, 1, 2, 3):
            errors["stage"] = ["must be 0, 1, 2 or 3"]
        if self.offload_params and self.stage != 3:
            errors["offload_params"] = ["parameter offload needs ZeRO stage 3"]
        if self.offload_optimizer and self.stage == 0:
            errors["offload_optimizer"] = ["optimizer offload needs ZeRO stage 1, 2 or 3"]
        return errors


@dataclass(kw_only=True)
class DataSpec:
    """Packed token shards (console.data's tokenized corpus), read by gpu_agent.data."""

    corpus_dir: str = ""
    seq_len: int = 2_048

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not self.corpus_dir:
            errors["corpus_dir"] = ["is required"]
        if not 8 <= self.seq_len <= 1_048_576:
            errors["seq_len"] = ["must be between 8 and 1048576"]
        return errors


@dataclass(kw_only=True)
class CheckpointSpec:
    dir: str = ""  # the run's checkpoint folder; every attempt and node uses the same one
    every: int = 500  # steps between checkpoints (and a last one at the end)
    eval_every: int = 250
    eval_batches: int = 20
    save_final: bool = True  # benchmarks turn it off (a 7B ZeRO-3 checkpoint is ~100 GB)
    # Also write the consolidated 16-bit weights as a Hugging Face folder (config.json and
    # safetensors, sharded at 5 GB) in <tag>/hf: what the model registry exports, read
    # without unpickling anything (RELIABILITY.md S10).
    export_weights: bool = True

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not self.dir:
            errors["dir"] = ["is required"]
        for name in ("every", "eval_every", "eval_batches"):
            if getattr(self, name) < 1:
                errors[name] = ["must be at least 1"]
        return errors


@dataclass(kw_only=True)
class TrainSpec:
    """One training run. ``deepspeed`` is the DeepSpeed JSON the run launches with."""

    KIND: ClassVar[str] = "train.run"

    model: ModelSpec = field(default_factory=ModelSpec)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    scheduler: SchedulerSpec = field(default_factory=SchedulerSpec)
    zero: ZeroSpec = field(default_factory=ZeroSpec)
    data: DataSpec = field(default_factory=DataSpec)
    checkpoint: CheckpointSpec = field(default_factory=CheckpointSpec)
    steps: int = 1_000  # optimizer steps
    micro_batch: int = 4  # per GPU (per process on CPU)
    grad_accum: int = 8
    bf16: bool = True
    activation_checkpointing: bool = True
    grad_clip: float = 1.0
    seed: int = 1234
    gpus_per_node: int = 1  # 0: CPU processes (gloo); then cpu_procs_per_node processes
    cpu_procs_per_node: int = 1
    nodes: int = 1
    deepspeed: dict[str, Any] = field(default_factory=dict)

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 1 <= self.steps <= 100_000_000:
            errors["steps"] = ["must be between 1 and 100000000"]
        for name in ("micro_batch", "grad_accum", "nodes", "cpu_procs_per_node"):
            if not 1 <= getattr(self, name) <= 4096:
                errors[name] = ["must be between 1 and 4096"]
        if not 0 <= self.gpus_per_node <= 64:
            errors["gpus_per_node"] = ["must be between 0 and 64"]
        if self.grad_clip < 0:
            errors["grad_clip"] = ["must be >= 0"]
        if self.data.seq_len > self.model.max_positions:
            errors["data.seq_len"] = ["must not exceed model.max_positions"]
        return errors

    @property
    def world_size(self) -> int:
        return self.nodes * (self.gpus_per_node or self.cpu_procs_per_node)

    @property
    def tokens_per_step(self) -> int:
        return self.world_size * self.micro_batch * self.grad_accum * self.data.seq_len
