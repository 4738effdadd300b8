"""Run approval (issue 7, item 7): a project's launch policy holds a run until a
reviewer other than the launcher approves it, through the service, the run page, the
API and the admin panel; a rejected run never dispatches."""

from __future__ import annotations

import pytest

from console.audit.models import AuditEvent
from console.core.errors import Forbidden
from console.fleet.models import Allocation
from console.jobs.models import Job, JobState
from console.jobs.services import job_dispatch_if_due, job_schedule
from console.policies.models import Decision, RunApproval, RunApprovalPolicy
from console.policies.selectors import fleet_run_estimate
from console.runs import services
from console.runs.models import Run
from tests.policies.conftest import launch
from tests.runs.conftest import make_corpus

pytestmark = [pytest.mark.django_db]
SELF = "job.self_approval_refused"
GPU_RUN = {"gpus_per_node": 1, "steps": 2_000}


def _held(personas, corpus, user=None) -> Run:
    run = launch(user or personas.ml_engineer, personas.project, corpus)
    job_schedule(job_id=run.job_id)  # what the scheduler does with the on-commit message
    return Run.objects.get(pk=run.pk)


def _refusals(user) -> int:
    return AuditEvent.objects.filter(action=SELF, actor=user).count()


# ------------------------------------------------------------------ policy match


def test_a_listed_preset_holds_the_run_and_it_is_not_dispatched(
    personas, corpus, policy, make_node
):
    make_node("gpu-a", gpus=2)
    run = _held(personas, corpus)
    job = run.job
    assert job.requires_approval and job.state == JobState.AWAITING_APPROVAL
    assert "awaiting approval" in job.progress_message
    approval = RunApproval.objects.get(run=run)
    assert approval.decision == Decision.PENDING
    assert approval.reasons == ["preset tiny needs approval"]
    assert approval.estimate["gpu_hours"] == 0  # a CPU run
    assert job_dispatch_if_due(job_id=job.pk) is None
    assert not Allocation.objects.filter(job=job).exists()
    assert Job.objects.get(pk=job.pk).state == JobState.AWAITING_APPROVAL


def _gpu_estimate(personas, corpus, make_node):
    make_node("gpu-a", gpus=2)
    probe = launch(personas.ml_engineer, personas.project, corpus, **GPU_RUN)
    from gpu_agent.spec import spec_from_dict
    from gpu_agent.train.spec import TrainSpec

    return fleet_run_estimate(spec_from_dict(TrainSpec, probe.spec))


def test_estimated_gpu_hours_above_the_threshold_hold_the_run(personas, corpus, make_node):
    est = _gpu_estimate(personas, corpus, make_node)
    assert est.gpu_hours > 0
    policy = RunApprovalPolicy.objects.create(
        project=personas.project, max_gpu_hours=est.gpu_hours * 2
    )
    below = launch(personas.ml_engineer, personas.project, corpus, **GPU_RUN)
    assert not below.job.requires_approval and not RunApproval.objects.filter(run=below).exists()
    policy.max_gpu_hours = est.gpu_hours / 2
    policy.save()
    above = launch(personas.ml_engineer, personas.project, corpus, **GPU_RUN)
    assert Job.objects.get(pk=above.job_id).requires_approval
    (reason,) = RunApproval.objects.get(run=above).reasons
    assert "GPU-hours exceeds" in reason


def test_estimated_cost_above_the_threshold_holds_the_run(personas, corpus, make_node, settings):
    settings.FORGE_GPU_HOUR_PRICE = 100.0
    est = _gpu_estimate(personas, corpus, make_node)
    policy = RunApprovalPolicy.objects.create(project=personas.project, max_cost=est.cost * 2)
    below = launch(personas.ml_engineer, personas.project, corpus, **GPU_RUN)
    assert not Job.objects.get(pk=below.job_id).requires_approval
    policy.max_cost = est.cost / 2
    policy.save()
    above = launch(personas.ml_engineer, personas.project, corpus, **GPU_RUN)
    assert Job.objects.get(pk=above.job_id).requires_approval
    assert "estimated cost" in RunApproval.objects.get(run=above).reasons[0]


