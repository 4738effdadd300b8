"""Which command runs for a job kind on a node.

A kind maps to an argv builder, given the launch and the path of the JSON file the
supervisor wrote (the LaunchSpec as a dict, its "checkpoint" included), and
optionally to a validator of the kind's own spec, so a bad config fails at once
with its reason instead of as a crashed process (R10).
"""

from __future__ import annotations

import base64
import json
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_agent.roots import path_fields
from gpu_agent.spec import DemoNodeSpec, LaunchSpec, spec_from_dict
from gpu_agent.train.spec import TrainSpec


@dataclass(frozen=True)
class Kind:
    argv: Callable[[LaunchSpec, Path], list[str]]
    validate: Callable[[dict[str, Any]], object] | None = None  # raises SpecError
    # Extra environment variables for the command (on top of the supervisor's own).
    env: Callable[[LaunchSpec], dict[str, str]] | None = None
    # Whether a failed exit (its code; negative: a signal) is worth a new attempt: the
    # agent reports it "interrupted" and the console requeues it, up to max attempts.
    retry: Callable[[int], bool] | None = None
    # The (name, path) pairs of a spec that name places on disk; the supervisor refuses
    # a launch whose paths lie outside the agent's roots (gpu_agent.roots).
    paths: Callable[[dict[str, Any]], list[tuple[str, Any]]] | None = None


def _python_module(module: str) -> Callable[[LaunchSpec, Path], list[str]]:
    def build(launch: LaunchSpec, spec_path: Path) -> list[str]:
        return [sys.executable, "-m", module, "--spec", str(spec_path)]

    return build


def free_port() -> int:
    """A TCP port free on this host now (the launcher binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def _train_procs(launch: LaunchSpec) -> int:
    spec = spec_from_dict(TrainSpec, launch.spec)
    if spec.gpus_per_node == 0:
        return spec.cpu_procs_per_node
    if len(launch.gpus) != spec.gpus_per_node:
        raise ValueError(
            f"the spec asks for {spec.gpus_per_node} GPUs per node; {len(launch.gpus)} allocated"
        )
    return len(launch.gpus)


def train_argv(launch: LaunchSpec, spec_path: Path) -> list[str]:
    """One DeepSpeed launcher for this node, the one ``deepspeed --num_gpus N -m
    gpu_agent.train`` starts on a single node (``deepspeed.launcher.launch``).

    Not the ``deepspeed`` runner in front of it: the runner dies at once on the SIGTERM
    of a pause or cancel, and then the job's wrapper kills the group while the ranks
    still save their checkpoint. ``launch`` passes SIGTERM on to the ranks and waits
    for them (up to 30 s, within the agent's grace period anyway). The world names the
    allocated GPUs themselves: ``launch`` sets CUDA_VISIBLE_DEVICES from it.

    A multi-node attempt runs one such launcher on every node of its group, each
    with the same world (every host in node-rank order), its own node rank, and the
    master address and port the console chose: what the ``deepspeed`` runner would
    start over ssh, started here by each node's own agent instead."""
    procs = _train_procs(launch)
    local = list(launch.gpus) if launch.gpus else list(range(procs))
    rdzv = launch.rendezvous
    if rdzv is None:
        world = {"localhost": local}
        node_rank, master = 0, ["--master_addr=127.0.0.1", f"--master_port={free_port()}"]
    else:
        if rdzv.procs[rdzv.node_rank] != procs:
            raise ValueError(
                f"node rank {rdzv.node_rank} should run {rdzv.procs[rdzv.node_rank]} "
                f"processes; this node has {procs}"
            )
        world = {
            host: local if rank == rdzv.node_rank else list(range(count))
            for rank, (host, count) in enumerate(zip(rdzv.hosts, rdzv.procs, strict=True))
        }
        node_rank = rdzv.node_rank
        master = [f"--master_addr={rdzv.master_addr}", f"--master_port={rdzv.master_port}"]
    world_info = base64.urlsafe_b64encode(json.dumps(world).encode()).decode()
    return [
        sys.executable,
        "-u",
        "-m",
        "deepspeed.launcher.launch",
        f"--world_info={world_info}",
        f"--node_rank={node_rank}",
        *master,
        "--module",
        "gpu_agent.train",
        "--spec",
        str(spec_path),
    ]


def train_retry(code: int) -> bool:
    """A crashed or killed rank is retried (from the latest complete checkpoint); exit 2,
    an invalid spec or data, would fail the same way again."""
    return code != 2


def train_paths(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    """The corpus and checkpoint folders, and any path the DeepSpeed config names
    (an NVMe offload folder, a monitor's output)."""
    data, checkpoint = spec.get("data") or {}, spec.get("checkpoint") or {}
    return [
        ("data.corpus_dir", data.get("corpus_dir", "")),
        ("checkpoint.dir", checkpoint.get("dir", "")),
        *((f"deepspeed.{name}", value) for name, value in path_fields(spec.get("deepspeed"))),
    ]


def train_env(launch: LaunchSpec) -> dict[str, str]:
    """CPU runs (gpus_per_node 0) use DeepSpeed's CPU accelerator, with gloo."""
    if launch.spec.get("gpus_per_node") == 0:
        return {"DS_ACCELERATOR": "cpu"}
    return {}


KINDS: dict[str, Kind] = {
    DemoNodeSpec.KIND: Kind(
        argv=_python_module("gpu_agent.workloads.demo"),
        validate=lambda spec: spec_from_dict(DemoNodeSpec, spec),
    ),
    TrainSpec.KIND: Kind(
        argv=train_argv,
        validate=lambda spec: spec_from_dict(TrainSpec, spec),
        env=train_env,
        retry=train_retry,
        paths=train_paths,
    ),
}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind
