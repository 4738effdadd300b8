"""Quantized model versions in the formats serving stacks load, and loading them back.

Methods (``METHODS``):

* ``bf16`` / ``fp16``: a cast of every weight, written by ``save_pretrained``.
* ``w8a16``: int8 weights, symmetric per output channel; 16-bit activations.
* ``w4a16``: int4 weights, symmetric per group of ``group_size`` inputs.
* ``fp8``: W8A8-FP8: float8 (e4m3) weights with per-channel scales, activations
  quantized per token at run time (Hopper and Ada GPUs run it natively).

The three quantized methods are written by llm-compressor (``oneshot``) in its
compressed-tensors format: ``config.json`` carries a standard ``quantization_config``
(``quant_method: compressed-tensors``) that transformers, vLLM and TGI read, with the
weights packed in ``<module>.weight_packed`` / ``weight_scale`` (``pack-quantized``) or
stored as float8 (``float-quantized``). The decoder's linear layers are quantized;
embeddings, norms and ``lm_head`` stay 16-bit.

Algorithms: ``rtn`` (round to nearest, no data, seconds) and ``gptq`` (GPTQ, layer by
layer on calibration sequences the caller gives as packed shards; minutes on a GPU,
slower on CPU). FP8 is round-to-nearest only (its dynamic activation scales need no
calibration). AWQ is not offered: llm-compressor's AWQ needs a GPU, and quantization
jobs run on the console's CPU workers.

Loading (``load_quantized``): on CPU through plain transformers, which decompresses
the weights (what a user gets outside Forge, so both measure the same model); on a GPU
through ``gpu_agent.models.kernels``, which keeps 4 or 8 bits per weight.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gpu_agent.models.folder import (
    CONFIG,
    LEGACY_MESSAGE,
    QUANT_CONFIG,
    WEIGHTS_INDEX,
    ModelFolderError,
    check_folder,
    is_legacy_quantized,
    quantization_of,
    read_config,
    weight_files,
    weights_bytes,
)

log = logging.getLogger(__name__)

METHODS = {"bf16": 16, "fp16": 16, "w8a16": 8, "w4a16": 4, "fp8": 8}
ALGORITHMS = ("rtn", "gptq")
GROUP_SIZES = (32, 64, 128, 256)
CALIBRATED = frozenset({"w8a16", "w4a16"})  # the methods GPTQ can calibrate
MIN_CALIBRATION_SEQUENCES = 8
MAX_CALIBRATION_SEQUENCES = 4096
# What the deployment bundle passes to vLLM for a folder of each method.
VLLM_QUANTIZATION = {
    "w8a16": "compressed-tensors",
    "w4a16": "compressed-tensors",
    "fp8": "compressed-tensors",
}
# Compute capability FP8 matrix products need (Ada 8.9, Hopper 9.0).
FP8_MIN_CAPABILITY = (8, 9)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', not {device!r}")
    return device


def llmcompressor_missing() -> str:
    """Why quantized formats cannot be written here ("" when they can). Looks for the
    package without importing it: the import takes 13 s on a 2-core machine (datasets,
    pandas, pyarrow), and the web process asks on every model page."""
    from importlib.util import find_spec

    for package in ("llmcompressor", "compressed_tensors", "datasets"):
        if find_spec(package) is None:
            return f"{package} is not installed (pip install llmcompressor)"
    return ""


def fp8_capable(capability: tuple[int, int] | None) -> bool:
    return capability is not None and tuple(capability) >= FP8_MIN_CAPABILITY


def supported_methods(device: str = "auto") -> dict[str, str]:
    """method -> "" when this machine can write the folder and run it, else why not.

    On CPU every method runs (quantized ones decompressed by transformers: correct,
    not faster); on a GPU fp8 needs compute capability 8.9 or later."""
    try:
        device = resolve_device(device)
    except ValueError as exc:
        return {method: str(exc) for method in METHODS}
    found = dict.fromkeys(METHODS, "")
    missing = llmcompressor_missing()
    for method in ("w8a16", "w4a16", "fp8"):
        found[method] = missing
    if device.startswith("cuda") and not found["fp8"]:
        capability = torch.cuda.get_device_capability(torch.device(device))
        if not fp8_capable(capability):
            found["fp8"] = (
                f"FP8 needs a Hopper or Ada GPU (compute capability 8.9+); this one is "
                f"{capability[0]}.{capability[1]}"
            )
    return found


def runtime_notes(device: str = "auto") -> dict[str, str]:
    """How each method runs on this machine (kernels, expected speed)."""
    device = resolve_device(device)
    if device == "cpu":
        note = "decompressed to float32 by transformers (correct, not faster)"
        return {
            "bf16": "runs; CPU bfloat16 matmuls are fast only with AVX512-BF16/AMX",
            "fp16": "runs; CPU float16 matmuls are slow (no native kernels on most CPUs)",
            "w8a16": note,
            "w4a16": note,
            "fp8": note,
        }
    return {
        "bf16": "native",
        "fp16": "native",
        "w8a16": "dequantized to bf16 when loaded (no fused int8 kernel on GPU yet)",
        "w4a16": "tinygemm int4 (torch _weight_int4pack_mm)",
        "fp8": "torch._scaled_mm, row-wise scales",
    }


# --------------------------------------------------------------------- the format


def describe(config: dict) -> dict[str, Any] | None:
    """What a folder's ``quantization_config`` holds, in Forge's terms:
    {"method", "bits", "group_size", "format", "quant_method"}; None when unquantized.
    ``method`` is "w8a16", "w4a16", "fp8" or "other" (a scheme Forge did not write)."""
    if is_legacy_quantized(config):
        raise ModelFolderError(LEGACY_MESSAGE)
    quant = config.get(QUANT_CONFIG)
    if quant is None:
        return None
    if quant.get("quant_method") != "compressed-tensors":
        return {
            "method": "other",
            "bits": None,
            "group_size": None,
            "format": None,
            "quant_method": quant.get("quant_method"),
        }
    groups = quant.get("config_groups") or {}
    group = next(iter(groups.values()), {}) if isinstance(groups, dict) else {}
    weights = group.get("weights") or {}
    inputs = group.get("input_activations") or {}
    bits, kind = weights.get("num_bits"), weights.get("type")
    method = "other"
    if kind == "float" and bits == 8 and inputs.get("type") == "float":
        method = "fp8"
    elif kind == "int" and not inputs and bits in (4, 8) and weights.get("symmetric", True):
        method = "w4a16" if bits == 4 else "w8a16"
    return {
        "method": method,
        "bits": bits,
        "group_size": weights.get("group_size") if weights.get("strategy") == "group" else None,
        "format": group.get("format") or quant.get("format"),
        "quant_method": "compressed-tensors",
    }


def _scheme(method: str, group_size: int):
    """llm-compressor's recipe scheme: a preset name, or config groups."""
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    if method == "fp8":
        return "FP8_DYNAMIC"
    if method == "w8a16":  # per output channel (the W8A16 preset groups by 128)
        weights = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="channel")
    else:
        weights = QuantizationArgs(
            num_bits=4, type="int", symmetric=True, strategy="group", group_size=group_size
        )
    return {"group_0": QuantizationScheme(targets=["Linear"], weights=weights)}


