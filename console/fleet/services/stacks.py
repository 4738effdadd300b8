"""Asking the agents that run a job attempt for its processes' Python stacks."""

from __future__ import annotations

from django.db import transaction

from console.fleet.models import Allocation
from gpu_agent.spec import AGENT_STACKS_TASK, STACKS_REASON_CHARS


def job_stacks_request(*, job_id: int, attempt: int, reason: str) -> int:
    """Ask the agents that run the attempt to read its processes' Python stacks (they
    come back as a "stacks" record); sent when the transaction commits. Returns the
    number of nodes asked."""
    queues = [
        allocation.node.queue
        for allocation in Allocation.objects.filter(
            job_id=job_id, attempt=attempt, released_at__isnull=True
        ).select_related("node")
    ]
    payload = {"job": job_id, "attempt": attempt, "reason": reason[:STACKS_REASON_CHARS]}

    def send() -> None:
        from workers.celery import app

        for queue in queues:
            # A request that waits longer than this in the queue is of no use any more.
            app.send_task(AGENT_STACKS_TASK, args=[payload], queue=queue, expires=600)

    transaction.on_commit(send)
    return len(queues)
