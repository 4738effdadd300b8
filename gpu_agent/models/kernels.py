"""Fast linear layers for compressed-tensors weights, for Forge's own serving path
(playground, evaluation, measurement) on a GPU.

Plain transformers opens a compressed-tensors folder by decompressing every weight to
16 bits (or by decompressing on every call): correct, but no faster than bf16. Forge
keeps the stored integers and runs them with torch's own kernels, so a compiled decode
(static KV cache, CUDA graphs) reads 4 or 8 bits per weight instead of 16:

* ``Int4Linear`` (W4A16, symmetric, per group): tinygemm's ``_weight_int4pack_mm``
  (the kernel torchao's int4 weight-only uses). tinygemm dequantizes as
  ``(q - 8) * scale + zero`` with ``q`` in 0..15; compressed-tensors stores ``q`` in
  -8..7 with ``w = q * scale``, so ``q + 8`` with zero 0 is the same grid, exactly.
* ``Int8Linear`` (W8A16, symmetric, per output channel): ``x @ q.T * scale``. Used on
  CPU only: on an H100 it decodes at 0.2x bf16 (the int8 weights are converted to 16
  bits before the product; torch's ``_weight_int8pack_mm`` was slower still, 0.17x), so
  on a GPU W8A16 is dequantized to bf16 when loaded (bf16's speed, not its memory
  saving) until a fused kernel lands (bench/RESULTS.md).
* ``Fp8Linear`` (W8A8-FP8: per-channel weight scales, dynamic per-token activation
  scales): ``torch._scaled_mm`` with row-wise scales (Hopper and Ada GPUs).

On CPU the int4 and int8 layers use torch's CPU variants of the same kernels, so the
packing and the maths are tested on machines without a GPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FP8_MAX = 448.0  # largest float8_e4m3fn
INNER_K_TILES = 8  # tinygemm's tile depth: in_features must be a multiple of 128 (8 x 16)
INT4_GROUP_SIZES = (32, 64, 128, 256)


def int4_supported(in_features: int, group_size: int) -> bool:
    return group_size in INT4_GROUP_SIZES and in_features % (INNER_K_TILES * 16) == 0


class Int4Linear(nn.Module):
    """int4 weight-only linear layer on tinygemm's kernel (see the module docstring)."""

    packed: torch.Tensor
    scales_and_zeros: torch.Tensor

    def __init__(
        self,
        q: torch.Tensor,
        scale: torch.Tensor,
        group_size: int,
        bias: torch.Tensor | None,
        *,
        dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        super().__init__()
        out_features, in_features = q.shape
        if not int4_supported(in_features, group_size):
            raise ValueError(
                f"int4 kernel needs in_features divisible by {INNER_K_TILES * 16} and a "
                f"group size in {INT4_GROUP_SIZES}; got {in_features} and {group_size}"
            )
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        unsigned = (q.to(torch.int32) + 8).contiguous()
        if q.device.type == "cuda":
            packed_bytes = (unsigned[:, ::2] << 4 | unsigned[:, 1::2]).to(torch.uint8)
            packed = torch.ops.aten._convert_weight_to_int4pack(packed_bytes, INNER_K_TILES)
        else:
            packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(unsigned, INNER_K_TILES)
        groups = in_features // group_size
        scale = scale.to(dtype).reshape(out_features, groups, 1)
        scales_and_zeros = torch.cat([scale, torch.zeros_like(scale)], dim=2)
        self.register_buffer("packed", packed)
        self.register_buffer("scales_and_zeros", scales_and_zeros.transpose(0, 1).contiguous())
        self.bias = None if bias is None else nn.Parameter(bias.to(dtype), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).to(self.scales_and_zeros.dtype)
        if flat.device.type == "cuda":
            y = torch.ops.aten._weight_int4pack_mm(
                flat, self.packed, self.group_size, self.scales_and_zeros
            )
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(
                flat, self.packed, self.group_size, self.scales_and_zeros
            )
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, int4 group {self.group_size}"


class Int8Linear(nn.Module):
    """int8 weight-only linear layer: ``(x @ q.T) * scale``."""

    qweight: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        q: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor | None,
        *,
        dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        super().__init__()
        self.out_features, self.in_features = q.shape
        self.register_buffer("qweight", q.to(torch.int8).contiguous())
        self.register_buffer("scale", scale.reshape(-1).to(dtype))
        self.bias = None if bias is None else nn.Parameter(bias.to(dtype), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.qweight.to(x.dtype)) * self.scale.to(x.dtype)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, int8 per channel"


class Fp8Linear(nn.Module):
    """W8A8-FP8: float8 weights with per-channel scales; activations quantized per
    token on the fly; ``torch._scaled_mm`` with row-wise scales."""

    weight_t: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        weight: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor | None,
        *,
        dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.out_dtype = dtype
        # _scaled_mm wants the second operand column-major: keep W.T as a view of W.
        self.register_buffer("weight_t", weight.to(torch.float8_e4m3fn).contiguous().t())
        self.register_buffer("scale", scale.reshape(1, -1).float())
        self.bias = None if bias is None else nn.Parameter(bias.to(dtype), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        amax = flat.abs().amax(dim=1, keepdim=True).float().clamp(min=1e-12)
        x_scale = amax / FP8_MAX
        x_fp8 = (flat.float() / x_scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        y = torch._scaled_mm(
            x_fp8,
            self.weight_t,
            scale_a=x_scale,
            scale_b=self.scale,
            bias=None if self.bias is None else self.bias.to(self.out_dtype),
            out_dtype=self.out_dtype,
        )
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, fp8 (W8A8, per token)"
