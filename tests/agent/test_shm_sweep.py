"""DeepSpeed's CPU op leaves its allreduce buffers in /dev/shm; the agent removes the
ones no live process maps (gpu_agent.shm). Real processes map real files here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from gpu_agent import shm

MAPPER = textwrap.dedent(
    """
    import mmap, sys
    with open(sys.argv[1], "r+b") as f:
        view = mmap.mmap(f.fileno(), 0)
    print("mapped", flush=True)
    sys.stdin.read()
    """
)


HOLDER = textwrap.dedent(
    """
    import sys
    f = open(sys.argv[1], "r+b")
    print("open", flush=True)
    sys.stdin.read()
    """
)


def _buffer(folder, name, uid=None):
    path = folder / f"{shm.PREFIX}{os.getuid() if uid is None else uid}_127.0.0.1_{name}"
    path.write_bytes(b"\0" * 4096)
    return path


@pytest.fixture
def mapper():
    procs = []

    def start(path):
        proc = subprocess.Popen(
            [sys.executable, "-c", MAPPER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "mapped"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_buffer_a_live_process_maps_stays_and_goes_once_the_process_is_gone(tmp_path, mapper):
    live = _buffer(tmp_path, "29500_0")
    dead = _buffer(tmp_path, "29501_0")
    holder = mapper(live)

    assert shm.sweep(tmp_path) == [dead]
    assert live.exists() and not dead.exists()

    holder.kill()
    holder.wait()
    assert shm.sweep(tmp_path) == [live]
    assert list(tmp_path.iterdir()) == []


def test_only_this_users_deepspeed_buffers_are_touched(tmp_path):
    other_user = _buffer(tmp_path, "29500_0", uid=os.getuid() + 1)
    unrelated = tmp_path / "PostgreSQL.1234"
    unrelated.write_bytes(b"x")

    assert shm.sweep(tmp_path) == []
    assert other_user.exists() and unrelated.exists()


def test_a_buffer_a_live_process_only_holds_open_stays(tmp_path):
    """A rank creates its buffer, then writes 66 MB into it before it maps it: the open
    descriptor alone keeps it."""
    held = _buffer(tmp_path, "29502_0")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(held)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline().strip() == b"open"
        assert shm.sweep(tmp_path) == []
        assert held.exists()
    finally:
        holder.kill()
        holder.wait()
    assert shm.sweep(tmp_path) == [held]
