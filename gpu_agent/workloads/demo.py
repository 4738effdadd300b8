"""The demo.node workload: behaves like a small training run, without a GPU.

    python -m gpu_agent.workloads.demo --spec launch.json

``launch.json`` is what the supervisor writes: a LaunchSpec as a dict whose
``spec`` is a DemoNodeSpec and whose ``checkpoint`` ({"step": n}, or null) says
where to resume (a bare DemoNodeSpec dict works too). Every step it sleeps ``step_seconds``, prints
a log line, a metric marker line (``metrics_per_step`` series: loss, lr,
grad_norm, m3, m4, ...) and a progress marker line whose checkpoint is
{"step": n}. It exits 1 at ``fail_at_step``, 2 on an invalid spec, and 143
after a SIGTERM (with a log line saying so).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gpu_agent.spec import STDOUT_MARKER, DemoNodeSpec, SpecError, spec_from_dict
from gpu_agent.stacks import register_faulthandler

NAMES = ("loss", "lr", "grad_norm")


class Terminated(Exception):
    pass


def series_names(count: int) -> list[str]:
    return [NAMES[i] if i < len(NAMES) else f"m{i}" for i in range(count)]


def metric_values(step: int, steps: int, count: int) -> dict[str, float]:
    """Plausible, deterministic values (a resumed run prints what the first would have)."""
    rng = random.Random(step)
    frac = step / steps
    warmup = max(1, steps // 10)
    peak = 3e-4
    if step <= warmup:
        lr = peak * step / warmup
    else:
        lr = 3e-5 + (peak - 3e-5) * 0.5 * (
            1 + math.cos(math.pi * (step - warmup) / (steps - warmup or 1))
        )
    values = {
        "loss": 0.4 + 2.6 * math.exp(-3 * frac) + 0.05 * rng.gauss(0, 1),
        "lr": lr,
        "grad_norm": 0.3 + 1.5 * math.exp(-4 * frac) + 0.1 * abs(rng.gauss(0, 1)),
    }
    out = {}
    for i, name in enumerate(series_names(count)):
        out[name] = values.get(name, math.sin(step / (5 + i)) + 0.05 * rng.gauss(0, 1))
    return {k: round(v, 6 if k != "lr" else 9) for k, v in out.items()}


def emit(record: dict[str, Any]) -> None:
    print(STDOUT_MARKER + json.dumps(record, separators=(",", ":")), flush=True)


def load(path: Path) -> tuple[DemoNodeSpec, dict[str, Any] | None]:
    data = json.loads(path.read_text())
    checkpoint = None
    if isinstance(data, dict) and "spec" in data and "kind" in data:
        checkpoint = data.get("checkpoint")
        data = data["spec"]
    return spec_from_dict(DemoNodeSpec, data), checkpoint


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def run(spec: DemoNodeSpec, checkpoint: dict[str, Any] | None) -> int:
    step = 0
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("step"), int):
        step = max(0, min(spec.steps, checkpoint["step"]))
    print(
        f"demo.node: {spec.steps} steps of {spec.step_seconds} s, "
        f"{spec.metrics_per_step} metric series, "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r}",
        flush=True,
    )
    if step:
        print(f"resuming from checkpoint: step {step}", flush=True)
    try:
        while step < spec.steps:
            next_step = step + 1
            if spec.fail_at_step == next_step:
                print(f"failing on purpose at step {next_step} (fail_at_step)", file=sys.stderr)
                return 1
            time.sleep(spec.step_seconds)
            step = next_step
            values = metric_values(step, spec.steps, spec.metrics_per_step)
            shown = " ".join(f"{k}={v:.4g}" for k, v in values.items())
            print(f"step {step}/{spec.steps} {shown}", flush=True)
            emit({"type": "metric", "step": step, "values": values})
            emit(
                {
                    "type": "progress",
                    "percent": round(100 * step / spec.steps, 3),
                    "message": f"step {step}/{spec.steps}",
                    "checkpoint": {"step": step},
                }
            )
    except Terminated:
        print(f"SIGTERM at step {step}: stopping (resume from checkpoint step {step})", flush=True)
        return 143
    print(f"done: {spec.steps} steps", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_agent.workloads.demo")
    parser.add_argument("--spec", type=Path, default=os.environ.get("FORGE_SPEC"))
    args = parser.parse_args(argv)
    if args.spec is None:
        parser.error("--spec (or FORGE_SPEC) is required")
    signal.signal(signal.SIGTERM, _on_sigterm)
    register_faulthandler()  # SIGUSR1 writes its stack for the agent (gpu_agent/stacks.py)
    try:
        spec, checkpoint = load(args.spec)
    except (OSError, ValueError, SpecError) as exc:
        print(f"invalid spec: {exc}", file=sys.stderr)
        return 2
    return run(spec, checkpoint)


if __name__ == "__main__":
    raise SystemExit(main())
