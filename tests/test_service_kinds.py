"""A job kind with a service of its own is created only through that service (S14).

The generic jobs API and the job form take generic kinds only: anything else is a
400 naming the right endpoint, an audit event, and no job. Marked on the kind, so
a new kind has to say which it is.
"""

from __future__ import annotations

import dataclasses

import pytest

from console.audit.models import AuditEvent
from console.core.roles import Cap
from console.jobs import kinds
from console.jobs.models import Job

SERVICE_KINDS = sorted(k.name for k in kinds.all_kinds() if not k.generic)
GENERIC_KINDS = sorted(k.name for k in kinds.all_kinds() if k.generic)
# Spec fields that would let a member name a place on a node's or the console's disk.
PATHLIKE = ("path", "dir", "file", "folder", "upload", "root")


def test_the_service_kinds_are_the_ones_that_build_paths_or_hold_policies():
    assert set(SERVICE_KINDS) == {
        "train.run",
        "data.ingest",
        "data.clean",
        "data.tokenizer_train",
        "data.tokenize",
        "model.export",
        "model.evaluate",
        "model.quantize",
        "model.export_onnx",
        "review.check",
    }
    assert set(GENERIC_KINDS) == {"demo.count", "demo.node"}


def test_a_new_kind_must_say_where_it_is_created():
    with pytest.raises(TypeError, match="service_endpoint"):
        kinds.JobKind(
            name="x.y",
            title="X",
            description="",
            spec=object,
            queue="pipelines",
            submit_cap=Cap.JOBS_SUBMIT,
            handler=None,
        )


@pytest.mark.parametrize("name", GENERIC_KINDS)
def test_generic_kinds_take_no_paths(name):
    """What a member may write by hand names no file: paths are the services' to build."""
    spec = kinds.get(name).spec
    for f in dataclasses.fields(spec):
        assert not any(word in f.name.lower() for word in PATHLIKE), (name, f.name)


@pytest.mark.parametrize("name", SERVICE_KINDS)
def test_the_jobs_api_refuses_a_service_kind_naming_its_endpoint(personas, api, name):
    kind = kinds.get(name)
    before = AuditEvent.objects.filter(action="job.submit_refused").count()
    response = api(personas.admin).post(
        "/api/v1/jobs/",
        {
            "project": "alpha",
            "kind": name,
            "params": {"data": {"corpus_dir": "/etc"}, "checkpoint": {"dir": "/root"}},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    message = response.json()["kind"][0]
    assert kind.service_endpoint in message and "own service" in message
    assert not Job.objects.exists()
    event = AuditEvent.objects.filter(action="job.submit_refused").order_by("-pk").first()
    assert AuditEvent.objects.filter(action="job.submit_refused").count() == before + 1
    assert event.actor == personas.admin and event.after["kind"] == name
    assert event.project_id == personas.project.pk


def test_a_viewer_cannot_create_review_checks_through_the_jobs_api(personas, api):
    response = api(personas.viewer).post(
        "/api/v1/jobs/",
        {"project": "alpha", "kind": "review.check", "params": {"review_item_id": 1}},
        format="json",
    )
    assert response.status_code == 400
    assert "/run-check/" in response.json()["kind"][0]
    assert not Job.objects.exists()


def test_the_job_form_refuses_a_service_kind_posted_by_hand(personas, client):
    client.force_login(personas.ml_engineer)
    response = client.post(
        "/jobs/new/",
        {"project": "alpha", "kind": "train.run", "name": "sneaky", "steps": "1"},
    )
    assert response.status_code == 400
    assert b"POST /api/v1/runs/" in response.content
    assert not Job.objects.exists()
    # ... and offers generic kinds only.
    page = client.get("/jobs/new/").content.decode()
    assert 'value="demo.count"' in page and 'value="train.run"' not in page


def test_the_generic_api_still_takes_generic_kinds(personas, api):
    response = api(personas.ml_engineer).post(
        "/api/v1/jobs/",
        {"project": "alpha", "kind": "demo.count", "params": {"steps": 2}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Job.objects.get().kind == "demo.count"


def test_the_kinds_api_says_where_each_kind_is_created(personas, api):
    listed = {k["name"]: k for k in api(personas.viewer).get("/api/v1/job-kinds/").json()}
    assert listed["demo.count"]["service_endpoint"] is None
    assert listed["train.run"]["service_endpoint"].startswith("POST /api/v1/runs/")
