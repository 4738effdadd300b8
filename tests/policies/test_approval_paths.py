"""Issue 14, item 5: approvals that disagree. A held run is decided once, whichever path
decides (jobs API, job page, run page, runs API, admin action): the job's move and the
run's RunApproval commit together, with the deciding reviewer; the launcher is refused
on every path, with an audit event; two decisions at once leave one final state."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from console.audit.models import AuditEvent
from console.core.errors import Conflict
from console.jobs import services as job_services
from console.jobs.models import Job, JobState
from console.jobs.services import job_schedule
from console.policies.models import Decision, RunApproval
from console.runs import services
from console.runs.models import Run
from tests.policies.conftest import launch

SELF = "job.self_approval_refused"
DECIDED = (JobState.SCHEDULED, JobState.DISPATCHED)


def _held(personas, corpus, user=None) -> Run:
    run = launch(user or personas.ml_engineer, personas.project, corpus)
    job_schedule(job_id=run.job_id)  # what the scheduler does with the on-commit message
    run = Run.objects.get(pk=run.pk)
    assert run.job.state == JobState.AWAITING_APPROVAL
    return run


def _staff(user):
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def _admin_post(client, action: str, run: Run):
    approval = RunApproval.objects.get(run=run)
    return client.post(
        "/admin/policies/runapproval/", {"action": action, "_selected_action": [approval.pk]}
    )


# Each path: (how it approves, how it rejects, the status code of a success). A path
# gets (client, api(user), run, comment) and returns the response.
PATHS = {
    "jobs api": (
        lambda c, a, run, note: a.post(f"/api/v1/jobs/{run.job_id}/approve/"),
        lambda c, a, run, note: a.post(
            f"/api/v1/jobs/{run.job_id}/reject/", {"reason": note}, format="json"
        ),
        200,
    ),
    "job page": (
        lambda c, a, run, note: c.post(f"/jobs/{run.job_id}/approve/"),
        lambda c, a, run, note: c.post(f"/jobs/{run.job_id}/reject/"),
        302,
    ),
    "run page": (
        lambda c, a, run, note: c.post(f"/runs/{run.pk}/approve/", {"comment": note}),
        lambda c, a, run, note: c.post(f"/runs/{run.pk}/reject/", {"comment": note}),
        302,
    ),
    "runs api": (
        lambda c, a, run, note: a.post(
            f"/api/v1/runs/{run.pk}/approve/", {"comment": note}, format="json"
        ),
        lambda c, a, run, note: a.post(
            f"/api/v1/runs/{run.pk}/reject/", {"comment": note}, format="json"
        ),
        200,
    ),
    "admin action": (
        lambda c, a, run, note: _admin_post(c, "approve_runs", run),
        lambda c, a, run, note: _admin_post(c, "reject_runs", run),
        302,
    ),
}
# Which paths carry a comment through to the RunApproval.
COMMENTED = {"approve": {"run page", "runs api"}, "reject": {"jobs api", "run page", "runs api"}}


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_every_path_decides_the_job_and_its_run_approval_together(
    client, api, personas, corpus, policy, path, verb
):
    reviewer = _staff(personas.reviewer) if path == "admin action" else personas.reviewer
    run = _held(personas, corpus)
    client.force_login(reviewer)
    approve, reject, ok = PATHS[path]
    send = approve if verb == "approve" else reject
    response = send(client, api(reviewer), run, "looked at it")
    assert response.status_code == ok, response.content[:500]
    job = Job.objects.get(pk=run.job_id)
    approval = RunApproval.objects.get(run=run)
    if verb == "approve":
        assert job.state in DECIDED and job.approved_by == reviewer
        assert approval.decision == Decision.APPROVED
    else:
        assert job.state == JobState.CANCELLED
        assert approval.decision == Decision.REJECTED
    assert approval.decided_by == reviewer and approval.decided_at is not None
    expected = "looked at it" if path in COMMENTED[verb] else ""
    assert approval.comment == expected
    # The decision is final on every path, including the others.
    for other in PATHS.values():
        again = other[0](client, api(reviewer), run, "")
        assert again.status_code in (302, 409), again.content[:300]
    assert RunApproval.objects.get(run=run).decision == approval.decision
    assert Job.objects.get(pk=run.job_id).state == job.state


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_the_launcher_is_refused_on_every_path_and_audited(
    client, api, personas, corpus, policy, path, verb
):
    launcher = _staff(personas.admin)  # holds 'review' and the admin panel: only 4-eyes stops it
    run = _held(personas, corpus, user=launcher)
    client.force_login(launcher)
    approve, reject, _ = PATHS[path]
    before = AuditEvent.objects.filter(action=SELF, actor=launcher).count()
    response = (approve if verb == "approve" else reject)(client, api(launcher), run, "mine")
    assert response.status_code == 403, response.content[:300]
    refusals = AuditEvent.objects.filter(action=SELF, actor=launcher)
    assert refusals.count() == before + 1
    assert refusals.first().object_id == str(run.job_id)
    assert Job.objects.get(pk=run.job_id).state == JobState.AWAITING_APPROVAL
    approval = RunApproval.objects.get(run=run)
    assert approval.decision == Decision.PENDING and approval.decided_by is None


@pytest.mark.django_db
def test_a_decision_without_its_run_approval_rolls_back(personas, corpus, policy, monkeypatch):
    """The RunApproval is written inside the job's transaction: when writing it fails,
    the job is not moved either (no half decision)."""
    run = _held(personas, corpus)

    def broken(**kwargs):
        raise RuntimeError("the approval record could not be written")

    monkeypatch.setattr(RunApproval.objects, "filter", lambda *a, **k: broken())
    with pytest.raises(RuntimeError):
        job_services.job_approve(actor=personas.reviewer, job_id=run.job_id)
    monkeypatch.undo()
    assert Job.objects.get(pk=run.job_id).state == JobState.AWAITING_APPROVAL
    assert RunApproval.objects.get(run=run).decision == Decision.PENDING
    assert not AuditEvent.objects.filter(action="job.scheduled", object_id=str(run.job_id)).exists()


@pytest.mark.django_db(transaction=True)  # autocommit outside, as in production
def test_the_approval_record_refuses_to_run_outside_a_decision(personas, corpus, policy):
    run = _held(personas, corpus)
    with pytest.raises(RuntimeError, match="inside job_approve"):
        services.run_approval_decide(job=run.job, actor=personas.reviewer, approved=True)
    assert RunApproval.objects.get(run=run).decision == Decision.PENDING


# ------------------------------------------------------------------ two at once (PostgreSQL)


def _race(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = []

    def run(call) -> None:
        try:
            barrier.wait(timeout=10)
            try:
                results.append(call())
            except Conflict as exc:
                results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == len(calls)
    return results


@pytest.fixture
def widened(monkeypatch):
    """Hold the first decision, after its job moved and before it commits, until the
    other decision has started too (or 1 s passed): without the job's row lock both
    would find the job awaiting approval; with it, the second waits at the lock.
    Returns the switch that turns it on (after the run is held)."""
    arrived = threading.Condition()
    count = [0]
    real = job_services.job_transition

    def transition(**kwargs):
        with arrived:
            count[0] += 1
            arrived.notify_all()
        done = real(**kwargs)
        with arrived:
            arrived.wait_for(lambda: count[0] >= 2, timeout=1.0)
        return done

    return lambda: monkeypatch.setattr(job_services, "job_transition", transition)


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_decisions_at_once_leave_one_final_state(
    postgres_only, personas, corpus, policy, transactional_db, widened, second
):
    run = _held(personas, corpus)
    widened()
    first = lambda: job_services.job_approve(actor=personas.reviewer, job_id=run.job_id)  # noqa: E731
    other = (
        (lambda: services.run_approve(actor=personas.admin, run_id=run.pk, comment="me too"))
        if second == "approve"
        else (lambda: services.run_reject(actor=personas.admin, run_id=run.pk, comment="no"))
    )
    results = _race([first, other])
    assert sum(isinstance(r, Conflict) for r in results) == 1
    job = Job.objects.get(pk=run.job_id)
    approval = RunApproval.objects.get(run=run)
    if job.state == JobState.CANCELLED:
        assert approval.decision == Decision.REJECTED and approval.decided_by == personas.admin
    else:
        assert job.state in DECIDED
        assert approval.decision == Decision.APPROVED
        assert approval.decided_by == job.approved_by
    moves = AuditEvent.objects.filter(
        object_id=str(job.pk), action__in=["job.scheduled", "job.cancelled"]
    )
    assert moves.count() == 1
