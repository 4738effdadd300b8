"""Model presets and their exact parameter counts.

``deepseek-7b`` is the seed configuration (DeepSeek-LLM v1 7B's shape with a
52,000-token vocabulary): about 6.9 B parameters. The vocabulary of every
preset follows the run's tokenizer.
"""

from __future__ import annotations

from dataclasses import replace

from gpu_agent.train.spec import ModelSpec

PRESETS: dict[str, ModelSpec] = {
    "tiny": ModelSpec(
        preset="tiny",
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        intermediate_size=172,
        max_positions=256,
    ),
    "125m": ModelSpec(
        preset="125m",
        hidden_size=768,
        num_layers=12,
        num_heads=12,
        intermediate_size=2_048,
        max_positions=2_048,
    ),
    "1b": ModelSpec(
        preset="1b",
        hidden_size=2_048,
        num_layers=16,
        num_heads=16,
        intermediate_size=5_504,
        max_positions=2_048,
    ),
    "deepseek-7b": ModelSpec(
        preset="deepseek-7b",
        hidden_size=4_096,
        num_layers=32,
        num_heads=32,
        intermediate_size=11_008,
        max_positions=2_048,
    ),
}


class UnknownPreset(ValueError):
    pass


def preset(name: str, *, vocab_size: int) -> ModelSpec:
    try:
        base = PRESETS[name]
    except KeyError:
        known = ", ".join(PRESETS)
        raise UnknownPreset(f"unknown preset {name!r}; known: {known}, or custom") from None
    return replace(base, vocab_size=vocab_size)


def layer_params(m: ModelSpec) -> int:
    """One decoder layer: q, k, v, o projections, gate/up/down MLP, two RMSNorms."""
    attention = 4 * m.hidden_size * m.hidden_size
    mlp = 3 * m.hidden_size * m.intermediate_size
    return attention + mlp + 2 * m.hidden_size


def param_count(m: ModelSpec) -> int:
    """Exactly what LlamaForCausalLM(config).num_parameters() reports (no biases)."""
    embeddings = m.vocab_size * m.hidden_size
    head = 0 if m.tie_embeddings else m.vocab_size * m.hidden_size
    return embeddings + m.num_layers * layer_params(m) + m.hidden_size + head


def largest_layer_params(m: ModelSpec) -> int:
    """The largest single parameter-holding module (ZeRO-3 gathers one at a time)."""
    return max(m.vocab_size * m.hidden_size, layer_params(m))


def flops_per_token(m: ModelSpec, seq_len: int) -> float:
    """Training FLOPs per token, as torchtitan and PaLM (appendix B) count them:
    6 x the parameters that do matmuls (the input embedding is a lookup, so it is
    left out; the output head is in) plus attention's 12 x layers x hidden x seq.
    Recomputation is not counted."""
    matmul_params = param_count(m) - (0 if m.tie_embeddings else m.vocab_size * m.hidden_size)
    return 6 * matmul_params + 12 * m.num_layers * m.hidden_size * seq_len
