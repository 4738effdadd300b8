"""The agent refuses a job whose spec names a path outside its roots (S8, S14)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gpu_agent.agent import AgentConfig, job_roots
from gpu_agent.kinds import KINDS, Kind, train_paths
from gpu_agent.roots import outside, path_fields, within
from gpu_agent.spec import LaunchSpec, RegisterReply
from gpu_agent.spool import Spool
from gpu_agent.supervisor import Supervisor
from tests.agent.conftest import wait_for


def test_within_resolves_dots_and_links(tmp_path):
    root = tmp_path / "root"
    (root / "corpora").mkdir(parents=True)
    (root / "escape").symlink_to("/etc")
    assert within(str(root / "corpora"), [root])
    assert within(str(root / "runs" / "7"), [root])  # not there yet: a run's new folder
    assert within(str(root), [root])
    for bad in (
        str(root / ".." / "elsewhere"),
        str(root / "corpora" / ".." / ".." / "x"),
        str(root / "escape" / "passwd"),
        str(tmp_path / "root-sibling"),  # a prefix of the name is not the folder
        "corpora/relative",
        "file:///etc/passwd",
        "/etc/passwd",
        str(root) + "\x00/x",
        "",
    ):
        assert not within(bad, [root]), bad
    assert not within(None, [root])  # type: ignore[arg-type]


def test_path_fields_find_paths_at_any_depth():
    config = {
        "zero_optimization": {"offload_param": {"device": "nvme", "nvme_path": "/mnt"}},
        "tensorboard": {"enabled": True, "output_path": "/tmp/tb"},
        "flops_profiler": {"output_file": "x.txt"},
        "list": [{"save_dir": "/a"}],
        "train_batch_size": 8,
        "filed": "not a path key",
    }
    assert sorted(name for name, _ in path_fields(config)) == [
        "flops_profiler.output_file",
        "list[0].save_dir",
        "tensorboard.output_path",
        "zero_optimization.offload_param.nvme_path",
    ]


def test_outside_names_each_bad_field(tmp_path):
    problems = outside(
        [("data.corpus_dir", "/etc"), ("checkpoint.dir", str(tmp_path / "ok")), ("x", "")],
        [tmp_path],
    )
    assert len(problems) == 1 and problems[0].startswith("data.corpus_dir ('/etc') is outside")


def test_the_console_names_the_roots_unless_the_node_does(tmp_path):
    reply = RegisterReply(
        node="n", queue="node.n", heartbeat_seconds=5, broker_url="memory://",
        storage_roots=["/srv/forge/data", "/srv/forge/runs"],
    )  # fmt: skip
    announced = AgentConfig(console_url="http://c", token="t", name="n", work_dir=tmp_path)
    assert job_roots(announced, reply) == (
        tmp_path,
        Path("/srv/forge/data"),
        Path("/srv/forge/runs"),
    )
    pinned = AgentConfig(
        console_url="http://c", token="t", name="n", work_dir=tmp_path, roots=(Path("/data"),)
    )
    assert job_roots(pinned, reply) == (tmp_path, Path("/data"))


# ------------------------------------------------------------------ the supervisor refuses


MARK = "print('the job ran', flush=True)"


@pytest.fixture
def supervisor(work_dir, tmp_path):
    spool = Spool(work_dir / "spool.sqlite3")
    storage = tmp_path / "storage"
    (storage / "corpora" / "1").mkdir(parents=True)
    kinds = {
        **KINDS,
        # The training kind's paths, with a harmless command in place of DeepSpeed.
        "test.paths": Kind(
            argv=lambda launch, path: [sys.executable, "-c", MARK], paths=train_paths
        ),
    }
    sup = Supervisor(spool, work_dir, poll_interval=0.05, kinds=kinds, roots=(storage,)).start()
    yield spool, sup, storage
    sup.shutdown(timeout=2)
    spool.close()


def _run(spool, sup, job: int, kind: str, spec: dict):
    launch = LaunchSpec(job_id=job, attempt=1, kind=kind, spec=spec)
    assert spool.claim_launch(launch)
    sup.launch(launch)
    wait_for(lambda: spool.job(job, 1).state == "ended", timeout=20, what=f"job {job} to end")
    statuses = [r.data for r in spool.records(job, 1) if r.type == "status"]
    return statuses[-1], [r.data["line"] for r in spool.records(job, 1) if r.type == "log"]


def _spec(corpus: str, ckpt: str, deepspeed: dict | None = None) -> dict:
    return {
        "data": {"corpus_dir": corpus, "seq_len": 64},
        "checkpoint": {"dir": ckpt},
        "deepspeed": deepspeed or {},
    }


def test_a_training_spec_naming_a_path_outside_the_roots_never_starts(supervisor, work_dir):
    spool, sup, storage = supervisor
    cases = [
        _spec("/etc", str(storage / "runs" / "1")),
        _spec(str(storage / "corpora" / "1"), "/root/.ssh"),
        _spec(str(storage / "corpora" / "1"), str(storage / "runs" / ".." / ".." / "x")),
        _spec(
            str(storage / "corpora" / "1"),
            str(storage / "runs" / "1"),
            {"zero_optimization": {"offload_optimizer": {"nvme_path": "/var/lib"}}},
        ),
    ]
    for job, spec in enumerate(cases, start=1):
        status, lines = _run(spool, sup, job, "test.paths", spec)
        assert status["state"] == "failed" and status["reason"].startswith("refused: "), status
        assert "outside this agent's roots" in status["reason"]
        assert "the job ran" not in lines
        assert not sup.job_dir(job, 1).exists()
    # The real training kind is refused the same way, before DeepSpeed is started.
    status, _ = _run(spool, sup, 99, "train.run", {**_spec("/etc", "/tmp/x"), "gpus_per_node": 0})
    assert status["state"] == "failed" and "data.corpus_dir ('/etc') is outside" in status["reason"]


def test_a_symlink_out_of_the_roots_is_refused(supervisor):
    spool, sup, storage = supervisor
    os.symlink("/etc", storage / "corpora" / "sneaky")
    status, _ = _run(
        spool, sup, 1, "test.paths", _spec(str(storage / "corpora" / "sneaky"), str(storage))
    )
    assert status["state"] == "failed" and "outside this agent's roots" in status["reason"]


def test_paths_inside_the_roots_run(supervisor, work_dir):
    spool, sup, storage = supervisor
    status, lines = _run(
        spool,
        sup,
        1,
        "test.paths",
        _spec(str(storage / "corpora" / "1"), str(work_dir / "checkpoints" / "1")),
    )
    assert status["state"] == "succeeded" and "the job ran" in lines
