"""Compiled ops per install, stale build locks, and jobs stuck before their first step
(issue 14, item 13), with real torch builds in real processes.

The build is torch's own ``cpp_extension.load`` of a one-line C++ file whose header
is a FIFO: the compiler blocks reading it, so the build is really under way (torch's
lock taken, ninja and the compiler running) for exactly as long as the test wants,
and a kill -9 then leaves the lock behind as a cancel or the OOM killer would.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gpu_agent import extensions, stacks
from gpu_agent.kinds import KINDS, Kind
from gpu_agent.spec import LaunchSpec
from gpu_agent.spool import Spool
from gpu_agent.supervisor import STUCK_PREFIX, Supervisor
from tests.agent.conftest import wait_for

pytestmark = pytest.mark.slow  # real compilers and subprocesses

OP = "forge_probe"
BUILD = f"""
import sys
from torch.utils.cpp_extension import load
load(name={OP!r}, sources=[sys.argv[1]], is_python_module=False)
print('@forge {{"type": "progress", "percent": 100, "message": "built"}}', flush=True)
"""


class Probe:
    """probe.cpp includes slow.h: a FIFO while ``block()`` is in force, else a header."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.source = folder / "probe.cpp"
        self.header = folder / "slow.h"
        self.source.write_text(
            '#include "slow.h"\nextern "C" int forge_probe() { return PROBE; }\n'
        )
        self._writer: int | None = None

    def block(self) -> None:
        self.header.unlink(missing_ok=True)
        os.mkfifo(self.header)

    def compiler_waiting(self) -> bool:
        """True once the compiler reads the FIFO (then it stays blocked on it)."""
        if self._writer is None:
            try:
                self._writer = os.open(self.header, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                return False
        return True

    def unblock(self) -> None:
        """Closing the FIFO would let a blocked compiler on: kill it first."""
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None
        self.header.unlink(missing_ok=True)
        self.header.write_text("#define PROBE 42\n")


def start_build(probe: Probe, ext_dir: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", BUILD, str(probe.source)],
            env={**os.environ, "TORCH_EXTENSIONS_DIR": str(ext_dir)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its ninja and compiler share its process group
        )


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def ext_dir(tmp_path) -> Path:
    return tmp_path / "torch_extensions"


@pytest.fixture
def probe(tmp_path) -> Probe:
    return Probe(tmp_path / "src")


@pytest.fixture
def builders():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            kill_group(proc)


def build_blocked(probe: Probe, ext_dir: Path, tmp_path: Path, builders) -> subprocess.Popen:
    """A build of the probe op, mid-compile (its lock held by a live process)."""
    probe.block()
    proc = start_build(probe, ext_dir, tmp_path / "builder.log")
    builders.append(proc)
    wait_for(
        lambda: probe.compiler_waiting() or proc.poll() is not None,
        timeout=60,
        what="the compiler to read the probe's header",
    )
    assert proc.poll() is None, (tmp_path / "builder.log").read_text()
    assert (ext_dir / OP / "lock").exists()
    return proc


@pytest.fixture
def spool(work_dir):
    s = Spool(work_dir / "spool.sqlite3")
    yield s
    s.close()


@pytest.fixture
def supervisor(spool, work_dir, ext_dir, probe):
    made: list[Supervisor] = []

    def make(**kwargs) -> Supervisor:
        kinds = {
            **KINDS,
            "test.build": Kind(
                argv=lambda launch, spec_path: [sys.executable, "-c", BUILD, str(probe.source)]
            ),
        }
        sup = Supervisor(
            spool, work_dir, poll_interval=0.05, kinds=kinds, extensions_dir=ext_dir, **kwargs
        ).start()
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup.shutdown(timeout=2)


def launch(spool: Spool, sup: Supervisor, job: int) -> None:
    spec = LaunchSpec(job_id=job, attempt=1, kind="test.build", spec={})
    assert spool.claim_launch(spec)
    sup.launch(spec)


def ended(spool: Spool, job: int, timeout: float = 120.0):
    wait_for(lambda: spool.job(job, 1).state == "ended", timeout=timeout, what=f"job {job} end")
    return spool.job(job, 1)


# ------------------------------------------------------------------ the rule


def test_a_live_build_holds_its_lock_and_a_killed_one_leaves_a_stale_one(
    probe, ext_dir, tmp_path, builders
):
    builder = build_blocked(probe, ext_dir, tmp_path, builders)
    [lock] = extensions.build_locks(ext_dir)
    assert lock.op == OP and lock.holders == (builder.pid,)
    assert extensions.clear_stale_locks(ext_dir, settle=0.2) == []  # a live build: kept
    assert (ext_dir / OP / "lock").exists()

    kill_group(builder)  # killed mid-build, as a cancel or the OOM killer would
    probe.unblock()
    [lock] = extensions.build_locks(ext_dir)
    assert lock.holders == () and "left" in lock.describe() and "gone" in lock.describe()
    [cleared] = extensions.clear_stale_locks(ext_dir, settle=0.2)
    assert cleared.path == ext_dir / OP / "lock" and not cleared.path.exists()


def test_default_folder_is_this_installs(monkeypatch, tmp_path):
    monkeypatch.delenv(extensions.ENV_DIR, raising=False)
    expected = (
        Path(sys.prefix) / "torch_extensions"
        if sys.prefix != sys.base_prefix and os.access(sys.prefix, os.W_OK)
        else tmp_path / "torch_extensions"
    )
    assert extensions.default_dir(tmp_path) == expected
    monkeypatch.setenv(extensions.ENV_DIR, str(tmp_path / "chosen"))
    assert extensions.default_dir(tmp_path) == tmp_path / "chosen"


# ------------------------------------------------------------------ through the supervisor


def test_a_build_killed_mid_compile_no_longer_stops_the_next_run(
    probe, ext_dir, tmp_path, builders, spool, supervisor, work_dir, caplog
):
    """Before: every later load of the op waited forever on the lock the killed build
    left. Now the agent's pre-launch check clears it, says so, and the run builds."""
    kill_group(build_blocked(probe, ext_dir, tmp_path, builders))
    probe.unblock()
    assert (ext_dir / OP / "lock").exists()

    caplog.set_level(logging.WARNING, logger="gpu_agent")
    sup = supervisor()
    launch(spool, sup, 1)
    row = ended(spool, 1)
    out = (work_dir / "jobs" / "1-1" / "stdout.log").read_text()
    assert row.outcome == "succeeded", (row.reason, out)
    assert "cleared a stale build lock" in caplog.text
    assert f"forge: cleared a stale build lock before starting: the build lock of {OP}" in out
    assert (ext_dir / OP / f"{OP}.so").is_file()  # built in the install's folder
    logs = [r.data["line"] for r in spool.records(1, 1) if r.type == "log"]
    assert any("cleared a stale build lock" in line for line in logs)


def test_a_job_waiting_on_a_build_lock_fails_at_the_startup_limit_naming_it(
    probe, ext_dir, tmp_path, builders, spool, supervisor
):
    builder = build_blocked(probe, ext_dir, tmp_path, builders)  # a build that never ends
    sup = supervisor(grace=2)
    launch(spool, sup, 2)
    # Once the job waits on the lock (its stack says so), the start-up limit runs out.
    wait_for(lambda: spool.job(2, 1).pgid, what="job 2 to start")
    pgid = spool.job(2, 1).pgid
    [pid] = wait_for(
        lambda: [p for p in stacks.group_pids(pgid) if p != pgid], what="job 2's process"
    )
    wait_for(
        lambda: "file_baton" in (stacks.dump_py_spy(pid)[0] or ""),
        timeout=120,
        interval=0.5,
        what="job 2 to wait on the build lock",
    )
    sup.startup_timeout = 3
    row = ended(spool, 2, timeout=60)
    assert row.outcome == "failed"
    assert row.reason.startswith(f"{STUCK_PREFIX} waiting on the build lock of {OP} in {ext_dir}")
    assert f"held by pid {builder.pid}" in row.reason
    assert "no first record after 3 s" in row.reason
    [dump] = [r.data for r in spool.records(2, 1) if r.type == "stacks"]
    assert dump["reason"] == row.reason
    [process] = dump["processes"]
    assert process["method"] == "py-spy" and "file_baton" in process["text"]
    assert (ext_dir / OP / "lock").exists()  # a live build's lock is never taken away
