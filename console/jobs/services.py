"""Every change to a job's state goes through here.

``job_transition`` is the state machine: it checks the move against TRANSITIONS,
applies it as a compare-and-set under a row lock (so two processes racing for the
same job cannot both win), and writes an audit event. A Celery message that is
redelivered or duplicated finds the job no longer in the state it expects, or a
newer ``attempt`` (the fencing token), and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.core.effects import effects
from console.core.errors import Conflict, FieldErrors, Forbidden, InvalidInput, NotFound
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.jobs import kinds
from console.jobs.models import TERMINAL_STATES, Job, JobState
from console.projects.models import Project
from gpu_agent.spec import SpecError, spec_from_dict, spec_to_dict

if TYPE_CHECKING:
    from django.contrib.auth.models import User

log = logging.getLogger(__name__)
S = JobState

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.QUEUED: frozenset({S.AWAITING_APPROVAL, S.SCHEDULED, S.CANCELLED, S.FAILED}),
    S.AWAITING_APPROVAL: frozenset({S.SCHEDULED, S.CANCELLED, S.FAILED}),
    S.SCHEDULED: frozenset({S.DISPATCHED, S.QUEUED, S.CANCELLED, S.FAILED}),
    S.DISPATCHED: frozenset({S.RUNNING, S.QUEUED, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PAUSED, S.QUEUED}),
    S.PAUSED: frozenset({S.QUEUED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
SOURCES: dict[JobState, frozenset[JobState]] = {
    target: frozenset(src for src, targets in TRANSITIONS.items() if target in targets)
    for target in JobState
}
_ACTIVE = frozenset({S.DISPATCHED, S.RUNNING})
# States a job rests in: entering one (or leaving one of _LEFT_BEHIND for a state that is
# not active) replaces the progress line of the state it left (see _settled_message).
_SETTLED = frozenset({*TERMINAL_STATES, S.PAUSED})
# States whose progress line ("dispatched to …", "awaiting approval by …") is wrong once
# the job has left them.
_LEFT_BEHIND = _ACTIVE | _SETTLED | {S.AWAITING_APPROVAL}


def _settled_message(before: str, to: JobState, reason: str) -> str:
    """The progress line of a job coming to rest: what happened, not what it was doing
    ("running on local" stayed beside "failed" and "paused")."""
    if to == S.SUCCEEDED:
        return "done"
    if to == S.FAILED:
        return "failed"  # the reason is the job's error, shown beside it
    if to == S.CANCELLED:
        text = "cancelled"
        if reason:
            text = reason if reason.startswith(("cancelled", "rejected")) else f"{text}: {reason}"
    elif to == S.PAUSED:
        text = f"paused: {reason}" if reason else "paused"
    elif to == S.QUEUED and before == S.PAUSED:
        text = "resumed; waiting to be scheduled"
    elif to == S.QUEUED:
        text = f"queued again: {reason}" if reason else "queued again"
    elif before == S.AWAITING_APPROVAL and to == S.SCHEDULED:
        text = "approved; waiting to start"
    else:
        text = str(to)
    return text[:300]


_STAMP = {
    S.SCHEDULED: "scheduled_at",
    S.DISPATCHED: "dispatched_at",
    S.RUNNING: "started_at",
    S.SUCCEEDED: "finished_at",
    S.FAILED: "finished_at",
    S.CANCELLED: "finished_at",
}


def job_transition(
    *,
    job_id: int,
    to: JobState,
    actor: Actor | None = None,
    expect: Iterable[JobState] | None = None,
    attempt: int | None = None,
    reason: str = "",
    **fields: Any,
) -> Job | None:
    """Move a job to ``to`` if it is in an allowed source state (and at ``attempt``).

    Returns the updated job, or None when the move does not apply (someone else
    got there first, or the state forbids it). Never raises for an illegal move.
    """
    sources = SOURCES[to] if expect is None else SOURCES[to] & frozenset(expect)
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in sources:
            return None
        if attempt is not None and job.attempt != attempt:
            return None
        before = job.state
        updates: dict[str, Any] = {"state": to, "updated_at": now, **fields}
        if "progress_message" not in fields and (
            to in _SETTLED or (before in _LEFT_BEHIND and to not in _ACTIVE)
        ):  # never leave "running on …" or "dispatched to …" beside a state that ended it
            updates["progress_message"] = _settled_message(before, to, reason)
        if to in _STAMP:
            updates[_STAMP[to]] = now
        if to == S.FAILED and reason and "error" not in updates:
            updates["error"] = reason
        changed = Job.objects.filter(pk=job_id, state=before, attempt=job.attempt).update(**updates)
        if not changed:  # pragma: no cover - the row lock makes this unreachable
            return None
        for name, value in updates.items():
            setattr(job, name, value)
        if before in _ACTIVE and to not in _ACTIVE:
            for effect in effects("job_left_active"):  # settings.LIFECYCLE_EFFECTS, in order
                effect(job_id)
        audit_record(
            action=f"job.{to}",
            actor=actor,
            obj=job,
            before={"state": before},
            after={"state": to, **({"reason": reason} if reason else {}), "attempt": job.attempt},
        )
    return job


def _send(task: str, args: list[Any], queue: str) -> None:
    from workers.celery import app

    app.send_task(task, args=args, queue=queue)


def _enqueue_on_commit(job_id: int, task: str, args: list[Any], queue: str) -> None:
    Job.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    transaction.on_commit(lambda: _send(task, args, queue))


# ------------------------------------------------------------------ submission


def job_submit(
    *,
    actor: Actor,
    project: Project,
    kind: str,
    params: dict[str, Any] | None,
    name: str = "",
    not_before: datetime | None = None,
    deadline: datetime | None = None,
    carbon_aware: bool = False,
    interruptible: bool = False,
    expected_seconds: int | None = None,
) -> Job:
    """A job of a generic kind from a member's hand-written spec (the jobs API and the
    job form). A kind with a service of its own is refused, naming its endpoint: only
    that service builds its spec, from ids checked against the project (S14)."""
    job_kind = kinds.get(kind)
    if job_kind is None:
        raise InvalidInput(f"Unknown job kind {kind!r}.")
    if not job_kind.generic:
        audit_record(
            action="job.submit_refused",
            actor=actor,
            obj=project,
            project_id=project.pk,
            after={"kind": kind, "reason": "kind has its own service"},
        )
        raise KindNeedsService(kind=kind, endpoint=job_kind.service_endpoint or "")
    return job_create(
        actor=actor,
        project=project,
        kind=kind,
        params=params,
        name=name,
        not_before=not_before,
        deadline=deadline,
        carbon_aware=carbon_aware,
        interruptible=interruptible,
        expected_seconds=expected_seconds,
    )


def job_create(
    *,
    actor: Actor,
    project: Project,
    kind: str,
    params: dict[str, Any] | None,
    name: str = "",
    not_before: datetime | None = None,
    deadline: datetime | None = None,
    carbon_aware: bool = False,
    interruptible: bool = False,
    expected_seconds: int | None = None,
) -> Job:
    """Validate the spec against its kind, store the job queued, schedule it on commit.

    Called by ``job_submit`` for generic kinds, and by the service that owns a kind
    with a service of its own, once it has built the spec from checked ids. Never
    from an interface with a member's spec.

    ``carbon_aware``: the scheduler picks the start with the lowest forecast emissions
    before ``deadline`` (console.carbon); ``interruptible`` lets it split the job over
    low-carbon windows (the kind must support pausing)."""
    job_kind = kinds.get(kind)
    if job_kind is None:
        raise InvalidInput(f"Unknown job kind {kind!r}.")
    if not has_cap(actor, job_kind.submit_cap):
        raise Forbidden(f"Submitting {kind} needs the '{job_kind.submit_cap.value}' permission.")
    check_timing(
        not_before=not_before,
        deadline=deadline,
        expected_seconds=expected_seconds,
        interruptible=interruptible and carbon_aware,
        kind=job_kind,
    )
    try:
        spec = spec_from_dict(job_kind.spec, params or {})
    except SpecError as exc:
        raise SpecInvalid(exc.errors) from None
    with transaction.atomic():
        job = Job.objects.create(
            project=project,
            kind=kind,
            name=name or job_kind.title,
            spec=spec_to_dict(spec),
            requested_by=cast("User", actor),  # capabilities checked: not anonymous
            queue=job_kind.queue,
            requires_approval=job_kind.requires_approval,
            max_attempts=job_kind.max_attempts,
            not_before=not_before,
            deadline=deadline,
            carbon_aware=carbon_aware,
            carbon_interruptible=interruptible and carbon_aware,
            expected_seconds=expected_seconds,
        )
        audit_record(
            action="job.submit", actor=actor, obj=job, after={"kind": kind, "spec": job.spec}
        )
        _enqueue_on_commit(job.pk, "jobs.schedule", [job.pk], "scheduler")
    return job


def check_timing(
    *,
    not_before: datetime | None,
    deadline: datetime | None,
    expected_seconds: int | None,
    interruptible: bool = False,
    kind: kinds.JobKind | None = None,
    now: datetime | None = None,
) -> None:
    """Times that cannot work are refused with a clear error (all compared in UTC),
    keyed by the field to change."""
    now = now or timezone.now()

    def refuse(field: str, message: str) -> FieldErrors:
        return FieldErrors({field: [message]}, message)

    for name, value in (("not_before", not_before), ("deadline", deadline)):
        if value is not None and timezone.is_naive(value):
            raise refuse(name, f"{name} needs a time zone (e.g. 2026-12-01T02:00:00Z).")
    if expected_seconds is not None and not 60 <= expected_seconds <= 90 * 24 * 3600:
        raise refuse(
            "expected_seconds", "The expected duration must be between 1 minute and 90 days."
        )
    if not_before and deadline and not_before >= deadline:
        raise refuse("not_before", "not_before is after the deadline.")
    if deadline is not None:
        if deadline <= now:
            raise refuse("deadline", "The deadline has passed.")
        earliest = max(now, not_before) if not_before else now
        if expected_seconds and earliest + timedelta(seconds=expected_seconds) > deadline:
            hours = expected_seconds / 3600
            raise refuse(
                "expected_seconds",
                f"The deadline is too near: the job is expected to take {hours:.1f} h and "
                f"cannot finish between {earliest:%Y-%m-%d %H:%M} UTC and the deadline.",
            )
    if interruptible and kind is not None and not kind.interruptible:
        raise refuse(
            "interruptible", f"{kind.name} jobs cannot be paused, so they are not interruptible."
        )


class KindNeedsService(InvalidInput):
    def __init__(self, *, kind: str, endpoint: str) -> None:
        super().__init__(
            f"{kind} jobs are created only through their own service: use {endpoint}. "
            "The generic jobs endpoint takes generic kinds only (see /api/v1/job-kinds/)."
        )
        self.kind = kind
        self.endpoint = endpoint


class SpecInvalid(FieldErrors):
    """A job's spec that its kind refuses; ``errors`` is keyed by the spec's fields."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors, "The job's parameters are invalid.")


