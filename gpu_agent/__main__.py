"""Forge node agent.

    FORGE_NODE_TOKEN=... python -m gpu_agent --console http://127.0.0.1:8000 \
        [--name NODE] [--work-dir DIR] [--grace SECONDS] [--telemetry-interval SECONDS]

The token comes from FORGE_NODE_TOKEN (or --token-file; --token works too, but a
token on the command line shows in ps). The agent registers with the console,
takes launches from its Celery queue node.<name>, runs each job as a supervised
subprocess, spools its logs, metrics, progress and status (and the node's GPU
telemetry) to SQLite in the work dir and uploads them over HTTP. It never
imports Django. SIGTERM or SIGINT stops the agent (exit 0); running jobs keep
running and the next agent started on the same work dir re-attaches to them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from gpu_agent.agent import Agent, AgentConfig

log = logging.getLogger("gpu_agent")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="forge-agent", description="Forge GPU-node agent.")
    parser.add_argument(
        "--console",
        default=os.environ.get("FORGE_URL", "http://127.0.0.1:8000"),
        help="Console base URL (default: $FORGE_URL or http://127.0.0.1:8000).",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="This node's token (prefer $FORGE_NODE_TOKEN or --token-file: ps shows arguments).",
    )
    parser.add_argument("--token-file", type=Path, default=None, help="File holding the token.")
    parser.add_argument(
        "--name",
        default=socket.gethostname().split(".")[0],
        help="Node name, as the console knows it (default: the short hostname).",
    )
    parser.add_argument("--work-dir", default=os.path.expanduser("~/.forge-agent"), type=Path)
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="Seconds between SIGTERM and SIGKILL when a job is stopped.",
    )
    parser.add_argument(
        "--telemetry-interval",
        type=float,
        default=float(os.environ.get("FORGE_AGENT_TELEMETRY_INTERVAL", "10")),
        help="Seconds between GPU samples (FORGE_AGENT_TELEMETRY_INTERVAL, default 10).",
    )
    parser.add_argument(
        "--stop-jobs-on-exit",
        action="store_true",
        help="Interrupt running jobs when the agent stops (they are requeued); default: leave "
        "them running and re-attach on restart.",
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("FORGE_AGENT_ADDRESS", ""),
        help="Address the other nodes of a multi-node run reach this one on (default: "
        "$FORGE_AGENT_ADDRESS, else this host's address on its route to the console).",
    )
    parser.add_argument(
        "--root",
        dest="roots",
        action="append",
        type=Path,
        default=[Path(p) for p in os.environ.get("FORGE_AGENT_ROOTS", "").split(os.pathsep) if p],
        help="A folder jobs may read and write besides the work dir (repeat for several; "
        "default: $FORGE_AGENT_ROOTS, colon-separated, else the storage folders the console "
        "names at registration). A job whose spec names a path elsewhere is refused.",
    )
    parser.add_argument(
        "--extensions-dir",
        type=Path,
        default=None,
        help="TORCH_EXTENSIONS_DIR of jobs: where DeepSpeed's compiled ops are built "
        "(default: $FORGE_TORCH_EXTENSIONS_DIR, else <venv>/torch_extensions, else "
        "<work-dir>/torch_extensions).",
    )
    parser.add_argument(
        "--no-prebuild",
        dest="prebuild",
        action="store_false",
        default=os.environ.get("FORGE_AGENT_PREBUILD", "1") != "0",
        help="Do not build DeepSpeed's CPU op at start when it is missing "
        "(FORGE_AGENT_PREBUILD=0 too).",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=float(os.environ.get("FORGE_JOB_STARTUP_TIMEOUT", "900")),
        help="Seconds a job may take to its first metric or progress record before it "
        "fails as stuck, with its stacks (FORGE_JOB_STARTUP_TIMEOUT, default 900; 0: none).",
    )
    parser.add_argument("--log-level", default=os.environ.get("FORGE_AGENT_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def resolve_token(args: argparse.Namespace) -> str:
    if args.token:
        return args.token
    if args.token_file:
        return args.token_file.read_text().strip()
    return os.environ.get("FORGE_NODE_TOKEN", "").strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s",
    )
    for noisy in ("kombu", "amqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.token:
        log.warning("--token shows in ps; prefer FORGE_NODE_TOKEN or --token-file")
    agent = Agent(
        AgentConfig(
            console_url=args.console,
            token=resolve_token(args),
            name=args.name,
            work_dir=args.work_dir,
            grace=args.grace,
            telemetry_interval=args.telemetry_interval,
            stop_jobs_on_exit=args.stop_jobs_on_exit,
            address=args.address,
            extensions_dir=args.extensions_dir,
            prebuild=args.prebuild,
            startup_timeout=args.startup_timeout,
            roots=tuple(args.roots),
        )
    )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        agent.stop_event.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    return agent.run()


if __name__ == "__main__":
    raise SystemExit(main())
