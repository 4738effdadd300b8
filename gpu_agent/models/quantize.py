"""Weight-only quantization into a new safetensors folder, and loading it back.

Methods:

* ``fp16`` / ``bf16``: a cast of every weight, written by ``save_pretrained``.
* ``int8``: the linear layers of the decoder blocks, symmetric per output
  channel: ``w ≈ q * scale[out]`` with ``q`` in -127..127. Stored as
  ``<module>.qweight`` (int8 [out, in]) and ``<module>.scales`` (float32 [out]).
* ``int4``: the same layers, asymmetric per group of ``group_size`` inputs:
  ``w ≈ (q - zero) * scale`` with ``q`` in 0..15, two values per byte (low
  nibble = even input column). ``<module>.qweight`` (uint8 [out, in_pad / 2]),
  ``<module>.scales`` (float32 [out, groups]), ``<module>.zeros`` (uint8 [out,
  groups]); the input dimension is zero-padded to a whole number of groups.

Embeddings, norms and ``lm_head`` stay 16-bit (bfloat16) in int8/int4 folders.
``config.json`` gets ``"forge_quantization": {"method", "bits", "group_size",
"modules"}``.

Running a quantized folder:

* CPU, int8: torch's dynamic quantized Linear (``torch.ao.nn.quantized.dynamic``)
  with per-channel qint8 weights built from the stored int8 values and scales (no
  re-quantization of weights). Real int8 GEMM kernels (fbgemm/x86), but note that
  dynamic quantization also quantizes the activations per batch to uint8, which
  adds a little error of its own. The rest of the model runs in float32.
* CPU, int4: ``Int4Linear`` unpacks and dequantizes its weight on every forward
  pass. It saves disk and RAM, not time: it is slower than float32.
* CUDA: the weights are dequantized to bfloat16, then, when ``torchao`` is
  importable, re-quantized by torchao's weight-only int8 / int4 (same group size)
  kernels. That re-quantization starts from our grid, so it lands on (nearly) the
  same values, but torchao chooses its own scales/zeros. Without torchao the model
  runs in bfloat16: the memory and speed gains are not available (a warning says so).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from gpu_agent.models.folder import (
    CONFIG,
    QUANT_KEY,
    WEIGHTS,
    WEIGHTS_INDEX,
    ModelFolderError,
    check_folder,
    quantization_of,
    read_config,
    weight_files,
    weights_bytes,
)

log = logging.getLogger(__name__)

METHODS = {"bf16": 16, "fp16": 16, "int8": 8, "int4": 4}
GROUP_SIZES = (32, 64, 128, 256)  # what torchao's int4 kernels accept
# Weights under a decoder block that are 2-D are the block's linear layers (Llama:
# q/k/v/o_proj, gate/up/down_proj).
_BLOCK_LINEAR = re.compile(r"^model\.layers\.\d+\..+\.weight$")
_SHARD_BYTES = 4 << 30


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', not {device!r}")
    return device


def torchao_available() -> bool:
    try:
        import torchao.quantization  # noqa: F401
    except ImportError:
        return False
    return True


def supported_methods(device: str = "auto") -> dict[str, str]:
    """method -> "" when this machine can write the folder and run it, else why not.

    Every method runs on CPU, with these limits (see ``runtime_notes``): fp16 and
    bf16 run without fast kernels on most CPUs, int8 uses real int8 kernels, int4
    is dequantized on the fly (smaller, not faster).
    """
    try:
        device = resolve_device(device)
    except ValueError as exc:
        return {method: str(exc) for method in METHODS}
    return {method: "" for method in METHODS}


def runtime_notes(device: str = "auto") -> dict[str, str]:
    """How each method runs on this machine (kernels, expected speed)."""
    device = resolve_device(device)
    if device == "cpu":
        return {
            "bf16": "runs; CPU bfloat16 matmuls are fast only with AVX512-BF16/AMX",
            "fp16": "runs; CPU float16 matmuls are slow (no native kernels on most CPUs)",
            "int8": "torch dynamic quantized Linear (int8 kernels; activations quantized too)",
            "int4": "dequantized on every forward pass: less memory, slower than float32",
        }
    ao = torchao_available()
    fallback = "torchao not installed: dequantized to bfloat16, no speed-up"
    return {
        "bf16": "native",
        "fp16": "native",
        "int8": "torchao Int8WeightOnlyConfig" if ao else fallback,
        "int4": "torchao Int4WeightOnlyConfig" if ao else fallback,
    }


# --------------------------------------------------------------------- maths


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: (q int8 [out, in], scales float32 [out])."""
    w = w.float()
    amax = w.abs().amax(dim=1)
    scales = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    q = torch.round(w / scales[:, None]).clamp_(-127, 127).to(torch.int8)
    return q, scales