# ------------------------------------------------------------------ scheduling and dispatch


def job_schedule(*, job_id: int) -> Job | None:
    """queued → awaiting approval (when a policy requires it) or scheduled; dispatch if due.

    Deferral (not_before) lives in the database, not in a Celery ETA (R3): the
    reconciler dispatches scheduled jobs when their time comes.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.state != S.QUEUED:
        return None
    if job.requires_approval and job.approved_at is None:
        return job_transition(job_id=job_id, to=S.AWAITING_APPROVAL, expect=[S.QUEUED])
    with transaction.atomic():
        locked = Job.objects.select_for_update().filter(pk=job_id, state=S.QUEUED).first()
        if locked is None:
            return None
        for effect in effects("before_schedule"):  # a carbon-aware job's plan sets not_before
            try:
                with transaction.atomic():
                    effect(locked)
            except Exception:  # a planner's failure never keeps a job from running
                log.exception("before_schedule effect %r failed for job %s", effect, job_id)
        scheduled = job_transition(job_id=job_id, to=S.SCHEDULED, expect=[S.QUEUED])
    if scheduled is not None:
        job_dispatch_if_due(job_id=job_id)
    return scheduled


def job_dispatch_if_due(*, job_id: int, now: datetime | None = None) -> Job | None:
    """scheduled → dispatched with a new attempt (fencing token); send it on commit."""
    now = now or timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, state=S.SCHEDULED).first()
        if job is None or (job.not_before and job.not_before > now):
            return None
        attempt = job.attempt + 1
        kind = kinds.get(job.kind)
        if kind is not None and kind.runs_on != "worker":  # a node's agent: console.fleet
            return kinds.executor(kind.runs_on).dispatch(job, kind, attempt)
        Job.objects.filter(pk=job_id).update(attempt=attempt)
        dispatched = job_transition(job_id=job_id, to=S.DISPATCHED, expect=[S.SCHEDULED])
        if dispatched is None:  # pragma: no cover - we hold the row lock
            return None
        _enqueue_on_commit(job_id, "jobs.execute", [job_id, attempt], job.queue)
    return dispatched


def _dispatch_messages(job: Job) -> list[tuple[str, list[Any], str]]:
    """The messages that start the job's current attempt (sent again when lost)."""
    kind = kinds.get(job.kind)
    if kind is not None and kind.runs_on != "worker":
        return kinds.executor(kind.runs_on).messages(job)
    return [("jobs.execute", [job.pk, job.attempt], job.queue)]


