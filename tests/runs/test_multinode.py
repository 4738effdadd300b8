"""Multi-node runs on the console side: a group placed on distinct nodes all or none,
one launch per node with the rendezvous the console chose, success only once every
node succeeded, and any node's failure restarting the whole group.

(The same with real processes: two agents on this machine, test_multinode_e2e.py.)"""

from __future__ import annotations

import pytest
from django.conf import settings

from console.fleet.models import AllocatedGpu, Allocation
from console.jobs import services as job_services
from console.jobs.models import Job, JobState
from console.runs import services
from gpu_agent.spec import LaunchSpec, spec_from_dict
from tests.fleet.conftest import Stream
from tests.runs.conftest import CPU_RUN

S = JobState
pytestmark = [pytest.mark.django_db]


def _launch(personas, corpus, **overrides) -> Job:
    run = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, "gpus_per_node": 1, "bf16": True, "nodes": 2, **overrides},
    )
    job_services.job_schedule(job_id=run.job_id)
    return Job.objects.get(pk=run.job_id)


def _launches(job: Job) -> list[LaunchSpec]:
    return [
        spec_from_dict(LaunchSpec, args[0])
        for _task, args, _q in job_services._dispatch_messages(job)
    ]


def test_a_group_is_placed_on_distinct_nodes_with_one_rendezvous(personas, corpus, make_node):
    make_node("gpu-a", gpus=2)
    make_node("gpu-b", gpus=2)
    job = _launch(personas, corpus)
    assert job.state == S.DISPATCHED, job.progress_message
    group = list(Allocation.objects.filter(job=job).order_by("node_rank"))
    assert [a.node_rank for a in group] == [0, 1]
    assert {a.node.name for a in group} == {"gpu-a", "gpu-b"}
    assert all(len(a.gpu_indices) == 1 for a in group)
    low, high = settings.FORGE_RENDEZVOUS_PORTS
    assert low <= group[0].master_port <= high and group[1].master_port is None
    launches = _launches(job)
    assert [(la.node, la.rendezvous.node_rank) for la in launches] == [
        (group[0].node.name, 0),
        (group[1].node.name, 1),
    ]
    for launch in launches:
        rdzv = launch.rendezvous
        assert rdzv.hosts == [a.node.name for a in group] and rdzv.procs == [1, 1]
        # The agent's reported address (here: its hostname, no address in the inventory).
        assert rdzv.master_addr == f"{group[0].node.name}.local"
        assert rdzv.master_port == group[0].master_port


def test_a_group_is_placed_all_or_none(personas, corpus, make_node):
    make_node("gpu-a", gpus=1)
    make_node("gpu-b", gpus=1)
    first = _launch(personas, corpus, nodes=1)  # takes one node's only GPU
    assert first.state == S.DISPATCHED
    job = _launch(personas, corpus)
    assert job.state == S.SCHEDULED
    assert job.progress_message == "waiting for 2 nodes with 1 free GPU(s)"
    assert not Allocation.objects.filter(job=job).exists()  # no half-held group
    assert AllocatedGpu.objects.filter(active=True).count() == 1
    job_services.job_cancel(actor=personas.ml_engineer, job_id=first.pk)
    job_services.job_reconcile()
    assert Job.objects.get(pk=job.pk).state == S.DISPATCHED
    assert AllocatedGpu.objects.filter(active=True).count() == 2


def test_a_retried_group_gets_a_new_rendezvous_port(personas, corpus, make_node):
    make_node("gpu-a", gpus=1)
    make_node("gpu-b", gpus=1)
    job = _launch(personas, corpus)
    port = Allocation.objects.get(job=job, node_rank=0).master_port
    job_services.job_requeue(job_id=job.pk, attempt=1, reason="rank died")
    job_services.job_schedule(job_id=job.pk)
    again = Allocation.objects.get(job=job, attempt=2, node_rank=0)
    assert again.master_port != port


def test_success_needs_every_node_and_any_failure_restarts_the_group(personas, corpus, make_node):
    _a, agent_a = make_node("gpu-a", gpus=1)
    _b, agent_b = make_node("gpu-b", gpus=1)
    job = _launch(personas, corpus)
    rank0 = Allocation.objects.get(job=job, node_rank=0).node.name
    agents = {"gpu-a": agent_a, "gpu-b": agent_b}
    first, second = agents[rank0], agents["gpu-b" if rank0 == "gpu-a" else "gpu-a"]

    def send(agent, records):
        reply = agent.post("/api/agent/v1/ingest", {"records": records}, format="json")
        assert reply.status_code == 200, reply.content
        return reply.json()

    # Each node's agent numbers its own stream of the attempt from 1.
    s0, s1 = Stream(job.pk), Stream(job.pk)
    send(first, [s0.status("running"), s0.metric(1, loss=5.0)])
    send(second, [s1.status("running")])
    assert Job.objects.get(pk=job.pk).state == S.RUNNING
    send(second, [s1.status("succeeded", exit_code=0)])
    job.refresh_from_db()
    assert job.state == S.RUNNING and "waiting for" in job.progress_message
    send(first, [s0.status("succeeded", exit_code=0)])
    job.refresh_from_db()
    assert job.state == S.SUCCEEDED
    assert sorted(job.result["nodes"]) == ["gpu-a", "gpu-b"]

    # A second run: one node's launcher fails, the group is requeued at once and the
    # other node is told to stop its part.
    job = _launch(personas, corpus)
    group = {a.node.name: a for a in Allocation.objects.filter(job=job)}
    s0, s1 = Stream(job.pk), Stream(job.pk)
    send(agent_a, [s0.status("running")])
    send(
        agent_b,
        [s1.status("interrupted", exit_code=1, reason="exit code 1: RuntimeError: boom")],
    )
    job.refresh_from_db()
    assert job.state == S.QUEUED
    assert "node gpu-b: exit code 1: RuntimeError: boom" in job.progress_message
    assert not AllocatedGpu.objects.filter(active=True, allocation__job=job).exists()
    beat = agent_a.post(
        "/api/agent/v1/heartbeat", {"running": [{"job": job.pk, "attempt": 1}]}, format="json"
    )
    assert beat.json()["stop"] == [{"job": job.pk, "attempt": 1}]
    assert group["gpu-b"].node_rank in (0, 1)