def dequantize_int8(q: torch.Tensor, scales: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    return (q.float() * scales.float()[:, None]).to(dtype)


def quantize_int4(
    w: torch.Tensor, group_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric per-group uint4, packed: (qweight uint8 [out, in_pad/2],
    scales float32 [out, groups], zeros uint8 [out, groups])."""
    w = w.float()
    out, inp = w.shape
    groups = -(-inp // group_size)
    padded = F.pad(w, (0, groups * group_size - inp)).view(out, groups, group_size)
    lo = padded.amin(dim=2)
    hi = padded.amax(dim=2)
    scales = (hi - lo) / 15.0
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    zeros = torch.round(-lo / scales).clamp_(0, 15)
    q = torch.round(padded / scales[..., None] + zeros[..., None]).clamp_(0, 15).to(torch.uint8)
    q = q.view(out, groups * group_size)
    packed = q[:, 0::2] | (q[:, 1::2] << 4)
    return packed.contiguous(), scales, zeros.to(torch.uint8)


def dequantize_int4(
    packed: torch.Tensor,
    scales: torch.Tensor,
    zeros: torch.Tensor,
    in_features: int,
    dtype=torch.float32,
) -> torch.Tensor:
    out, half = packed.shape
    groups = scales.shape[1]
    q = torch.empty(out, half * 2, dtype=torch.uint8, device=packed.device)
    q[:, 0::2] = packed & 0x0F
    q[:, 1::2] = packed >> 4
    q = q.view(out, groups, -1).float()
    w = (q - zeros.float()[..., None]) * scales.float()[..., None]
    return w.view(out, -1)[:, :in_features].to(dtype)


class Int4Linear(nn.Module):
    """A linear layer holding packed int4 weights; dequantizes on every call."""

    def __init__(self, in_features: int, out_features: int, qweight, scales, zeros, bias=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.register_buffer("qweight", qweight)
        self.register_buffer("scales", scales)
        self.register_buffer("zeros", zeros)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = dequantize_int4(self.qweight, self.scales, self.zeros, self.in_features, x.dtype)
        return F.linear(x, w, None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bits=4"


def dynamic_int8_linear(q: torch.Tensor, scales: torch.Tensor, bias=None) -> nn.Module:
    """torch's dynamic quantized Linear with our int8 values and scales as its weight."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    out, inp = q.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensor creation is "deprecated" in torch
        module = DynamicLinear(inp, out, bias_=bias is not None, dtype=torch.qint8)
        weight = torch._make_per_channel_quantized_tensor(
            q.cpu().to(torch.int8),
            scales.cpu().double(),
            torch.zeros(out, dtype=torch.long),
            0,
        )
    module.set_weight_bias(weight, None if bias is None else bias.float().cpu())
    return module


# --------------------------------------------------------------------- writing


def _validate(method: str, group_size: int) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown quantization method {method!r}; known: {', '.join(METHODS)}")
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, int)
        or group_size not in GROUP_SIZES
    ):
        raise ValueError(
            f"group_size must be one of {', '.join(map(str, GROUP_SIZES))}, got {group_size!r}"
        )


def _copy_side_files(src: Path, dst: Path, skip: set[str]) -> None:
    """Tokenizer and other small files (not weights, not written already)."""
    for path in sorted(src.iterdir()):
        if path.is_file() and path.name not in skip and not path.name.endswith(".safetensors"):
            shutil.copy2(path, dst / path.name)