# ------------------------------------------------------------------ user actions


def _job_for_action(job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def job_cancel(*, actor: Actor, job_id: int) -> Job:
    job = _job_for_action(job_id)
    if not (has_cap(actor, Cap.JOBS_MANAGE) or job.requested_by_id == getattr(actor, "pk", None)):
        raise Forbidden("Cancelling jobs needs the 'jobs.manage' permission.")
    done = job_transition(job_id=job_id, to=S.CANCELLED, actor=actor, reason="cancelled by user")
    if done is None:
        raise Conflict(f"Job {job_id} is {_job_for_action(job_id).state}; it cannot be cancelled.")
    return done


def job_pause(*, actor: Actor, job_id: int) -> Job:
    job = _job_for_action(job_id)
    if not has_cap(actor, Cap.JOBS_MANAGE):
        raise Forbidden("Pausing jobs needs the 'jobs.manage' permission.")
    kind = kinds.get(job.kind)
    if kind is None or not kind.interruptible:
        raise Conflict(f"{job.kind} jobs cannot be paused.")
    done = job_transition(job_id=job_id, to=S.PAUSED, actor=actor, expect=[S.RUNNING])
    if done is None:
        raise Conflict(
            f"Job {job_id} is {_job_for_action(job_id).state}; only a running job can be paused."
        )
    return done


def job_resume(*, actor: Actor, job_id: int) -> Job:
    if not has_cap(actor, Cap.JOBS_MANAGE):
        raise Forbidden("Resuming jobs needs the 'jobs.manage' permission.")
    with transaction.atomic():
        done = job_transition(job_id=job_id, to=S.QUEUED, actor=actor, expect=[S.PAUSED])
        if done is None:
            raise Conflict(
                f"Job {job_id} is {_job_for_action(job_id).state}; "
                "only a paused job can be resumed."
            )
        _enqueue_on_commit(job_id, "jobs.schedule", [job_id], "scheduler")
    return done


def job_run_now(*, actor: Actor, job: Job) -> Job:
    """The user's override of a carbon-aware job's plan (console.carbon): start as soon as
    capacity allows, ignoring the plan."""
    if not (has_cap(actor, Cap.JOBS_MANAGE) or job.requested_by_id == getattr(actor, "pk", None)):
        raise Forbidden("Starting a job now needs the 'jobs.manage' permission or your own job.")
    if not job.carbon_aware:
        raise InvalidInput("This job is not carbon-aware; it starts when capacity allows.")
    now = timezone.now()
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state not in (JobState.QUEUED, JobState.SCHEDULED, JobState.PAUSED,
                                JobState.AWAITING_APPROVAL):  # fmt: skip
            raise Conflict(f"Job {job.pk} is {locked.state}; it is already running or over.")
        plan_ = dict(locked.carbon_plan or {})
        plan_.update(overridden=True, overridden_at=now.isoformat(),
                     overridden_by=getattr(actor, "username", ""))  # fmt: skip
        Job.objects.filter(pk=job.pk).update(carbon_plan=plan_, not_before=now)
        audit_record(action="job.run_now", actor=actor, obj=locked, after={"plan": plan_})
        if locked.state == JobState.PAUSED and plan_.get("paused_by_scheduler"):
            job_transition(job_id=job.pk, to=JobState.QUEUED, actor=actor, expect=[JobState.PAUSED])
            _enqueue_on_commit(job.pk, "jobs.schedule", [job.pk], "scheduler")
    if locked.state == JobState.SCHEDULED:
        job_dispatch_if_due(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def _reviewer_check(actor: Actor, job: Job, verb: str) -> None:
    """Four-eyes: the requester may not decide on their own job (refused and audited
    whatever their role, before anything else), and a decision needs 'review'."""
    if job.requested_by_id == getattr(actor, "pk", None):
        audit_record(action="job.self_approval_refused", actor=actor, obj=job)
        raise Forbidden(f"You cannot {verb} your own job.")
    if not has_cap(actor, Cap.REVIEW):
        doing = {"approve": "Approving", "reject": "Rejecting"}[verb]
        raise Forbidden(f"{doing} needs the 'review' permission.")


def _record_decision(job: Job, *, actor: Actor, approved: bool, comment: str) -> None:
    """What the job's kind records beside the job row (a run's RunApproval), in the
    caller's transaction: called explicitly, never through a hook."""
    kind = kinds.get(job.kind)
    if kind is not None and kind.approval_record is not None:
        kind.approval_record(job=job, actor=actor, approved=approved, comment=comment)


def job_approve(*, actor: Actor, job_id: int, comment: str = "") -> Job:
    """Four-eyes: a reviewer other than the requester approves; the job is scheduled.

    The one decision for a held job, whichever path asks (jobs API and page, run page
    and API, admin action): the job's move and its kind's approval record (a run's
    RunApproval, decided by this actor) commit together under the job's row lock, so
    of two decisions at once exactly one wins and the other is a Conflict (S2)."""
    job = _job_for_action(job_id)
    _reviewer_check(actor, job, "approve")
    with transaction.atomic():
        done = job_transition(
            job_id=job_id,
            to=S.SCHEDULED,
            actor=actor,
            expect=[S.AWAITING_APPROVAL],
            approved_by=actor,
            approved_at=timezone.now(),
        )
        if done is None:
            raise Conflict(
                f"Job {job_id} is {_job_for_action(job_id).state}; it is not awaiting approval."
            )
        _record_decision(done, actor=actor, approved=True, comment=comment)
    job_dispatch_if_due(job_id=job_id)
    return done


def job_reject(*, actor: Actor, job_id: int, reason: str = "") -> Job:
    """Four-eyes, as job_approve: the job is cancelled and its kind's approval record
    (a run's RunApproval) rejected with the reason, in one transaction."""
    job = _job_for_action(job_id)
    _reviewer_check(actor, job, "reject")
    with transaction.atomic():
        done = job_transition(
            job_id=job_id,
            to=S.CANCELLED,
            actor=actor,
            expect=[S.AWAITING_APPROVAL],
            reason=f"rejected: {reason}" if reason else "rejected",
        )
        if done is None:
            raise Conflict(
                f"Job {job_id} is {_job_for_action(job_id).state}; it is not awaiting approval."
            )
        _record_decision(done, actor=actor, approved=False, comment=reason)
    return done


# ------------------------------------------------------------------ executor side


def job_requeue(
    *, job_id: int, attempt: int | None, reason: str, delay_seconds: float = 0
) -> Job | None:
    """Send a job back to the queue (worker shut down, worker lost, transient error).

    After max_attempts it fails instead, with the reason.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.state in TERMINAL_STATES:
        return None
    if job.attempt >= job.max_attempts:
        return job_transition(
            job_id=job_id,
            to=S.FAILED,
            attempt=attempt,
            expect=[S.RUNNING, S.DISPATCHED, S.SCHEDULED],
            reason=f"{reason}; gave up after {job.attempt} attempts",
        )
    with transaction.atomic():
        not_before = (
            timezone.now() + timedelta(seconds=delay_seconds) if delay_seconds else job.not_before
        )
        done = job_transition(
            job_id=job_id,
            to=S.QUEUED,
            attempt=attempt,
            expect=[S.RUNNING, S.DISPATCHED, S.SCHEDULED],
            reason=reason,
            not_before=not_before,
            progress_message=f"requeued: {reason}"[:300],
        )
        if done is not None:
            _enqueue_on_commit(job_id, "jobs.schedule", [job_id], "scheduler")
    return done


@dataclass
class ReconcileReport:
    rescheduled: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {k: v for k, v in self.__dict__.items() if v}


def job_reconcile(
    *,
    now: datetime | None = None,
    reenqueue_after: float | None = None,
    heartbeat_timeout: float | None = None,
) -> ReconcileReport:
    """Repair what the broker lost, from the database's truth (runs on beat).

    - queued jobs whose schedule message is older than ``reenqueue_after``: sent again (R4);
    - scheduled jobs whose not_before has come: dispatched (R3);
    - dispatched jobs nobody claimed within ``reenqueue_after``: their execute message sent again;
    - running jobs silent for ``heartbeat_timeout``: requeued or failed (R1).
    A duplicate message is harmless: the claim's compare-and-set lets one through.
    """
    now = now or timezone.now()
    reenqueue = timedelta(
        seconds=reenqueue_after
        if reenqueue_after is not None
        else settings.FORGE_JOB_REENQUEUE_AFTER
    )
    silence = timedelta(
        seconds=heartbeat_timeout
        if heartbeat_timeout is not None
        else settings.FORGE_JOB_HEARTBEAT_TIMEOUT
    )
    report = ReconcileReport()
    stale = now - reenqueue
    for job_id in Job.objects.filter(state=S.QUEUED, enqueued_at__lt=stale).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            if Job.objects.filter(pk=job_id, state=S.QUEUED, enqueued_at__lt=stale).exists():
                _enqueue_on_commit(job_id, "jobs.schedule", [job_id], "scheduler")
                report.rescheduled.append(job_id)
    due = (
        Job.objects.filter(state=S.SCHEDULED)
        .exclude(not_before__gt=now)
        .values_list("pk", flat=True)
    )
    for job_id in due:
        if job_dispatch_if_due(job_id=job_id, now=now) is not None:
            report.dispatched.append(job_id)
    dispatched = Job.objects.filter(state=S.DISPATCHED, enqueued_at__lt=stale)
    for job_id in dispatched.values_list("pk", flat=True):
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id, state=S.DISPATCHED).first()
            messages = _dispatch_messages(job) if job is not None else []
            for message in messages:
                _enqueue_on_commit(job_id, *message)
            if messages:
                report.resent.append(job_id)
    for job_id, attempt in Job.objects.filter(
        state=S.RUNNING, heartbeat_at__lt=now - silence
    ).values_list("pk", "attempt"):
        seconds = int(silence.total_seconds())
        if (
            job_requeue(
                job_id=job_id, attempt=attempt, reason=f"executor silent for over {seconds} s"
            )
            is not None
        ):
            report.lost.append(job_id)
    if report.as_dict():
        log.info("reconcile: %s", report.as_dict())
    return report
