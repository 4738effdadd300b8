"""ONNX export of a model folder: one decoder graph with a KV cache, checked by onnxruntime.

    python -c "from gpu_agent.models.onnx_export import export_onnx as e; print(e('v3', 'v3-onnx'))"

The graph (float32, exported on CPU by torch.onnx's dynamo exporter) serves
prefill and decode alike:

* inputs ``input_ids`` [batch, seq], ``attention_mask`` [batch, past_plus_seq],
  ``position_ids`` [batch, seq] (int64), and per layer ``past_key_values.{i}.key``
  / ``.value`` [batch, kv_heads, past, head_dim] (float32; past = 0 for a prefill);
* outputs ``logits`` [batch, seq, vocab] and ``present.{i}.key`` / ``.value``
  [batch, kv_heads, past + seq, head_dim], fed back as the next call's past.

The export is a thin module that takes those tensors, builds transformers'
``DynamicCache`` from the past inside the graph and returns the cache's tensors.
It is written into a sibling temporary folder, which becomes ``dst`` only after
onnxruntime reproduced transformers' greedy decoding of every prompt: the same
tokens, and logits within ``LOGIT_TOLERANCE``. The folder holds ``model.onnx``
(+ ``model.onnx.data`` above ``EXTERNAL_DATA_BYTES``), ``onnx_io.json``,
``verification.json``, ``README.md`` (onnxruntime and trtexec usage, generated
from the graph's real inputs), ``run_onnx.py`` (gpu_agent.models.onnx_runtime:
onnxruntime + numpy + tokenizers only), the config and the tokenizer files.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gpu_agent.models import onnx_runtime
from gpu_agent.models.folder import (
    CONFIG,
    LEGACY_QUANT_KEY,
    ModelFolderError,
    check_folder,
    read_config,
)

log = logging.getLogger(__name__)

GRAPH = onnx_runtime.GRAPH
GRAPH_DATA = GRAPH + ".data"
IO_FILE = onnx_runtime.IO_FILE
TOKENIZER = onnx_runtime.TOKENIZER
VERIFICATION = "verification.json"
README = "README.md"
RUNNER = "run_onnx.py"
SIDE_FILES = (
    CONFIG,
    "generation_config.json",
    TOKENIZER,
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
)
LOGIT_TOLERANCE = 1e-3  # max abs logit difference, float32
EXTERNAL_DATA_BYTES = 1_500_000_000  # larger float32 weights go to model.onnx.data
MIN_OPSET = 18  # the dynamo exporter's lowest
DEFAULT_PROMPTS = ("The model", "Once upon a time", "1, 2, 3,")
MAX_NEW_TOKENS = 256
# TensorRT profile in the README: batch 1..TRT_MAX_BATCH, seq and past up to
# min(max_position_embeddings, TRT_MAX_TOKENS).
TRT_MAX_BATCH = 8
TRT_MAX_TOKENS = 4096


class _Decoder(nn.Module):
    """The causal LM as a function of tensors: (ids, mask, positions, *past) ->
    (logits, *present), the cache built inside so that the graph sees only tensors."""

    def __init__(self, model, num_layers: int):
        super().__init__()
        self.model = model
        self.num_layers = num_layers

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        for i in range(self.num_layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
        )
        present = []
        for layer in out.past_key_values.layers:
            present += [layer.keys, layer.values]
        return (out.logits, *present)


def _cache_names(num_layers: int) -> tuple[list[str], list[str]]:
    past = [f"past_key_values.{i}.{kind}" for i in range(num_layers) for kind in ("key", "value")]
    return past, [name.replace("past_key_values.", "present.", 1) for name in past]


def _check_args(prompts, max_new_tokens, opset) -> list[str]:
    if prompts is None:
        prompts = list(DEFAULT_PROMPTS)
    if not isinstance(prompts, list | tuple) or not 1 <= len(prompts) <= 20:
        raise ValueError("prompts must be a list of 1..20 non-empty strings")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"each prompt must be a non-empty string, got {prompt!r}")
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or not 1 <= max_new_tokens <= MAX_NEW_TOKENS
    ):
        raise ValueError(f"max_new_tokens must be an integer 1..{MAX_NEW_TOKENS}")
    import onnx

    top = onnx.defs.onnx_opset_version()
    if opset is not None and (
        isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= top
    ):
        raise ValueError(f"opset must be None (the exporter's default) or {MIN_OPSET}..{top}")
    return list(prompts)


def _check_source(src: Path, dst: Path) -> dict:
    check_folder(src)  # symlinks, pickle files, config, safetensors headers
    config = read_config(src)
    for key in ("quantization_config", LEGACY_QUANT_KEY):
        if config.get(key) is not None:
            raise ModelFolderError(
                f"{src}: a quantized folder ({key} in {CONFIG}); the ONNX export is "
                "float32: export the full-precision parent version instead"
            )
    for key in ("num_hidden_layers", "vocab_size"):
        if isinstance(config.get(key), bool) or not isinstance(config.get(key), int):
            raise ModelFolderError(
                f"{src / CONFIG}: no integer {key}; the ONNX export takes decoder-only "
                "(LLaMA-style) models"
            )
    if not (src / TOKENIZER).is_file():
        raise ModelFolderError(
            f"{src}: no {TOKENIZER}; the exported folder is run with the tokenizers "
            "library alone, which needs a fast tokenizer's tokenizer.json"
        )
    if dst.exists() or dst.is_symlink():
        raise ModelFolderError(f"{dst} already exists; choose a new folder for the export")
    return config


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's warnings (dim renaming, missing torchvision, deprecations) say
    nothing about this model: debug level in the agent's log, not warnings."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            log.debug("exporter: %s: %s", warning.category.__name__, warning.message)
    finally:
        registration.setLevel(level)


def _check_attention(model, src: Path) -> None:
    """Only full-attention layers: a sliding-window cache would be cut inside the
    graph, which a few short verification prompts would not notice."""
    from transformers import DynamicCache, DynamicLayer

    layers = DynamicCache(config=model.config).layers
    if any(type(layer) is not DynamicLayer for layer in layers):
        raise ModelFolderError(
            f"{src}: sliding-window or other non-full attention layers; this export "
            "handles full-attention decoders (LLaMA-style) only"
        )


def _export_graph(model, tmp: Path, *, opset: int | None, external: bool) -> None:
    """Write tmp/model.onnx (+ model.onnx.data when external)."""
    from torch.export import Dim

    num_layers = model.config.num_hidden_layers
    batch, seq, past_len = 2, 3, 4  # > 1 everywhere: export specializes sizes 0 and 1
    ids = torch.randint(0, model.config.vocab_size, (batch, past_len + seq))
    with torch.no_grad():
        cache = model(input_ids=ids[:, :past_len], use_cache=True).past_key_values
    past = []
    for layer in cache.layers:
        past += [layer.keys.detach(), layer.values.detach()]
    if len(past) != 2 * num_layers:
        raise ModelFolderError(f"{len(past) // 2} cache layers, the config says {num_layers}")
    args = (
        ids[:, past_len:],
        torch.ones(batch, past_len + seq, dtype=torch.long),
        torch.arange(past_len, past_len + seq).expand(batch, seq),
        *past,
    )
    b, s = Dim("batch", min=1), Dim("seq", min=1)
    p, total = Dim("past", min=0), Dim("past_plus_seq", min=1)
    dynamic = (
        {0: b, 1: s},
        {0: b, 1: total},
        {0: b, 1: s},
        tuple({0: b, 2: p} for _ in past),
    )
    past_names, present_names = _cache_names(num_layers)
    with _quiet_exporter():
        torch.onnx.export(
            _Decoder(model, num_layers).eval(),
            args,
            str(tmp / GRAPH),
            input_names=["input_ids", "attention_mask", "position_ids", *past_names],
            output_names=["logits", *present_names],
            opset_version=opset,
            dynamo=True,
            dynamic_shapes=dynamic,
            external_data=external,
            verbose=False,
        )


def _tensor_io(values) -> list[dict]:
    import onnx

    out = []
    for value in values:
        tensor = value.type.tensor_type
        out.append(
            {
                "name": value.name,
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
                "dims": [
                    d.dim_param if d.HasField("dim_param") else d.dim_value
                    for d in tensor.shape.dim
                ],
            }
        )
    return out


def _token_ids(value) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else [v for v in value if isinstance(v, int)]


def _special_tokens(config: dict, generation: dict, tokenizer) -> dict:
    """Where decoding starts and stops, as transformers reads it: generation_config.json
    first, then config.json (the tokenizer's beginning-of-sequence as a last resort)."""
    eos = _token_ids(generation.get("eos_token_id", config.get("eos_token_id")))
    bos = generation.get("bos_token_id", config.get("bos_token_id"))
    return {
        "bos_token_id": bos if isinstance(bos, int) else tokenizer.bos_token_id,
        "eos_token_ids": eos,
    }


def _describe(tmp: Path, config: dict, special: dict) -> dict:
    """onnx_io.json: read back from the written graph, so it says what is there."""
    import onnx

    graph = onnx.load(str(tmp / GRAPH), load_external_data=False)
    opset = next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
    inputs, outputs = _tensor_io(graph.graph.input), _tensor_io(graph.graph.output)
    num_layers = int(config["num_hidden_layers"])
    past_names, present_names = _cache_names(num_layers)
    names = [item["name"] for item in inputs], [item["name"] for item in outputs]
    expected = (
        ["input_ids", "attention_mask", "position_ids", *past_names],
        ["logits", *present_names],
    )
    if names != expected:
        raise ModelFolderError(f"the graph's inputs/outputs are {names}, not {expected}")
    kv = next(item for item in inputs if item["name"] == past_names[0])["dims"]
    locations = {
        entry.value
        for tensor in graph.graph.initializer
        for entry in tensor.external_data
        if entry.key == "location"
    }
    if not locations <= {GRAPH_DATA}:
        raise ModelFolderError(f"the exporter wrote weights to {sorted(locations)}")
    return {
        "format": "forge-onnx-decoder/1",
        "opset": opset,
        "ir_version": graph.ir_version,
        "dtype": "float32",
        "external_data": GRAPH_DATA if locations else None,
        "model_type": config.get("model_type"),
        "num_layers": num_layers,
        "num_kv_heads": kv[1],
        "head_dim": kv[3],
        "vocab_size": int(config["vocab_size"]),
        "max_position_embeddings": config.get("max_position_embeddings"),
        **special,
        "inputs": inputs,
        "outputs": outputs,
        "past_names": past_names,
        "present_names": present_names,
        "dims": {
            "batch": "sequences in the batch",
            "seq": "new tokens in this call (the prompt's length for a prefill, 1 per decode step)",
            "past": "tokens already in the KV cache (0 for a prefill)",
            "past_plus_seq": "past + seq: the attention mask covers the cache and the new tokens",
        },
        "usage": [
            "prefill: input_ids = the prompt [batch, seq]; attention_mask = ones [batch, seq]; "
            "position_ids = 0..seq-1; every past_key_values.* = float32 zeros "
            "[batch, num_kv_heads, 0, head_dim]",
            "decode: input_ids = the chosen token [batch, 1]; attention_mask = ones "
            "[batch, past + 1]; position_ids = [[past]]; past_key_values.{i}.key/value = "
            "the previous call's present.{i}.key/value",
            "the next token is argmax(logits[:, -1]) for greedy decoding; stop at eos_token_ids",
            "left padding: 0 in attention_mask for pad positions, position_ids counting "
            "real tokens only (not part of the verification, which runs batch 1)",
        ],
    }


def _trt_points(io: dict) -> dict[str, dict[str, int]]:
    limit = io["max_position_embeddings"] or TRT_MAX_TOKENS
    tokens = min(int(limit), TRT_MAX_TOKENS)
    points = {
        "min": {"batch": 1, "seq": 1, "past": 0},
        "opt": {"batch": 1, "seq": 1, "past": tokens // 2},
        "max": {"batch": TRT_MAX_BATCH, "seq": tokens, "past": tokens},
    }
    for point in points.values():
        point["past_plus_seq"] = point["past"] + point["seq"]
    return points


def trtexec_command(io: dict) -> str:
    """trtexec building a TensorRT engine from model.onnx, with one optimization
    profile whose shapes name every graph input (from onnx_io.json)."""
    flags = []
    for which, point in _trt_points(io).items():
        shapes = []
        for item in io["inputs"]:
            dims = [str(point[d]) if isinstance(d, str) else str(d) for d in item["dims"]]
            shapes.append(f"{item['name']}:{'x'.join(dims)}")
        flags.append(f"--{which}Shapes={','.join(shapes)}")
    return " \\\n  ".join([f"trtexec --onnx={GRAPH}", *flags, "--fp16", "--saveEngine=model.plan"])


_SNIPPET = """\
import json

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

folder = "."
prompt = "Once upon a time"
max_new_tokens = 32

io = json.load(open(f"{folder}/onnx_io.json"))
session = ort.InferenceSession(f"{folder}/model.onnx", providers=["CPUExecutionProvider"])
tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
names = [o.name for o in session.get_outputs()]

ids = tokenizer.encode(prompt).ids
shape = (1, io["num_kv_heads"], 0, io["head_dim"])
past = {name: np.zeros(shape, np.float32) for name in io["past_names"]}
done, step_ids, new_tokens = 0, ids, []
while len(new_tokens) < max_new_tokens:
    n = len(step_ids)
    outputs = dict(zip(names, session.run(None, {
        "input_ids": np.array([step_ids], np.int64),
        "attention_mask": np.ones((1, done + n), np.int64),
        "position_ids": np.arange(done, done + n, dtype=np.int64)[None],
        **past,
    })))
    past = {p: outputs[q] for p, q in zip(io["past_names"], io["present_names"])}
    done += n
    token = int(outputs["logits"][0, -1].argmax())
    new_tokens.append(token)
    if token in io["eos_token_ids"]:
        break
    step_ids = [token]
print(tokenizer.decode(new_tokens, skip_special_tokens=True))
"""


def _readme(io: dict, src: Path, verification: dict) -> str:
    points = _trt_points(io)
    layers = io["num_layers"]
    prompts = len(verification["prompts"])
    return f"""# ONNX export

Exported by Forge from `{src.name}`: one float32 decoder graph with a KV cache,
used for the prefill and for every decode step (opset {io["opset"]},
{layers} layers, {io["num_kv_heads"]} KV heads of {io["head_dim"]}).
`onnx_io.json` lists its inputs and outputs with their dims:

- `input_ids`, `position_ids`: int64 [batch, seq]
- `attention_mask`: int64 [batch, past_plus_seq]
- `past_key_values.{{i}}.key` / `.value` for i in 0..{layers - 1}: float32
  [batch, {io["num_kv_heads"]}, past, {io["head_dim"]}]; past = 0 for the prefill
- outputs `logits` [batch, seq, {io["vocab_size"]}] and `present.{{i}}.key` /
  `.value`, the next call's `past_key_values.{{i}}.*`

`verification.json`: onnxruntime (CPUExecutionProvider) against transformers,
greedy decoding of {prompts} prompts, {verification["max_new_tokens"]} new tokens
each: identical tokens, largest logit difference
{verification["max_abs_diff"]:.2e} (tolerance {verification["tolerance"]:g}).

## Run it with onnxruntime

Needs `onnxruntime`, `numpy` and `tokenizers` only:

    python run_onnx.py . "Once upon a time" 32

or, the same loop written out (greedy, prompt in one call, then one token per
call feeding `present.*` back as `past_key_values.*`):

```python
{_SNIPPET}```

## TensorRT (not tested here)

Forge did not build or run a TensorRT engine from this file (TensorRT is not
available where it was exported). A starting point with `trtexec`, one
optimization profile: batch 1..{points["max"]["batch"]}, seq 1..{points["max"]["seq"]},
past 0..{points["max"]["past"]}, tuned for decoding (seq 1, past
{points["opt"]["past"]}); `attention_mask` is always past + seq long. The
graph is float32; `--fp16` lets TensorRT choose half-precision kernels.
Depending on the TensorRT version, flags may need changes (for example
int64 inputs or empty `past` tensors at the minimum shape).

```sh
{trtexec_command(io)}
```

## TensorRT-LLM

TensorRT-LLM does not start from this ONNX file: it builds its engines from
the Hugging Face checkpoint, i.e. the folder of the full-precision parent
version (`{src.name}`): convert it with the `convert_checkpoint.py` script of
TensorRT-LLM's LLaMA example (its path depends on the TensorRT-LLM version),
then `trtllm-build --checkpoint_dir <converted> --output_dir <engine>`. Forge
did not test this either.
"""


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def _reference(
    model, tokenizer, prompts: list[str], max_new_tokens: int, special: dict
) -> list[dict]:
    """transformers' side: greedy decoding of each prompt (float32), with the logits
    of the prompt and of every chosen token."""
    from transformers import GenerationConfig

    eos = special["eos_token_ids"]
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = eos[0] if eos else 0
    # generate() fills what a passed config leaves unset from the model's own
    # generation_config (a repetition_penalty, say): blank it, plain greedy is compared.
    model.generation_config = GenerationConfig()
    generation = GenerationConfig(
        do_sample=False,
        repetition_penalty=1.0,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos or None,
        pad_token_id=pad,
        output_logits=True,
        return_dict_in_generate=True,
    )
    references = []
    for prompt in prompts:
        ids = tokenizer(prompt).input_ids
        if not ids:  # as onnx_runtime.onnx_generate does
            ids = onnx_runtime.start_ids(special)
        input_ids = torch.tensor([ids])
        with torch.no_grad():
            prefill = model(input_ids=input_ids).logits[0].float().numpy()
            out = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=generation,
            )
        references.append(
            {
                "prompt": prompt,
                "ids": ids,
                "tokens": out.sequences[0, len(ids) :].tolist(),
                "prefill_logits": prefill,
                "step_logits": [step[0].float().numpy() for step in out.logits],
            }
        )
    return references


def _verify(folder: Path, references: list[dict], max_new_tokens: int) -> dict:
    """onnxruntime's side, with the runner shipped in the folder: the same greedy
    decoding of each prompt, compared with transformers' tokens and logits."""
    import onnxruntime
    import transformers

    decoder = onnx_runtime.OnnxDecoder(folder)
    raw = onnx_runtime.load_tokenizer(folder)
    results = []
    for ref in references:
        ours = decoder.greedy(ref["ids"], max_new_tokens)
        raw_ids = raw.encode(ref["prompt"]).ids or onnx_runtime.start_ids(decoder.io)
        decode_diff, compared = 0.0, 0
        for k in range(1, min(len(ref["tokens"]), len(ours["tokens"]))):
            if ref["tokens"][:k] != ours["tokens"][:k]:
                break  # different contexts from here on
            decode_diff = max(decode_diff, _max_abs(ours["step_logits"][k], ref["step_logits"][k]))
            compared += 1
        results.append(
            {
                "prompt": ref["prompt"],
                "prompt_ids": ref["ids"],
                "tokenizer_json_ids_match": raw_ids == ref["ids"],
                "onnx_tokens": ours["tokens"],
                "transformers_tokens": ref["tokens"],
                "identical": ours["tokens"] == ref["tokens"],
                "prefill_max_abs_diff": _max_abs(ours["prefill_logits"], ref["prefill_logits"]),
                "decode_max_abs_diff": decode_diff,
                "decode_steps_compared": compared,
            }
        )
    worst = max(max(r["prefill_max_abs_diff"], r["decode_max_abs_diff"]) for r in results)
    return {
        "passed": all(r["identical"] and r["tokenizer_json_ids_match"] for r in results)
        and worst <= LOGIT_TOLERANCE,
        "tolerance": LOGIT_TOLERANCE,
        "max_abs_diff": worst,
        "max_new_tokens": max_new_tokens,
        "provider": "CPUExecutionProvider",
        "versions": {
            "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "prompts": results,
    }


def _failure(report: dict) -> str:
    problems = []
    for r in report["prompts"]:
        if not r["tokenizer_json_ids_match"]:
            problems.append(f"{r['prompt']!r}: tokenizer.json alone tokenizes it differently")
        if not r["identical"]:
            problems.append(
                f"{r['prompt']!r}: onnxruntime {r['onnx_tokens']} vs transformers "
                f"{r['transformers_tokens']}"
            )
        diff = max(r["prefill_max_abs_diff"], r["decode_max_abs_diff"])
        if diff > report["tolerance"]:
            problems.append(
                f"{r['prompt']!r}: logits differ by {diff:.3g} (prefill "
                f"{r['prefill_max_abs_diff']:.3g}, decode {r['decode_max_abs_diff']:.3g})"
            )
    return (
        f"ONNX verification failed (tolerance {report['tolerance']:g}, tokens must be "
        "identical): " + "; ".join(problems)
    )


def export_onnx(
    src: Path,
    dst: Path,
    *,
    prompts: list[str] | None = None,
    max_new_tokens: int = 16,
    opset: int | None = None,
) -> dict:
    """Export src (a full-precision model folder) to a new ONNX folder dst.

    Returns {"opset", "files" (names in dst), "bytes" (all of them), "external_data",
    "verification" (verification.json), "seconds"}. Raises ModelFolderError, leaving
    no dst, when src cannot be exported or onnxruntime disagrees with transformers.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    prompts = _check_args(prompts, max_new_tokens, opset)
    src, dst = Path(src), Path(dst)
    config = _check_source(src, dst)
    generation_path = src / "generation_config.json"
    generation = json.loads(generation_path.read_text("utf-8")) if generation_path.is_file() else {}
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        model = AutoModelForCausalLM.from_pretrained(src, use_safetensors=True, dtype=torch.float32)
        model.eval()
        tokenizer = AutoTokenizer.from_pretrained(src)
        _check_attention(model, src)
        special = _special_tokens(config, generation, tokenizer)
        references = _reference(model, tokenizer, prompts, max_new_tokens, special)
        external = sum(p.numel() for p in model.parameters()) * 4 > EXTERNAL_DATA_BYTES
        torch.manual_seed(0)  # the example inputs of the trace
        try:
            _export_graph(model, tmp, opset=opset, external=external)
        except ModelFolderError:
            raise
        except Exception as exc:  # the exporter's own errors run to pages
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelFolderError(
                f"{src}: torch.onnx could not export this model ({type(exc).__name__}: "
                f"{first[:300]})"
            ) from exc
        del model  # onnxruntime loads its own copy of the weights
        gc.collect()
        for name in SIDE_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        shutil.copy2(onnx_runtime.__file__, tmp / RUNNER)
        io = _describe(tmp, config, special)
        (tmp / IO_FILE).write_text(json.dumps(io, indent=2) + "\n")
        report = _verify(tmp, references, max_new_tokens)
        if not report["passed"]:
            raise ModelFolderError(f"{src}: {_failure(report)}")
        (tmp / VERIFICATION).write_text(json.dumps(report, indent=2) + "\n")
        (tmp / README).write_text(_readme(io, src, report))
        files = sorted(path.name for path in tmp.iterdir())
        if external != (io["external_data"] is not None):
            raise ModelFolderError(
                f"external data asked for: {external}, written: {io['external_data']}"
            )
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info(
        "exported %s to %s (opset %s, %d files), onnxruntime matches transformers within %.2g",
        src,
        dst,
        io["opset"],
        len(files),
        report["max_abs_diff"],
    )
    return {
        "opset": io["opset"],
        "files": files,
        "bytes": sum((dst / name).stat().st_size for name in files),
        "external_data": io["external_data"],
        "verification": report,
        "seconds": round(time.monotonic() - started, 1),
    }
