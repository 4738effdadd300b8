"""Expensive test inputs built once per test run, not once per pytest-xdist worker.

`built_once(tmp_path_factory, name, build)` gives a folder that `build(folder)` filled:
the first worker to ask builds it under a lock in the run's shared temporary root;
the others wait on the lock and reuse it. Without xdist it is a plain session folder.
What is built here is read-only for the tests that use it."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DONE = ".built"


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's temporary root: under xdist every worker's base folder is
    <run root>/popen-gwN, and the run root holds what the workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def run_root_of(tmp_path: Path) -> Path:
    """The run's temporary root seen from a test's tmp_path (<base>/<test>)."""
    return tmp_path.parent.parent if os.environ.get("PYTEST_XDIST_WORKER") else tmp_path.parent


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    root = shared_root(tmp_path_factory) / "built-once"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (folder / DONE).exists():
            return folder
        # a worker that failed half-way left a folder without DONE: start again
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        build(folder)
        (folder / DONE).touch()
    return folder