def _save_tensors(tensors: dict[str, torch.Tensor], dst: Path) -> None:
    from safetensors.torch import save_file

    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > _SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][name] = tensor.contiguous().cpu()
        size += nbytes
    if len(shards) == 1:
        save_file(shards[0], dst / WEIGHTS, metadata={"format": "pt"})
        return
    weight_map = {}
    for n, shard in enumerate(shards, 1):
        fname = f"model-{n:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, dst / fname, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, fname))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (dst / WEIGHTS_INDEX).write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    )


def _iter_tensors(folder: Path):
    from safetensors import safe_open

    for path in weight_files(folder):
        with safe_open(str(path), framework="pt") as fh:
            for name in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                yield name, fh.get_tensor(name)


def quantize(
    src: Path, dst: Path, *, method: str, group_size: int = 128, device: str = "auto"
) -> dict:
    """Write a new folder ``dst`` holding ``src`` quantized with ``method``.

    Returns {"method", "bits", "group_size" (int4 only, else None), "bytes" (weights
    on disk)}. dst is built in a sibling temporary folder and renamed into place.
    """
    src, dst = Path(src), Path(dst)
    _validate(method, group_size)
    reason = supported_methods(device).get(method)
    if reason:
        raise ValueError(f"{method} cannot be produced here: {reason}")
    device = resolve_device(device)
    check_folder(src)
    config = read_config(src)
    if quantization_of(config) is not None:
        raise ModelFolderError(f"{src}: already quantized ({config[QUANT_KEY]['method']})")
    if dst.exists():
        raise FileExistsError(f"{dst} already exists")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        if method in ("fp16", "bf16"):
            from transformers import AutoModelForCausalLM

            dtype = torch.float16 if method == "fp16" else torch.bfloat16
            model = AutoModelForCausalLM.from_pretrained(src, use_safetensors=True, dtype=dtype)
            model.save_pretrained(tmp, safe_serialization=True)
            del model
            written = {p.name for p in tmp.iterdir()}
            _copy_side_files(src, tmp, written | {WEIGHTS_INDEX})
        else:
            tensors: dict[str, torch.Tensor] = {}
            modules = []
            for name, tensor in _iter_tensors(src):
                if _BLOCK_LINEAR.match(name) and tensor.ndim == 2:
                    module = name.removesuffix(".weight")
                    modules.append(module)
                    w = tensor.to(device)
                    if method == "int8":
                        q, scales = quantize_int8(w)
                        tensors[f"{module}.qweight"] = q.cpu()
                        tensors[f"{module}.scales"] = scales.cpu()
                    else:
                        packed, scales, zeros = quantize_int4(w, group_size)
                        tensors[f"{module}.qweight"] = packed.cpu()
                        tensors[f"{module}.scales"] = scales.cpu()
                        tensors[f"{module}.zeros"] = zeros.cpu()
                else:
                    tensors[name] = (
                        tensor.to(torch.bfloat16) if tensor.is_floating_point() else tensor
                    )
            if not modules:
                raise ModelFolderError(f"{src}: no decoder-block linear layers found to quantize")
            _save_tensors(tensors, tmp)
            del tensors
            config["dtype"] = "bfloat16"
            config.pop("torch_dtype", None)
            config[QUANT_KEY] = {
                "method": method,
                "bits": METHODS[method],
                "group_size": group_size if method == "int4" else None,
                "scheme": "symmetric per output channel"
                if method == "int8"
                else "asymmetric per group along the input dimension",
                "unquantized": "embeddings, norms and lm_head in bfloat16",
                "modules": sorted(modules),
            }
            (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
            _copy_side_files(src, tmp, {CONFIG, WEIGHTS_INDEX})
        check_folder(tmp)
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "method": method,
        "bits": METHODS[method],
        "group_size": group_size if method == "int4" else None,
        "bytes": weights_bytes(dst),
    }


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


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def load_quantized(folder: Path, *, device: str, dtype: torch.dtype | None) -> nn.Module:
    """A model from an int8/int4 folder (see the module docstring for the kernels)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = Path(folder)
    quant = read_config(folder)[QUANT_KEY]
    method, modules = quant["method"], quant["modules"]
    on_cpu = device == "cpu"
    if on_cpu:
        if dtype not in (None, torch.float32):
            raise ValueError("on CPU a quantized folder runs in float32 (dtype float32 or None)")
        dtype = torch.float32
    else:
        dtype = dtype or torch.bfloat16
    config = AutoConfig.from_pretrained(folder)
    with _params_on_meta():
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    state = dict(_iter_tensors(folder))
    quantized = {}
    for name in modules:
        quantized[name] = {
            key: state.pop(f"{name}.{key}")
            for key in ("qweight", "scales", "zeros", "bias")
            if f"{name}.{key}" in state
        }
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected:
        raise ModelFolderError(f"{folder}: unexpected tensors {unexpected[:5]}")
    tied = getattr(config, "tie_word_embeddings", False)
    ours = {f"{name}.weight" for name in modules}
    missing = [k for k in missing if k not in ours and not (tied and k == "lm_head.weight")]
    if missing:
        raise ModelFolderError(f"{folder}: tensors missing from the weights: {missing[:5]}")
    use_ao = not on_cpu and torchao_available()
    for name in modules:
        parts = quantized[name]
        linear = model.get_submodule(name)
        bias = parts.get("bias")
        q, scales = parts["qweight"], parts["scales"]
        if method == "int8" and on_cpu:
            new = dynamic_int8_linear(q, scales, bias)
        elif method == "int4" and on_cpu:
            new = Int4Linear(
                linear.in_features,
                linear.out_features,
                q,
                scales,
                parts["zeros"],
                None if bias is None else bias.float(),
            )
        else:  # CUDA: dequantize to dtype; torchao re-quantizes below when present
            if method == "int8":
                w = dequantize_int8(q.to(device), scales.to(device), dtype)
            else:
                zeros = parts["zeros"].to(device)
                w = dequantize_int4(
                    q.to(device), scales.to(device), zeros, linear.in_features, dtype
                )
            new = nn.Linear(
                linear.in_features, linear.out_features, bias=bias is not None, device="meta"
            )
            new.weight = nn.Parameter(w, requires_grad=False)
            if bias is not None:
                new.bias = nn.Parameter(bias.to(device, dtype), requires_grad=False)
            if use_ao:  # layer by layer, so the bf16 copies never coexist
                _torchao_quantize(new, method, int(quant.get("group_size") or 128))
        _set_module(model, name, new)
    if tied:
        model.tie_weights()
    leftover = [n for n, p in model.named_parameters() if p.is_meta]
    if leftover:
        raise ModelFolderError(f"{folder}: parameters left unloaded: {leftover[:5]}")
    model.to(device)
    if not on_cpu and not use_ao:
        log.warning(
            "torchao is not installed: %s runs dequantized in %s (no memory or speed gain)",
            method,
            dtype,
        )
    model.eval()
    model.forge_runtime = (
        runtime_notes(device)[method] if on_cpu else ("torchao" if use_ao else "dequantized")
    )
    return model


def _torchao_quantize(linear: nn.Module, method: str, group_size: int) -> None:
    """Re-quantize one dequantized linear layer with torchao's weight-only kernels.

    Note: this re-quantizes from the stored grid; torchao picks its own scales.
    """
    from torchao.quantization import quantize_

    try:  # torchao >= 0.9
        from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig

        if method == "int8":
            config = Int8WeightOnlyConfig()
        else:
            try:  # tinygemm's kernel (torch's _weight_int4pack_mm): needs no extra package
                config = Int4WeightOnlyConfig(
                    group_size=group_size, int4_packing_format="tile_packed_to_4d"
                )
            except TypeError:  # torchao before packing formats: tinygemm is its default
                config = Int4WeightOnlyConfig(group_size=group_size)
    except ImportError:  # older torchao
        from torchao.quantization import int4_weight_only, int8_weight_only

        config = int8_weight_only() if method == "int8" else int4_weight_only(group_size=group_size)

    quantize_(linear, config)
