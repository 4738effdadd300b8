"""Fixtures for the agent's tests: agent-only (no database), loopback only, bounded waits."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gpu_agent.supervisor import lock_held
from tests.agent.fake_console import FakeConsole


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "",
):
    """Poll until predicate() is truthy; return its value or fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def kill_jobs(work_dir: Path) -> None:
    """SIGKILL every job process group still alive under work_dir (jobs outlive agents)."""
    for pid_file in work_dir.glob("**/jobs/*/wrapper.pid"):
        with contextlib.suppress(OSError, ValueError):
            if lock_held(pid_file.parent):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def work_dir(tmp_path) -> Iterator[Path]:
    path = tmp_path / "agent"
    path.mkdir()
    yield path
    kill_jobs(path)


@pytest.fixture
def fake_console() -> Iterator[FakeConsole]:
    console = FakeConsole().start()
    yield console
    console.stop()
