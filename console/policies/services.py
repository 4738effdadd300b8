"""Run approval writes.

One decision, one transaction: approving or rejecting a held run is
console.jobs.services' job_approve / job_reject (the four-eyes rule, the job's move
under its row lock), whichever path asks: the jobs API and page, the run page and API
(run_approve / run_reject below), the admin action. The train.run kind names
``run_approval_decide`` as its approval record, so job_approve / job_reject write the
run's RunApproval inside the same transaction as the job's move: the two never
disagree, and of two decisions at once exactly one is recorded (S2)."""

from __future__ import annotations

from typing import cast

from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.core.errors import Conflict, NotFound
from console.core.types import Actor
from console.jobs import services as job_services
from console.jobs.models import Job
from console.policies.estimate import RunEstimate
from console.policies.models import Decision, RunApproval
from console.runs.models import Run


def run_approval_hold(*, run: Run, job: Job, reasons: list[str], estimate: RunEstimate) -> None:
    """Mark the run's job as needing approval (call inside run_create's transaction,
    before the schedule message goes out on commit) and record why."""
    message = ("awaiting approval by a reviewer: " + "; ".join(reasons))[:300]
    Job.objects.filter(pk=job.pk).update(requires_approval=True, progress_message=message)
    job.requires_approval, job.progress_message = True, message
    RunApproval.objects.create(run=run, reasons=reasons, estimate=estimate.as_dict())
    audit_record(action="run.approval_required", actor=None, obj=run, after={"reasons": reasons})


def _run_job(run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound("No such run.")
    if run.job_id is None:
        raise Conflict("This run has no job.")
    return run


def run_approval_decide(*, job: Job, actor: Actor, approved: bool, comment: str = "") -> None:
    """Record a reviewer's decision on the run's pending approval: train.run's approval
    record, called by job_approve / job_reject inside the transaction that moves the
    job (never on its own: the job's move is the decision)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("run_approval_decide runs inside job_approve / job_reject")
    RunApproval.objects.filter(run__job_id=job.pk, decision=Decision.PENDING).update(
        decision=Decision.APPROVED if approved else Decision.REJECTED,
        decided_by=actor,
        decided_at=timezone.now(),
        comment=comment[:2000],
    )


def run_approve(*, actor: Actor, run_id: int, comment: str = "") -> Run:
    """The run page's, the runs API's and the admin's approval: the job's decision."""
    run = _run_job(run_id)
    job_services.job_approve(actor=actor, job_id=cast("int", run.job_id), comment=comment)
    return run


def run_reject(*, actor: Actor, run_id: int, comment: str = "") -> Run:
    """The run page's, the runs API's and the admin's rejection: the job's decision."""
    run = _run_job(run_id)
    job_services.job_reject(actor=actor, job_id=cast("int", run.job_id), reason=comment)
    return run
