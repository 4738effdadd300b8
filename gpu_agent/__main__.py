"""Forge node agent.

    python -m gpu_agent --console http://127.0.0.1:8000 \
        [--token TOKEN] [--name NODE] [--work-dir DIR]

This release of the agent takes the node's inventory (CPUs, memory, GPUs via
NVML) and watches the console's health. Registration, telemetry and job
execution over the node's own queue arrive with the fleet release; the agent
never imports Django and talks to the console only over HTTP.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

from gpu_agent import __version__
from gpu_agent.hardware import node_inventory

log = logging.getLogger("gpu_agent")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="forge-agent", description="Forge GPU-node agent.")
    parser.add_argument(
        "--console",
        default=os.environ.get("FORGE_URL", "http://127.0.0.1:8000"),
        help="Console base URL.",
    )
    parser.add_argument(
        "--token", default=os.environ.get("FORGE_NODE_TOKEN", ""), help="This node's token."
    )
    parser.add_argument(
        "--name", default=socket.gethostname(), help="Node name (default: hostname)."
    )
    parser.add_argument("--work-dir", default=os.path.expanduser("~/.forge-agent"), type=Path)
    parser.add_argument(
        "--interval", type=float, default=5.0, help="Seconds between health checks."
    )
    return parser.parse_args(argv)


def console_health(base_url: str, timeout: float = 5.0) -> dict:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"console URL must be http(s): {base_url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        base_url.rstrip("/") + "/healthz", headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - operator-given URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}") | {"status": f"http {exc.code}"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    inventory = node_inventory()
    log.info(
        "forge-agent %s on node %r: %s CPUs, %s MiB RAM, %s GPU(s)%s",
        __version__,
        args.name,
        inventory.cpu_count,
        inventory.memory_mib,
        len(inventory.gpus),
        f" ({inventory.nvml_error})" if inventory.nvml_error else "",
    )
    for gpu in inventory.gpus:
        log.info("GPU %s: %s, %s MiB, driver %s", gpu.index, gpu.model, gpu.memory_mib, gpu.driver)
    (args.work_dir / "inventory.json").write_text(json.dumps(inventory.as_dict(), indent=2))

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    last = None
    while not stop.is_set():
        try:
            status = console_health(args.console).get("status", "unknown")
        except (OSError, ValueError) as exc:
            status = f"unreachable ({type(exc).__name__})"
        if status != last:
            log.info("console %s: %s", args.console, status)
            last = status
        stop.wait(args.interval)
    log.info("agent stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
