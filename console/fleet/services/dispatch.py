"""Node dispatch, the "node" executor of console.jobs.kinds: a scheduled node job's new
attempt is placed (console.fleet.scheduler.allocation_place) and launched on each node
of its group through the broker; the reconciler sends the launches again when lost."""

from __future__ import annotations

import logging
from typing import Any, cast

from console.fleet.models import Allocation
from console.fleet.scheduler import allocation_place
from console.jobs import kinds
from console.jobs.models import Job, JobState
from console.jobs.services import _enqueue_on_commit, job_transition
from gpu_agent.spec import (
    AGENT_LAUNCH_TASK,
    LaunchSpec,
    Rendezvous,
    SpecError,
    spec_from_dict,
    spec_to_dict,
)

log = logging.getLogger(__name__)


def job_dispatch_to_node(job: Job, kind: kinds.JobKind, attempt: int) -> Job | None:
    """Place the attempt on a node (or, multi-node, on a group of nodes at once) with
    enough free GPUs and send the launch to each node's queue.

    With no room anywhere the job stays scheduled; the reconciler tries again.
    """
    try:
        spec = spec_from_dict(kind.spec, job.spec)
        gpus = kind.gpus(spec) if kind.gpus else 0
        nodes = kind.nodes(spec) if kind.nodes else 1
    except SpecError as exc:  # a stored spec that cannot run: fail now, never loop (R10)
        return job_transition(job_id=job.pk, to=JobState.FAILED, reason=f"invalid spec: {exc}")
    group = allocation_place(job_id=job.pk, attempt=attempt, gpus=gpus, nodes=nodes)
    if group is None:
        what = f"{nodes} nodes" if nodes > 1 else "a node"
        waiting = f"waiting for {what} with {gpus} free GPU(s)" if gpus else f"waiting for {what}"
        if job.progress_message != waiting:
            Job.objects.filter(pk=job.pk).update(progress_message=waiting)
        return None
    names = ", ".join(a.node.name for a in group)
    Job.objects.filter(pk=job.pk).update(attempt=attempt)
    dispatched = job_transition(
        job_id=job.pk,
        to=JobState.DISPATCHED,
        expect=[JobState.SCHEDULED],
        queue=group[0].node.queue,
        progress_message=f"dispatched to {names}",
    )
    if dispatched is None:  # pragma: no cover - we hold the row lock
        return None
    for message in _node_launch_messages(dispatched, group):
        _enqueue_on_commit(job.pk, *message)
    return dispatched


def _node_launch_messages(job: Job, group: list[Allocation]) -> list[tuple[str, list[Any], str]]:
    """One launch per node of the attempt's group; a multi-node group's launches carry
    the rendezvous: rank 0's address and port, each node's rank, the whole world."""
    kind = kinds.get(job.kind)
    procs: list[int] = []
    if len(group) > 1:
        cpu_procs = 1
        if kind is not None and kind.cpu_procs_per_node is not None:
            cpu_procs = kind.cpu_procs_per_node(spec_from_dict(kind.spec, job.spec))
        procs = [len(a.gpu_indices) or cpu_procs for a in group]
    messages = []
    for allocation in group:
        rendezvous = None
        if len(group) > 1:
            master = group[0]
            rendezvous = Rendezvous(
                master_addr=master.node.address or master.node.hostname or master.node.name,
                # allocation_place gives a multi-node group's rank 0 its port
                master_port=cast(int, master.master_port),
                node_rank=allocation.node_rank,
                hosts=[a.node.name for a in group],
                procs=procs,
            )
        launch = LaunchSpec(
            job_id=job.pk,
            attempt=allocation.attempt,
            kind=job.kind,
            spec=job.spec,
            gpus=list(allocation.gpu_indices),
            node=allocation.node.name,
            checkpoint=job.checkpoint,
            rendezvous=rendezvous,
        )
        messages.append((AGENT_LAUNCH_TASK, [spec_to_dict(launch)], allocation.node.queue))
    return messages


def node_dispatch_messages(job: Job) -> list[tuple[str, list[Any], str]]:
    """The launches that start a dispatched node job's current attempt (sent again when lost)."""
    group = list(
        job.allocations.select_related("node").filter(attempt=job.attempt).order_by("node_rank")
    )
    if not group:  # pragma: no cover - dispatch always records one
        log.error("job %s attempt %s is dispatched without an allocation", job.pk, job.attempt)
        return []
    return _node_launch_messages(job, group)


kinds.register_executor(
    "node", kinds.Executor(dispatch=job_dispatch_to_node, messages=node_dispatch_messages)
)
