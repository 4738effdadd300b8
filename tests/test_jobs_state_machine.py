"""The job state machine: legal moves, refused moves, claims that happen once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from console.audit.models import AuditEvent
from console.core.errors import Conflict, Forbidden, InvalidInput
from console.jobs import execution, services
from console.jobs.models import Job, JobState
from tests.factories import JobFactory

S = JobState
pytestmark = pytest.mark.django_db


def test_every_state_has_a_transition_entry_and_terminals_are_final():
    assert set(services.TRANSITIONS) == set(JobState)
    for terminal in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        assert services.TRANSITIONS[terminal] == frozenset()


@pytest.mark.parametrize("source", list(JobState))
@pytest.mark.parametrize("target", list(JobState))
def test_transition_table_is_enforced(source, target):
    job = JobFactory(state=source)
    moved = services.job_transition(job_id=job.pk, to=target)
    job.refresh_from_db()
    if target in services.TRANSITIONS[source]:
        assert moved is not None and job.state == target
        assert AuditEvent.objects.filter(action=f"job.{target}", object_id=str(job.pk)).exists()
    else:
        assert moved is None and job.state == source


def test_submit_validates_spec_and_stores_exactly_what_runs(personas):
    job = services.job_submit(
        actor=personas.ml_engineer,
        project=personas.project,
        kind="demo.count",
        params={"steps": 4, "step_seconds": 0},
    )
    assert job.state == S.QUEUED
    assert job.spec == {"steps": 4, "step_seconds": 0.0, "fail_at_step": None}
    assert job.queue == "pipelines"
    assert AuditEvent.objects.filter(action="job.submit", object_id=str(job.pk)).exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"steps": "ten"}, "steps"),
        ({"steps": 0}, "steps"),
        ({"steps": 5, "fail_at_step": 9}, "fail_at_step"),
        ({"stepz": 5}, "stepz"),
        ({"steps": True}, "steps"),
    ],
)
def test_bad_spec_fails_at_submission_with_field_errors(personas, params, field):
    with pytest.raises(services.SpecInvalid) as caught:
        services.job_submit(
            actor=personas.ml_engineer, project=personas.project, kind="demo.count", params=params
        )
    assert field in caught.value.errors
    assert not Job.objects.exists()


def test_unknown_kind_and_missing_permission(personas):
    with pytest.raises(InvalidInput):
        services.job_submit(
            actor=personas.ml_engineer, project=personas.project, kind="nope", params={}
        )
    with pytest.raises(Forbidden):
        services.job_submit(
            actor=personas.viewer, project=personas.project, kind="demo.count", params={}
        )


def test_schedule_then_dispatch_gives_a_new_attempt():
    job = JobFactory()
    services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.attempt) == (S.DISPATCHED, 1)
    assert job.scheduled_at and job.dispatched_at


def test_not_before_defers_in_the_database_not_in_the_broker():
    later = timezone.now() + timedelta(hours=2)
    job = JobFactory(not_before=later)
    services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == S.SCHEDULED
    services.job_reconcile(now=later - timedelta(minutes=1))
    job.refresh_from_db()
    assert job.state == S.SCHEDULED
    report = services.job_reconcile(now=later + timedelta(seconds=1))
    job.refresh_from_db()
    assert job.state == S.DISPATCHED and report.dispatched == [job.pk]


def test_claim_happens_once_and_stale_attempts_are_fenced():
    job = JobFactory()
    services.job_schedule(job_id=job.pk)
    assert execution.job_claim(job_id=job.pk, attempt=1) is not None
    assert execution.job_claim(job_id=job.pk, attempt=1) is None  # duplicate message
    assert execution.job_claim(job_id=job.pk, attempt=0) is None  # stale lease


def test_duplicate_execute_message_runs_the_job_once():
    job = JobFactory(spec={"steps": 3, "step_seconds": 0.0, "fail_at_step": None})
    services.job_schedule(job_id=job.pk)
    assert execution.job_execute(job_id=job.pk, attempt=1) == "succeeded"
    assert execution.job_execute(job_id=job.pk, attempt=1).startswith("not claimed")
    job.refresh_from_db()
    assert job.state == S.SUCCEEDED and job.result["steps"] == 3 and job.progress == 100
    assert AuditEvent.objects.filter(action="job.running", object_id=str(job.pk)).count() == 1


def test_bad_config_fails_at_once_without_retry():
    job = JobFactory(spec={"steps": 3, "step_seconds": 0.0, "fail_at_step": 2})
    services.job_schedule(job_id=job.pk)
    assert execution.job_execute(job_id=job.pk, attempt=1) == "failed"
    job.refresh_from_db()
    assert job.state == S.FAILED and "fail_at_step" in job.error and job.attempt == 1


def test_corrupt_spec_in_database_fails_with_reason():
    job = JobFactory(spec={"steps": "many"})
    services.job_schedule(job_id=job.pk)
    execution.job_execute(job_id=job.pk, attempt=1)
    job.refresh_from_db()
    assert job.state == S.FAILED and "steps" in job.error


def test_cancel_rules(personas):
    job = JobFactory(project=personas.project, requested_by=personas.ml_engineer)
    with pytest.raises(Forbidden):
        services.job_cancel(actor=personas.viewer, job_id=job.pk)
    services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)
    with pytest.raises(Conflict):
        services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)


def test_pause_and_resume_from_checkpoint(personas):
    job = JobFactory(
        project=personas.project, spec={"steps": 5, "step_seconds": 0.0, "fail_at_step": None}
    )
    services.job_schedule(job_id=job.pk)
    execution.job_claim(job_id=job.pk, attempt=1)
    Job.objects.filter(pk=job.pk).update(checkpoint={"step": 3, "total": 1.0})
    services.job_pause(actor=personas.ml_engineer, job_id=job.pk)
    with pytest.raises(Conflict):
        services.job_pause(actor=personas.ml_engineer, job_id=job.pk)
    services.job_resume(actor=personas.ml_engineer, job_id=job.pk)
    services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.attempt) == (S.DISPATCHED, 2)
    assert execution.job_execute(job_id=job.pk, attempt=2) == "succeeded"
    job.refresh_from_db()
    assert job.result["steps"] == 5
    assert "resuming from step 3" in job.log_tail


def test_cancel_stops_a_running_handler_at_its_next_report(personas):
    job = JobFactory(project=personas.project)
    services.job_schedule(job_id=job.pk)
    claimed = execution.job_claim(job_id=job.pk, attempt=1)
    ctx = execution.JobContext(claimed)
    ctx.progress(10, "working")
    services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)
    with pytest.raises(execution.JobInterrupted):
        ctx.progress(20, "still working")
    job.refresh_from_db()
    assert job.state == S.CANCELLED and job.progress == 10


def test_approval_is_four_eyes(personas):
    job = JobFactory(
        project=personas.project, requested_by=personas.reviewer, requires_approval=True
    )
    services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == S.AWAITING_APPROVAL
    with pytest.raises(Forbidden):
        services.job_approve(actor=personas.reviewer, job_id=job.pk)  # own job
    assert AuditEvent.objects.filter(action="job.self_approval_refused").exists()
    with pytest.raises(Forbidden):
        services.job_approve(actor=personas.ml_engineer, job_id=job.pk)  # not a reviewer
    services.job_approve(actor=personas.admin, job_id=job.pk)
    job.refresh_from_db()
    assert job.state == S.DISPATCHED and job.approved_by == personas.admin
    with pytest.raises(Conflict):
        services.job_reject(actor=personas.admin, job_id=job.pk)  # replay after decision


def test_reconciler_requeues_silent_running_jobs_then_gives_up():
    job = JobFactory(max_attempts=2)
    services.job_schedule(job_id=job.pk)
    execution.job_claim(job_id=job.pk, attempt=1)
    long_ago = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    report = services.job_reconcile(heartbeat_timeout=60)
    job.refresh_from_db()
    assert report.lost == [job.pk] and job.state == S.QUEUED
    services.job_schedule(job_id=job.pk)
    execution.job_claim(job_id=job.pk, attempt=2)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    services.job_reconcile(heartbeat_timeout=60)
    job.refresh_from_db()
    assert job.state == S.FAILED and "gave up after 2 attempts" in job.error


def test_reconciler_resends_lost_messages(monkeypatch):
    sent = []
    monkeypatch.setattr(
        services, "_send", lambda task, args, queue: sent.append((task, args, queue))
    )
    queued = JobFactory()
    dispatched = JobFactory()
    services.job_schedule(job_id=dispatched.pk)
    old = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk__in=[queued.pk, dispatched.pk]).update(enqueued_at=old)
    report = services.job_reconcile(reenqueue_after=60)
    assert report.rescheduled == [queued.pk]
    assert report.resent == [dispatched.pk]
