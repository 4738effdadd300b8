"""Model presets and their exact parameter counts.

``deepseek-7b`` is the seed configuration (DeepSeek-LLM v1 7B's shape with a
52,000-token vocabulary): about 6.9 B parameters. The vocabulary of every
preset follows the run's tokenizer.

A "custom" model starts from a base preset's values and changes the fields in
CUSTOM_FIELDS; ModelSpec.check() bounds them (on the console and on the agent).
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


CUSTOM = "custom"

# What a custom model may set, with the help the form, the API and the CLI show.
# The vocabulary is not among them: it follows the corpus's tokenizer.
CUSTOM_FIELDS: dict[str, str] = {
    "hidden_size": "Width of the model; a multiple of num_heads.",
    "num_layers": "Decoder layers.",
    "num_heads": "Attention heads (key/value heads too); hidden_size / num_heads must be even.",
    "intermediate_size": "Width of each layer's gate/up/down MLP.",
    "max_positions": "Longest sequence; at least the corpus's sequence length.",
    "rope_theta": "Rotary embedding base.",
    "tie_embeddings": "Share the input embedding with the output head.",
    "norm_eps": "RMSNorm epsilon.",
    "initializer_range": "Standard deviation of the initial weights.",
}
FLOAT_BOUNDS: dict[str, tuple[float, float]] = {
    "rope_theta": (0.0, ModelSpec.ROPE_THETA_MAX),
    "norm_eps": (0.0, 0.1),
    "initializer_range": (0.0, 1.0),
}


def custom_fields() -> list[dict]:
    """The custom model's fields: name, type, bounds and help (for GET /api/v1/presets/)."""
    out = []
    for name, help_text in CUSTOM_FIELDS.items():
        if name in ModelSpec.LIMITS:
            low, high = ModelSpec.LIMITS[name]
            out.append({"name": name, "type": "int", "min": low, "max": high, "help": help_text})
        elif name in FLOAT_BOUNDS:
            low, high = FLOAT_BOUNDS[name]
            out.append({"name": name, "type": "float", "min": low, "max": high, "help": help_text})
        else:
            out.append({"name": name, "type": "bool", "min": None, "max": None, "help": help_text})
    return out


def preset_values(name: str) -> dict:
    """A preset's values of the custom fields: where a custom model starts from."""
    base = PRESETS[name]
    return {field: getattr(base, field) for field in CUSTOM_FIELDS}


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