def _unquantizable(model, method: str, group_size: int) -> list[str]:
    """Linear layers a group scheme cannot cover: input width not a multiple of the
    group (the tiny preset's 172-wide down_proj, say). They stay 16-bit; vLLM's
    kernels need whole groups too."""
    if method != "w4a16":
        return []
    return sorted(
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and name != "lm_head"
        and module.in_features % group_size != 0
    )


def _validate(method: str, group_size: int, algorithm: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown quantization method {method!r}; known: {', '.join(METHODS)}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    if algorithm == "gptq" and method not in CALIBRATED:
        raise ValueError(
            f"{method} takes no calibration: GPTQ applies to {', '.join(sorted(CALIBRATED))}"
        )
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, int)
        or group_size not in GROUP_SIZES
    ):
        raise ValueError(
            f"group_size must be one of {', '.join(map(str, GROUP_SIZES))}, got {group_size!r}"
        )


def calibration_sequences(
    corpus_dir: Path, *, vocab_size: int, sequences: int, seq_len: int
) -> tuple[list[list[int]], dict[str, Any]]:
    """The first ``sequences`` rows of the train split (cut to ``seq_len`` tokens, pads
    dropped), and what was used. Refuses a set too small or of another tokenizer."""
    from gpu_agent.data import PackedShards

    for name, value, hi in (
        ("calibration sequences", sequences, MAX_CALIBRATION_SEQUENCES),
        ("calibration sequence length", seq_len, 8192),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise ValueError(f"{name} must be an integer 1..{hi}, got {value!r}")
    shards = PackedShards(Path(corpus_dir), "train")
    available = len(shards)
    if available < MIN_CALIBRATION_SEQUENCES:
        raise ValueError(
            f"the calibration set has {available} sequences; GPTQ needs at least "
            f"{MIN_CALIBRATION_SEQUENCES} (pick a larger dataset version)"
        )
    corpus_vocab = int(shards.index["vocab_size"])
    if corpus_vocab > vocab_size:
        raise ValueError(
            f"the calibration set was tokenized with a {corpus_vocab:,}-token vocabulary; "
            f"the model has {vocab_size:,}: another tokenizer"
        )
    pad = shards.pad_id if shards.pad_id != shards.eos_id else None
    rows: list[list[int]] = []
    tokens = 0
    for i in range(min(sequences, available)):
        item = shards[i]
        ids = np.asarray(item["input_ids"])[np.asarray(item["attention_mask"]) > 0]
        if pad is not None:
            ids = ids[ids != pad]
        ids = ids[:seq_len]
        if ids.size == 0:
            continue
        if int(ids.max()) >= vocab_size:
            raise ValueError(
                f"calibration token id {int(ids.max())} is outside the model's "
                f"{vocab_size:,}-token vocabulary: another tokenizer"
            )
        rows.append(ids.astype(np.int64).tolist())
        tokens += int(ids.size)
    if len(rows) < MIN_CALIBRATION_SEQUENCES:
        raise ValueError(
            f"only {len(rows)} non-empty calibration sequences; GPTQ needs at least "
            f"{MIN_CALIBRATION_SEQUENCES}"
        )
    return rows, {
        "sequences": len(rows),
        "tokens": tokens,
        "seq_len": seq_len,
        "available": available,
        "split": "train",
    }


def _copy_side_files(src: Path, dst: Path, skip: set[str]) -> None:
    """Tokenizer and other small files (not weights, not written already)."""
    for path in sorted(src.iterdir()):
        if path.is_file() and path.name not in skip and not path.name.endswith(".safetensors"):
            shutil.copy2(path, dst / path.name)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("llmcompressor", "compressed-tensors", "transformers", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def quantize(
    src: Path,
    dst: Path,
    *,
    method: str,
    group_size: int = 128,
    algorithm: str = "rtn",
    calibration_dir: Path | None = None,
    calibration_samples: int = 128,
    calibration_seq_len: int = 512,
    device: str = "auto",
) -> dict[str, Any]:
    """Write a new folder ``dst`` holding ``src`` quantized with ``method``.

    Returns {"method", "algorithm", "bits", "group_size" (w4a16 only), "format",
    "bytes" (weights on disk), "calibration" (gptq: what was used), "kept_16_bit"
    (linear layers a w4a16 group cannot cover: input width not a multiple), "libraries",
    "vllm": {"quantization", "dtype"}}. dst is built in a sibling temporary folder
    and renamed into place: it appears whole or not at all.
    """
    src, dst = Path(src), Path(dst)
    _validate(method, group_size, algorithm)
    reason = supported_methods(device).get(method)
    if reason:
        raise ValueError(f"{method} cannot be produced here: {reason}")
    if algorithm == "gptq" and calibration_dir is None:
        raise ValueError("GPTQ needs a calibration set (a tokenized dataset version)")
    device = resolve_device(device)
    check_folder(src)
    config = read_config(src)
    if quantization_of(config) is not None:
        raise ModelFolderError(f"{src}: already quantized; quantize its full-precision parent")
    if dst.exists():
        raise FileExistsError(f"{dst} already exists")
    calibration = None
    kept: list[str] = []
    rows: list[list[int]] = []
    if algorithm == "gptq":
        assert calibration_dir is not None
        rows, calibration = calibration_sequences(
            calibration_dir,
            vocab_size=int(config["vocab_size"]),
            sequences=calibration_samples,
            seq_len=calibration_seq_len,
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        from transformers import AutoModelForCausalLM

        if method in ("fp16", "bf16"):
            dtype = torch.float16 if method == "fp16" else torch.bfloat16
            model = AutoModelForCausalLM.from_pretrained(src, use_safetensors=True, dtype=dtype)
            model.save_pretrained(tmp, safe_serialization=True)
        else:
            model = AutoModelForCausalLM.from_pretrained(
                src, use_safetensors=True, dtype=torch.bfloat16
            )
            if device.startswith("cuda"):
                model.to(device)
            kept = _unquantizable(model, method, group_size)
            if len(kept) == sum(isinstance(m, nn.Linear) for m in model.modules()) - 1:
                raise ModelFolderError(
                    f"no linear layer is {group_size} inputs wide or a multiple of it: "
                    "pick a smaller group size"
                )
            _oneshot(model, src, method, group_size, algorithm, rows, kept)
            model.save_pretrained(tmp, save_compressed=True)
            (tmp / "recipe.yaml").unlink(missing_ok=True)  # llm-compressor's, not needed
            _older_readers_compatible(tmp / CONFIG)
        del model
        written = {p.name for p in tmp.iterdir()}
        _copy_side_files(src, tmp, written | {WEIGHTS_INDEX})
        check_folder(tmp)
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = describe(read_config(dst))
    return {
        "method": method,
        "algorithm": algorithm,
        "bits": METHODS[method],
        "group_size": group_size if method == "w4a16" else None,
        "format": info["format"] if info else None,
        "bytes": weights_bytes(dst),
        "calibration": calibration,
        "kept_16_bit": kept,
        "libraries": _versions(),
        "vllm": {
            "quantization": VLLM_QUANTIZATION.get(method),
            "dtype": "bfloat16",
            "versions": VLLM_VERSIONS,
        }
        if method in VLLM_QUANTIZATION
        else {"quantization": None, "dtype": "bfloat16" if method == "bf16" else "float16"},
    }


def _oneshot(
    model,
    src: Path,
    method: str,
    group_size: int,
    algorithm: str,
    rows: list[list[int]],
    kept: list[str],
) -> None:
    """llm-compressor's oneshot over the loaded model, in place."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier

    scheme = _scheme(method, group_size)
    ignore = ["lm_head", *kept]
    common: dict[str, Any] = {"targets": "Linear", "ignore": ignore}
    if isinstance(scheme, dict):
        common = {"config_groups": scheme, "ignore": ignore}
    else:
        common["scheme"] = scheme
    if algorithm == "rtn":
        oneshot(model=model, recipe=QuantizationModifier(**common), processor=_processor(src))
        return
    from datasets import Dataset

    data = Dataset.from_dict({"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]})
    oneshot(
        model=model,
        recipe=GPTQModifier(**common),
        dataset=data,
        processor=_processor(src),
        max_seq_length=max(len(r) for r in rows),
        num_calibration_samples=len(rows),
    )


# Fields compressed-tensors 0.13 added to its quantization arguments; older releases
# (pinned by vLLM 0.10-0.12) refuse unknown fields. Null means the default in every
# release, so a null one is dropped and the config parses from 0.10.2 to 0.19.
_NEWER_NULL_FIELDS = ("scale_dtype", "zp_dtype")
# The vLLM releases whose pinned compressed-tensors parses what Forge writes (checked
# 2026-12-07 with compressed-tensors 0.10.2, 0.11.0, 0.12.2, 0.13.0, 0.15.0.1, 0.17.0
# and 0.19.0 on the configs of every method; vLLM 0.34 is the newest release then).
VLLM_VERSIONS = ">=0.10,<=0.34"


def _older_readers_compatible(config_path: Path) -> None:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v) for k, v in value.items() if not (k in _NEWER_NULL_FIELDS and v is None)
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    config = json.loads(config_path.read_text("utf-8"))
    config[QUANT_CONFIG] = strip(config[QUANT_CONFIG])
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _processor(src: Path):
    """The folder's tokenizer when it has one (llm-compressor asks for a processor)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(src)
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------- loading


def _params_on_meta():
    """Build modules with parameters on the meta device and buffers (RoPE) real."""
    import contextlib

    @contextlib.contextmanager
    def manager():
        original = nn.Module.register_parameter

        def register(module, name, param):
            original(module, name, param)
            if param is not None:
                kwargs = module._parameters[name].__dict__
                module._parameters[name] = nn.Parameter(
                    module._parameters[name].to("meta"), requires_grad=param.requires_grad
                )
                module._parameters[name].__dict__.update(kwargs)

        nn.Module.register_parameter = register
        try:
            yield
        finally:
            nn.Module.register_parameter = original

    return manager()


def _iter_tensors(folder: Path):
    from safetensors import safe_open

    for path in weight_files(folder):
        with safe_open(str(path), framework="pt") as fh:
            for name in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                yield name, fh.get_tensor(name)


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def load_quantized(folder: Path, *, device: str, dtype: torch.dtype | None) -> nn.Module:
    """A model from a compressed-tensors folder (see the module docstring)."""
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    info = describe(read_config(folder))
    if info is None:
        raise ModelFolderError(f"{folder}: not quantized")
    if device == "cpu" or info["method"] == "other":
        if device != "cpu":
            log.warning("%s: a scheme Forge has no kernel for; transformers loads it", folder)
        if device == "cpu" and dtype not in (None, torch.float32):
            raise ValueError("on CPU a quantized folder runs in float32 (dtype float32 or None)")
        model = AutoModelForCausalLM.from_pretrained(
            folder, use_safetensors=True, dtype=torch.float32 if device == "cpu" else dtype
        )
        model.to(device).eval()
        model.forge_runtime = runtime_notes("cpu")[info["method"]] if device == "cpu" else "hf"
        return model
    return _load_with_kernels(folder, info, device=device, dtype=dtype or torch.bfloat16)


def _load_with_kernels(folder: Path, info: dict, *, device: str, dtype: torch.dtype) -> nn.Module:
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    from transformers import AutoConfig, AutoModelForCausalLM

    from gpu_agent.models import kernels

    config = AutoConfig.from_pretrained(folder)
    if hasattr(config, QUANT_CONFIG):
        delattr(config, QUANT_CONFIG)  # built as a plain model; its layers swapped below
    with _params_on_meta():
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    state = dict(_iter_tensors(folder))
    suffixes = (".weight_packed", ".weight_scale", ".weight_shape", ".weight_zero_point")
    modules = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".weight_scale")})
    parts = {
        name: {
            key.rsplit(".", 1)[1]: state.pop(key)
            for key in [f"{name}{s}" for s in (*suffixes, ".weight", ".bias")]
            if key in state
        }
        for name in modules
    }
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected:
        raise ModelFolderError(f"{folder}: unexpected tensors {unexpected[:5]}")
    tied = getattr(config, "tie_word_embeddings", False)
    ours = {f"{name}.weight" for name in modules} | {f"{name}.bias" for name in modules}
    missing = [k for k in missing if k not in ours and not (tied and k == "lm_head.weight")]
    if missing:
        raise ModelFolderError(f"{folder}: tensors missing from the weights: {missing[:5]}")
    for name in modules:
        tensors = parts[name]
        bias = tensors.get("bias")
        bias = None if bias is None else bias.to(device)
        scale = tensors["weight_scale"].to(device)
        new: nn.Module
        if info["method"] == "fp8":
            new = kernels.Fp8Linear(tensors["weight"].to(device), scale, bias, dtype=dtype)
        else:
            shape = torch.Size(int(v) for v in tensors["weight_shape"].tolist())
            q = unpack_from_int32(tensors["weight_packed"], info["bits"], shape).to(device)
            group = info["group_size"]
            if info["method"] == "w4a16" and group and kernels.int4_supported(shape[1], group):
                new = kernels.Int4Linear(q, scale, group, bias, dtype=dtype)
            else:  # w8a16 (no fast kernel yet: kernels.Int8Linear), or an int4 shape
                # tinygemm cannot take: dequantized to 16 bits here
                groups = scale.shape[1] if scale.ndim == 2 else 1
                w = q.float().view(shape[0], groups, -1) * scale.float().view(shape[0], groups, 1)
                w = w.view(shape)
                new = nn.Linear(shape[1], shape[0], bias=bias is not None, device="meta")
                new.weight = nn.Parameter(w.to(dtype), requires_grad=False)
                if bias is not None:
                    new.bias = nn.Parameter(bias.to(dtype), requires_grad=False)
        _set_module(model, name, new)
    if tied:
        model.tie_weights()
    leftover = [n for n, p in model.named_parameters() if p.is_meta]
    if leftover:
        raise ModelFolderError(f"{folder}: parameters left unloaded: {leftover[:5]}")
    model.to(device).eval()
    model.forge_runtime = runtime_notes(device)[info["method"]]
    return model
