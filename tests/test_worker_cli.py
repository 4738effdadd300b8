"""workers.cli.worker_argv: the one Celery worker command line."""

from __future__ import annotations

import sys

from workers.cli import worker_argv
from workers.queues import CONSOLE_QUEUES


def test_default_is_the_console_worker_of_make_run():
    assert worker_argv() == [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers",
        "worker",
        "-Q",
        ",".join(CONSOLE_QUEUES),
        "--concurrency",
        "2",
        "--loglevel",
        "INFO",
        "-n",
        "console@%h",
    ]


def test_a_quiet_test_worker_with_its_own_pool_and_name():
    argv = worker_argv(
        queues=["scheduler", "default"], pool="solo", concurrency=1, quiet=True, name="t@%h"
    )
    assert argv[argv.index("-Q") + 1] == "scheduler,default"
    assert argv[argv.index("--pool") + 1] == "solo"
    assert argv[argv.index("--concurrency") + 1] == "1"
    assert {"--without-heartbeat", "--without-mingle", "--without-gossip"} <= set(argv)
    assert argv[-2:] == ["-n", "t@%h"]


def test_no_name_keeps_celerys_default():
    assert "-n" not in worker_argv(name=None)
