"""bench/quant_kernels (GPU): Forge's quantized linear layers against bf16, one layer.

    python3 bench/quant_kernels.py [--shapes 4096x4096,11008x4096,4096x11008]

For each weight shape (out x in) and batch (1, 16): the error of Int4Linear (tinygemm),
Int8Linear and Fp8Linear against the same weights dequantized and run by F.linear in
float32, and the time of one call compiled (torch.compile, default mode)
next to bf16 F.linear compiled the same way. The weights are random integers on each
format's grid, so the dequantized reference is exact. Prints a table last.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_agent.models.kernels import FP8_MAX, Fp8Linear, Int4Linear, Int8Linear


def timed(fn, x, iters: int = 200) -> float:
    for _ in range(10):
        fn(x)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn(x)
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters * 1000  # microseconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", default="4096x4096,11008x4096,4096x11008")
    parser.add_argument("--group-size", type=int, default=128)
    args = parser.parse_args()
    dev = "cuda"
    torch.manual_seed(0)
    rows = []
    for shape in args.shapes.split(","):
        out, inp = (int(v) for v in shape.split("x"))
        g = args.group_size
        q4 = torch.randint(-8, 8, (out, inp), dtype=torch.int8, device=dev)
        s4 = torch.rand(out, inp // g, device=dev) * 0.004 + 0.001
        w4 = (q4.float().view(out, -1, g) * s4[..., None]).view(out, inp)
        q8 = torch.randint(-127, 128, (out, inp), dtype=torch.int8, device=dev)
        s8 = torch.rand(out, device=dev) * 0.0004 + 0.0001
        w8 = q8.float() * s8[:, None]
        wf = torch.randn(out, inp, device=dev) * 0.02
        sf = wf.abs().amax(1) / FP8_MAX
        f8 = (wf / sf[:, None]).to(torch.float8_e4m3fn)
        wf8 = f8.float() * sf[:, None]
        wbf = wf.to(torch.bfloat16)
        layers = {
            "bf16": (lambda x, w=wbf: F.linear(x, w), wbf.float()),
            "int4": (Int4Linear(q4, s4, g, None), w4),
            "int8": (Int8Linear(q8, s8, None), w8),
            "fp8": (Fp8Linear(f8, sf, None), wf8),
        }
        for batch in (1, 16):
            x = torch.randn(batch, inp, device=dev, dtype=torch.bfloat16)
            for name, (layer, ref_w) in layers.items():
                ref = x.float() @ ref_w.t()
                y = layer(x).float()
                err = ((y - ref).abs().max() / ref.abs().max()).item()
                fn = torch.compile(layer, dynamic=False)
                us = timed(fn, x)
                rows.append(
                    {"shape": shape, "batch": batch, "kernel": name, "rel_err": err, "us": us}
                )
                print(json.dumps(rows[-1]), flush=True)
    print()
    print(f"bench/quant_kernels on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print("shape | batch | kernel | max rel. error | us/call | vs bf16")
    base = {(r["shape"], r["batch"]): r["us"] for r in rows if r["kernel"] == "bf16"}
    for r in rows:
        ratio = base[(r["shape"], r["batch"])] / r["us"]
        print(
            f"{r['shape']} | {r['batch']} | {r['kernel']} | {r['rel_err']:.2e} | "
            f"{r['us']:.1f} | {ratio:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