def test_below_every_threshold_or_disabled_the_run_dispatches(personas, corpus, make_node):
    make_node("gpu-a", gpus=2)
    policy = RunApprovalPolicy.objects.create(
        project=personas.project, presets=["deepseek-7b"], max_gpu_hours=1e6, max_cost=1e9
    )
    run = _held(personas, corpus)
    assert not run.job.requires_approval
    assert run.job.state == JobState.DISPATCHED
    assert not RunApproval.objects.exists()
    policy.presets, policy.enabled = ["tiny"], False
    policy.save()
    assert not _held(personas, corpus).job.requires_approval


# ------------------------------------------------------------------ decisions


def test_a_reviewer_approves_and_the_run_is_dispatched(personas, corpus, policy, make_node):
    make_node("gpu-a", gpus=2)
    run = _held(personas, corpus)
    services.run_approve(actor=personas.reviewer, run_id=run.pk, comment="ok")
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.DISPATCHED
    assert job.approved_by == personas.reviewer
    assert Allocation.objects.filter(job=job).exists()
    approval = RunApproval.objects.get(run=run)
    assert approval.decision == Decision.APPROVED and approval.decided_by == personas.reviewer
    assert approval.comment == "ok"


def test_a_rejected_run_is_cancelled_and_never_dispatches(personas, corpus, policy, make_node):
    make_node("gpu-a", gpus=2)
    run = _held(personas, corpus)
    services.run_reject(actor=personas.reviewer, run_id=run.pk, comment="too big")
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.CANCELLED
    assert job_schedule(job_id=job.pk) is None  # a late schedule message
    assert job_dispatch_if_due(job_id=job.pk) is None
    with pytest.raises(Exception, match="not awaiting approval"):
        services.run_approve(actor=personas.reviewer, run_id=run.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED
    assert not Allocation.objects.filter(job=job).exists()
    approval = RunApproval.objects.get(run=run)
    assert approval.decision == Decision.REJECTED and approval.comment == "too big"


@pytest.mark.parametrize("launcher", ["ml_engineer", "admin"])
def test_the_launcher_cannot_approve_or_reject_through_the_service(
    personas, corpus, policy, launcher
):
    user = getattr(personas, launcher)
    run = _held(personas, corpus, user=user)
    with pytest.raises(Forbidden):
        services.run_approve(actor=user, run_id=run.pk)
    with pytest.raises(Forbidden):
        services.run_reject(actor=user, run_id=run.pk)
    assert _refusals(user) == 2
    assert Job.objects.get(pk=run.job_id).state == JobState.AWAITING_APPROVAL
    assert RunApproval.objects.get(run=run).decision == Decision.PENDING


# ------------------------------------------------------------------ the run page


def test_the_launcher_gets_403_from_the_page(client, personas, corpus, policy):
    run = _held(personas, corpus, user=personas.admin)
    client.force_login(personas.admin)
    page = client.get(f"/runs/{run.pk}/")
    assert b"awaiting approval by a reviewer" in page.content
    assert b'data-testid="run-approval"' not in page.content  # no buttons for the launcher
    assert client.post(f"/runs/{run.pk}/approve/").status_code == 403
    partial = client.post(f"/runs/{run.pk}/approve/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 403
    assert b"cannot approve your own" in partial.content and b"action-error" in partial.content
    assert _refusals(personas.admin) == 2
    assert Job.objects.get(pk=run.job_id).state == JobState.AWAITING_APPROVAL


def test_a_reviewer_approves_from_the_page(client, personas, corpus, policy, make_node):
    make_node("gpu-a", gpus=2)
    run = _held(personas, corpus)
    client.force_login(personas.reviewer)
    page = client.get(f"/runs/{run.pk}/")
    assert b'data-testid="run-approval"' in page.content
    response = client.post(f"/runs/{run.pk}/approve/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"approved" in response.content
    assert Job.objects.get(pk=run.job_id).state == JobState.DISPATCHED


def test_a_reviewer_rejects_from_the_page(client, personas, corpus, policy):
    run = _held(personas, corpus)
    client.force_login(personas.reviewer)
    response = client.post(f"/runs/{run.pk}/reject/", {"comment": "no"})
    assert response.status_code == 302
    assert Job.objects.get(pk=run.job_id).state == JobState.CANCELLED


def test_the_runs_list_shows_what_waits_and_why(client, personas, corpus, policy):
    run = _held(personas, corpus)
    client.force_login(personas.viewer)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        content = client.get("/runs/", **headers).content.decode()
        assert f'data-testid="awaiting-{run.pk}"' in content
        assert "awaiting approval by a reviewer: preset tiny needs approval" in content


# ------------------------------------------------------------------ the API


def test_the_api_approves_for_a_reviewer_and_refuses_the_launcher(
    api, personas, corpus, policy, make_node
):
    make_node("gpu-a", gpus=2)
    run = _held(personas, corpus, user=personas.admin)
    refused = api(personas.admin).post(f"/api/v1/runs/{run.pk}/approve/", {}, format="json")
    assert refused.status_code == 403
    assert _refusals(personas.admin) == 1
    assert api(personas.ml_engineer).post(f"/api/v1/runs/{run.pk}/approve/").status_code == 403
    done = api(personas.reviewer).post(
        f"/api/v1/runs/{run.pk}/approve/", {"comment": "fine"}, format="json"
    )
    assert done.status_code == 200, done.content
    assert done.json()["state"] == JobState.DISPATCHED
    again = api(personas.reviewer).post(f"/api/v1/runs/{run.pk}/reject/")
    assert again.status_code == 409


def test_the_api_rejects(api, personas, corpus, policy):
    run = _held(personas, corpus)
    assert api(personas.ml_engineer).post(f"/api/v1/runs/{run.pk}/reject/").status_code == 403
    assert _refusals(personas.ml_engineer) == 1
    done = api(personas.reviewer).post(f"/api/v1/runs/{run.pk}/reject/", {"comment": "x"})
    assert done.status_code == 200 and done.json()["state"] == JobState.CANCELLED


def test_another_teams_run_is_404(api, client, personas, data_dir):
    RunApprovalPolicy.objects.create(project=personas.other_project, presets=["tiny"])
    theirs = make_corpus(personas.other_project, key="corpora/beta")
    run = launch(personas.stranger, personas.other_project, theirs)
    job_schedule(job_id=run.job_id)
    for verb in ("approve", "reject"):
        assert api(personas.reviewer).post(f"/api/v1/runs/{run.pk}/{verb}/").status_code == 404
    client.force_login(personas.reviewer)
    assert client.post(f"/runs/{run.pk}/approve/").status_code == 404
    assert Job.objects.get(pk=run.job_id).state == JobState.AWAITING_APPROVAL


# ------------------------------------------------------------------ the admin panel


def _staff(user):
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def _admin_action(client, action: str, approval: RunApproval):
    return client.post(
        "/admin/policies/runapproval/",
        {"action": action, "_selected_action": [approval.pk]},
    )


def test_the_admin_action_refuses_self_approval(client, personas, corpus, policy):
    admin = _staff(personas.admin)
    run = _held(personas, corpus, user=admin)
    client.force_login(admin)
    approval = RunApproval.objects.get(run=run)
    response = _admin_action(client, "approve_runs", approval)
    assert response.status_code == 403
    assert _refusals(admin) == 1
    assert Job.objects.get(pk=run.job_id).state == JobState.AWAITING_APPROVAL


def test_the_admin_action_approves_and_rejects_for_another_admin(
    client, personas, corpus, policy, make_node
):
    make_node("gpu-a", gpus=2)
    boss = _staff(personas.reviewer)
    first, second = _held(personas, corpus), _held(personas, corpus)
    client.force_login(boss)
    assert _admin_action(client, "approve_runs", first.approval).status_code == 302
    assert _admin_action(client, "reject_runs", second.approval).status_code == 302
    assert Job.objects.get(pk=first.job_id).state == JobState.DISPATCHED
    assert Job.objects.get(pk=second.job_id).state == JobState.CANCELLED
    assert client.get("/admin/policies/runapprovalpolicy/").status_code == 200


def test_the_policy_form_accepts_only_known_presets(personas):
    from django.core.exceptions import ValidationError

    policy = RunApprovalPolicy(project=personas.project, presets="deepseek-7b")
    with pytest.raises(ValidationError, match="preset names"):
        policy.full_clean()
    policy.presets = ["gpt-9"]
    with pytest.raises(ValidationError, match="preset names"):
        policy.full_clean()
    policy.presets, policy.max_cost = ["deepseek-7b"], -1
    with pytest.raises(ValidationError, match="0 or more"):
        policy.full_clean()
    policy.max_cost = 10
    policy.full_clean()
