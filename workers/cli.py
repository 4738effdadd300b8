"""The command line that starts a Forge Celery worker, written out once.

Used by ``manage.py run_stack``, the tests' real worker (tests/processes.py) and
bench/dispatch.py; docker-compose.yml spells the same argv in YAML (tests/test_compose.py
checks that it matches).

    python -m celery -A workers worker -Q default,pipelines,scheduler,ingest \\
        --concurrency 2 --loglevel INFO -n console@%h
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from workers.queues import CONSOLE_QUEUES


def worker_argv(
    *,
    queues: Iterable[str] = CONSOLE_QUEUES,
    concurrency: int | str = 2,
    loglevel: str = "INFO",
    name: str | None = "console@%h",
    pool: str | None = None,
    quiet: bool = False,
    python: str = sys.executable,
) -> list[str]:
    """The argv of a Celery worker of the ``workers`` app consuming ``queues``.
    ``quiet`` leaves out the cluster chatter a lone worker does not need (heartbeats,
    mingle, gossip); ``name`` None keeps Celery's default node name."""
    argv = [python, "-m", "celery", "-A", "workers", "worker", "-Q", ",".join(map(str, queues))]
    if pool is not None:
        argv += ["--pool", pool]
    argv += ["--concurrency", str(concurrency), "--loglevel", loglevel]
    if quiet:
        argv += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    if name is not None:
        argv += ["-n", name]
    return argv
