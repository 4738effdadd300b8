"""States that agree with each other (issue 14, item 12): a run on a node says "running on
local" while it runs, and once it is paused, failed, cancelled or succeeded no page says
it still runs: not the job page, the run page, the jobs and runs lists, the dashboard or
the energy panel (which says live, so far or final). The job goes through the real
paths: the scheduler's dispatch, the agent's records through the ingest API, the run
page's Pause and Cancel buttons, the agent's final status.

The root: ``job_transition`` replaces the progress line when a job comes to rest, and
the ingest keeps a pausing job's last progress records from writing it back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.energy.services import SETTLE_SECONDS, job_usage_refresh
from console.jobs import services as job_services
from console.jobs.models import Job, JobState
from console.runs import services as run_services
from tests.fleet.conftest import Stream, make_node  # noqa: F401 - a fixture
from tests.runs.conftest import CPU_RUN, corpus, data_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

STALE = ("running on", "dispatched to", "Live figures")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ingest(agent, records: list[dict]) -> None:
    reply = agent.post("/api/agent/v1/ingest", {"records": records}, format="json")
    assert reply.status_code == 200, reply.content


@pytest.fixture
def running(personas, corpus, make_node):  # noqa: F811
    """A CPU run placed on node "local", which reports it running at step 3 of 12."""
    _, agent = make_node("local", gpus=0)
    run = run_services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )
    job_services.job_schedule(job_id=run.job_id)
    job = Job.objects.get(pk=run.job_id)
    assert job.state == JobState.DISPATCHED and job.progress_message == "dispatched to local"
    stream = Stream(job.pk, job.attempt)
    ingest(agent, [stream.status("running")])
    ingest(agent, [stream.rec("progress", {"percent": 25, "message": "running on local"})])
    job.refresh_from_db()
    assert job.state == JobState.RUNNING
    return {"run": run, "job": job, "agent": agent, "stream": stream}


def pages(personas, run, job) -> dict[str, str]:
    client = login(personas.viewer)
    out = {}
    for name, url in (
        ("job", f"/jobs/{job.pk}/"),
        ("run", f"/runs/{run.pk}/"),
        ("jobs", "/jobs/"),
        ("runs", "/runs/"),
        ("dashboard", "/"),
        ("energy", f"/energy/jobs/{job.pk}/panel/"),
    ):
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        out[name] = response.content.decode()
    return out


def progress_line(body: str) -> str:
    start = body.index('<p class="progress-line">')
    return body[start : body.index("</p>", start)]


def to_state(state: str, personas, running) -> Job:
    job, agent, stream, run = running["job"], running["agent"], running["stream"], running["run"]
    admin = login(personas.admin)
    if state == "paused":
        assert admin.post(f"/runs/{run.pk}/pause/").status_code in (200, 302)
        # what the run sends while it stops is kept, but not as its progress line
        ingest(agent, [stream.rec("progress", {"percent": 30, "message": "step 4/12"})])
    elif state == "cancelled":
        assert admin.post(f"/runs/{run.pk}/cancel/").status_code in (200, 302)
        ingest(agent, [stream.rec("progress", {"percent": 30, "message": "running on local"})])
    elif state == "failed":
        ingest(agent, [stream.status("failed", exit_code=1, reason="exit code 1: OOM")])
    elif state == "succeeded":
        ingest(agent, [stream.status("succeeded", exit_code=0)])
    job.refresh_from_db()
    assert job.state == state, (job.state, job.progress_message)
    return job


EXPECTED_LINE = {
    "running": "running on local",
    "paused": "paused",
    "failed": "failed",
    "cancelled": "cancelled by user",
    "succeeded": "done",
}
EXPECTED_ENERGY = {
    "running": "Live figures: they grow while the job runs.",
    "paused": "Paused — the energy, emissions and cost so far.",
    "failed": "Final figures: the job failed.",
    "cancelled": "Final figures: the job cancelled.",
    "succeeded": "Final figures: the job succeeded.",
}


@pytest.mark.parametrize("state", list(EXPECTED_LINE))
def test_every_page_agrees_with_the_state(personas, running, state):
    job = to_state(state, personas, running)
    assert job.progress_message == EXPECTED_LINE[state]
    settled = timezone.now() + timedelta(seconds=SETTLE_SECONDS + 1)  # as beat would, later
    job_usage_refresh(job_id=job.pk, now=settled if job.is_terminal else None)
    seen = pages(personas, running["run"], job)
    for name in ("job", "run"):
        body = seen[name]
        assert f'data-state="{state}"' in body, name
        assert EXPECTED_LINE[state] in progress_line(body), (name, progress_line(body))
    energy = seen["energy"]
    phase = state if state in ("running", "paused") else "ended"
    assert f'data-phase="{phase}"' in energy
    assert EXPECTED_ENERGY[state] in energy, energy
    if state == "running":
        assert "running on local" in seen["jobs"]
        assert 'class="badge state-running">running</span>' in energy
        return
    for name, body in seen.items():
        for stale in STALE:
            assert stale not in body, (name, stale)
    assert 'class="badge state-running">running</span>' not in energy


def test_resume_and_requeue_say_what_happens_next(personas, running):
    job = to_state("paused", personas, running)
    job = job_services.job_resume(actor=personas.admin, job_id=job.pk)
    assert job.state == JobState.QUEUED
    assert Job.objects.get(pk=job.pk).progress_message == "resumed; waiting to be scheduled"


def test_rejected_approval_and_failures_outside_a_node_replace_the_line(personas):
    from tests.factories import JobFactory

    waiting = JobFactory(
        project=personas.project,
        state=JobState.AWAITING_APPROVAL,
        progress_message="awaiting approval by a reviewer: large run",
    )
    job_services.job_transition(job_id=waiting.pk, to=JobState.SCHEDULED, expect=[waiting.state])
    assert Job.objects.get(pk=waiting.pk).progress_message == "approved; waiting to start"
    queued = JobFactory(
        project=personas.project,
        state=JobState.SCHEDULED,
        progress_message="waiting for a node with 1 free GPU(s)",
    )
    job_services.job_transition(job_id=queued.pk, to=JobState.CANCELLED, reason="rejected: no")
    assert Job.objects.get(pk=queued.pk).progress_message == "rejected: no"
    # a caller that says what the line is keeps it (requeue, carbon pause, success)
    given = JobFactory(project=personas.project, state=JobState.RUNNING)
    job_services.job_transition(
        job_id=given.pk, to=JobState.PAUSED, progress_message="carbon-aware: window ended"
    )
    assert Job.objects.get(pk=given.pk).progress_message == "carbon-aware: window ended"
