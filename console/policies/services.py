"""Run approval writes. Approving and rejecting go through console.jobs.services'
job_approve / job_reject (the four-eyes rule lives there: a reviewer, never the
launcher); these wrappers add the decision to the run's RunApproval record."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from console.accounts.roles import Cap, has_cap
from console.audit.services import audit_record
from console.core.errors import Conflict, Forbidden, NotFound
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


def _decide(run: Run, actor: Any, decision: Decision, comment: str) -> None:
    RunApproval.objects.filter(run=run, decision=Decision.PENDING).update(
        decision=decision, decided_by=actor, decided_at=timezone.now(), comment=comment[:2000]
    )


def _is_launcher(run: Run, actor: Any) -> bool:
    return run.job is not None and run.job.requested_by_id == getattr(actor, "pk", None)


def run_approve(*, actor: Any, run_id: int, comment: str = "") -> Run:
    run = _run_job(run_id)
    if _is_launcher(run, actor) and not has_cap(actor, Cap.REVIEW):
        # job_approve refuses for the missing capability first; the attempt is still
        # a self-approval, so it is audited as one.
        audit_record(action="job.self_approval_refused", actor=actor, obj=run.job)
        raise Forbidden("You cannot approve your own run.")
    job_services.job_approve(actor=actor, job_id=run.job_id)
    _decide(run, actor, Decision.APPROVED, comment)
    return run


def run_reject(*, actor: Any, run_id: int, comment: str = "") -> Run:
    run = _run_job(run_id)
    try:
        job_services.job_reject(actor=actor, job_id=run.job_id, reason=comment)
    except Forbidden:
        if _is_launcher(run, actor):
            audit_record(action="job.self_approval_refused", actor=actor, obj=run.job)
        raise
    _decide(run, actor, Decision.REJECTED, comment)
    return run
