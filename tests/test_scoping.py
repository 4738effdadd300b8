"""Issue 14, item 2 (RELIABILITY S3, S16): pages and API answers that gather across
projects show a member only their projects' items; another project's job on a node is
"busy" at most; audit queries are scoped to the reader's projects unless the reader is
an admin; a 404 that hid another project's object is audited like a 403."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils import timezone

from console.audit.models import AuditEvent
from console.audit.services import audit_record
from console.energy.models import JobUsage
from console.fleet.models import Allocation
from console.jobs.models import JobState
from tests.factories import JobFactory
from tests.fleet.conftest import make_node  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

SECRET = "beta-secret-finetune"  # the other team's job name: must never reach alpha


@pytest.fixture
def node(make_node):  # noqa: F811 - the fixture
    node, _ = make_node("gpu-a", gpus=2)
    return node


@pytest.fixture
def jobs_on_node(personas, node):
    """On gpu-a: alpha's running job, beta's running job and beta's finished one."""
    ours = JobFactory(
        project=personas.project, name="alpha-pretrain", state=JobState.RUNNING, kind="train.run"
    )
    theirs = JobFactory(
        project=personas.other_project, name=SECRET, state=JobState.RUNNING, kind="train.run"
    )
    old = JobFactory(project=personas.other_project, name=f"{SECRET}-old", state=JobState.SUCCEEDED)
    Allocation.objects.create(job=ours, attempt=1, node=node, gpu_indices=[0])
    Allocation.objects.create(job=theirs, attempt=1, node=node, gpu_indices=[1])
    Allocation.objects.create(
        job=old, attempt=1, node=node, gpu_indices=[1], released_at=timezone.now()
    )
    return ours, theirs, old


# ------------------------------------------------------------------ fleet


@pytest.mark.parametrize("htmx", [False, True])
def test_a_node_page_shows_other_projects_jobs_as_busy_only(client, personas, jobs_on_node, htmx):
    ours, theirs, old = jobs_on_node
    client.force_login(personas.viewer)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    page = client.get("/fleet/gpu-a/", **headers)
    assert page.status_code == 200
    html = page.content.decode()
    assert "alpha-pretrain" in html and f"/jobs/{ours.pk}/" in html
    assert SECRET not in html
    assert f"/jobs/{theirs.pk}/" not in html and f"/jobs/{old.pk}/" not in html
    assert "train.run" not in html and "beta" not in html.lower()
    assert html.count('data-testid="node-job-busy"') == 1  # the running one; not the old
    client.force_login(personas.admin)
    html = client.get("/fleet/gpu-a/", **headers).content.decode()
    assert SECRET in html and f"/jobs/{theirs.pk}/" in html and "node-job-busy" not in html


@pytest.mark.usefixtures("jobs_on_node")
def test_the_fleet_api_names_no_other_projects_job(api, personas):
    client = api(personas.viewer)
    for url in ("/api/v1/nodes/", "/api/v1/nodes/gpu-a/", "/api/v1/nodes/gpu-a/telemetry/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
        assert "beta" not in response.content.decode().lower(), url
    node = client.get("/api/v1/nodes/gpu-a/").json()
    assert node["running"] == 2  # the node is busy: counts only, no names
    assert sorted(g["busy"] for g in node["gpus"]) in ([False, False], [0, 0])


def test_aggregate_pages_and_api_leave_other_projects_out(client, api, personas, jobs_on_node):
    """Energy totals, the carbon page's jobs, the dashboard, the job list and compare."""
    ours, theirs, _ = jobs_on_node
    theirs.carbon_aware = True
    theirs.save(update_fields=["carbon_aware"])
    for job in (ours, theirs):
        JobUsage.objects.create(
            job=job,
            project=job.project,
            month=date(2025, 1, 1),
            energy_kwh=3.0,
            computed_at=timezone.now(),
        )
    audit_record(action="job.submit", actor=personas.stranger, obj=theirs)
    client.force_login(personas.viewer)
    for url in ("/", "/energy/", "/carbon/", "/jobs/", "/runs/compare/?runs=1,2,3"):
        response = client.get(url)
        assert response.status_code in (200, 404), url  # compare: none of these is ours
        assert SECRET not in response.content.decode(), url
    totals = api(personas.viewer).get("/api/v1/energy/totals/").json()["results"]
    assert [row["key"] for row in totals] == ["alpha"]
    assert totals[0]["jobs"] == 1
    by_month = api(personas.viewer).get("/api/v1/energy/totals/?group=month").json()
    assert by_month["results"][0]["jobs"] == 1
    assert api(personas.viewer).get("/api/v1/energy/totals/?project=beta").json()["results"] == []
    jobs = api(personas.viewer).get("/api/v1/jobs/").json()["results"]
    assert [j["id"] for j in jobs] == [ours.pk]


# ------------------------------------------------------------------ audit


@pytest.fixture
def events(personas):
    ours = JobFactory(project=personas.project, name="alpha-job")
    theirs = JobFactory(project=personas.other_project, name=SECRET)
    audit_record(action="job.submit", actor=personas.ml_engineer, obj=ours)
    audit_record(action="job.submit", actor=personas.stranger, obj=theirs)
    audit_record(action="auth.login", actor=personas.stranger)  # project-less, beta's member
    audit_record(action="token.create", actor=personas.viewer)  # project-less, alpha's member
    return ours, theirs


def test_the_audit_api_is_scoped_to_the_readers_projects(api, personas, events):
    ours, theirs = events
    reviewer = api(personas.reviewer)
    assert reviewer.get("/api/v1/audit/?actor=sam_stranger").json()["results"] == []
    everything = reviewer.get("/api/v1/audit/?page_size=500").json()["results"]
    assert {e["object_repr"] for e in everything if e["action"] == "job.submit"} == {str(ours)}
    assert {e["object_id"] for e in everything if e["action"] == "job.submit"} == {str(ours.pk)}
    assert {e["project_id"] for e in everything} <= {personas.project.pk, None}
    assert "token.create" in {e["action"] for e in everything}  # a colleague's
    assert "auth.login" not in {e["action"] for e in everything}  # another team's member's
    assert SECRET not in reviewer.get(f"/api/v1/audit/?object_id={theirs.pk}").content.decode()
    admin = api(personas.admin).get("/api/v1/audit/?actor=sam_stranger").json()["results"]
    assert {e["action"] for e in admin} == {"job.submit", "auth.login"}


def test_the_audit_api_scope_holds_for_a_superuser_without_a_project(api, personas, events):
    personas.outsider.is_superuser = True
    personas.outsider.save()
    found = api(personas.outsider).get("/api/v1/audit/?actor=sam_stranger").json()["results"]
    assert len(found) == 2


@pytest.mark.parametrize("htmx", [False, True])
def test_the_audit_page_is_scoped_to_the_readers_projects(client, personas, events, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    client.force_login(personas.reviewer)
    html = client.get("/audit/?actor=sam_stranger", **headers).content.decode()
    assert "No events match" in html and "job.submit" not in html.split("</form>")[-1]
    html = client.get("/audit/", **headers).content.decode()
    assert "milo_ml" in html and "sam_stranger" not in html
    client.force_login(personas.admin)
    assert "sam_stranger" in client.get("/audit/", **headers).content.decode()


def test_the_dashboard_activity_is_scoped_for_auditors(client, personas, events):
    client.force_login(personas.reviewer)
    html = client.get("/").content.decode()
    assert "sam_stranger" not in html


# ------------------------------------------------------------------ 404s audited


def _same(content: bytes) -> str:
    """A page without what differs per request (CSRF token, request id)."""
    text = re.sub(r'(X-CSRFToken": "|csrfmiddlewaretoken" value=")[^"]+', r"\1", content.decode())
    return re.sub(r"request <code>[0-9a-f]+</code>", "", text)


def _denials(user):
    return AuditEvent.objects.filter(action="access.denied", actor=user)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/jobs/{job}/",
        "/api/v1/jobs/{job}/cancel/",
        "/jobs/{job}/",
        "/energy/jobs/{job}/panel/",
        "/api/v1/energy/jobs/{job}/",
    ],
)
def test_another_projects_job_is_a_404_and_audited(client, api, personas, url):
    theirs = JobFactory(project=personas.other_project, name=SECRET)
    missing = theirs.pk + 1000
    path = url.format(job=theirs.pk)
    client.force_login(personas.reviewer)
    as_api = url.startswith("/api/")
    send = api(personas.reviewer) if as_api else client
    method = send.post if url.endswith("cancel/") else send.get
    hidden, absent = method(path), method(url.format(job=missing))
    assert hidden.status_code == absent.status_code == 404
    assert _same(hidden.content) == _same(absent.content)  # nothing tells the two apart
    (event,) = _denials(personas.reviewer)
    assert event.object_type == "jobs.job" and event.object_id == str(theirs.pk)
    assert event.project_id == personas.other_project.pk
    assert event.object_repr == path and event.after["status"] == 404
    # The requester's own audit reads never show it (they are not in beta).
    mine = api(personas.reviewer).get("/api/v1/audit/?action=access.denied").json()
    assert mine["results"] == []
    admin = api(personas.admin).get("/api/v1/audit/?action=access.denied").json()["results"]
    assert [e["object_id"] for e in admin] == [str(theirs.pk)]


def test_other_kinds_of_objects_are_audited_by_their_kind(api, personas):
    from tests.runs.conftest import make_corpus

    corpus = make_corpus(personas.other_project, key="corpora/beta")
    client = api(personas.viewer)
    dataset, version, tokenizer = corpus.version.dataset_id, corpus.version_id, corpus.tokenizer_id
    for url, kind, pk in [
        (f"/api/v1/corpora/{corpus.pk}/", "data.tokenizedcorpus", corpus.pk),
        (f"/api/v1/datasets/{dataset}/", "data.dataset", dataset),
        (f"/api/v1/dataset-versions/{version}/", "data.datasetversion", version),
        (f"/api/v1/tokenizers/{tokenizer}/", "data.tokenizer", tokenizer),
        ("/api/v1/projects/beta/", "projects.project", "beta"),
    ]:
        assert client.get(url).status_code == 404, url
        event = _denials(personas.viewer).order_by("-id").first()
        assert (event.object_type, event.object_id) == (kind, str(pk)), url
        assert event.project_id == personas.other_project.pk


def test_own_and_absent_objects_are_not_audited_as_cross_project(client, api, personas):
    ours = JobFactory(project=personas.project)
    client.force_login(personas.viewer)
    assert client.get("/jobs/99999999/").status_code == 404
    assert api(personas.viewer).get("/api/v1/jobs/99999999/").status_code == 404
    assert api(personas.viewer).get("/api/v1/projects/no-such-team/").status_code == 404
    # the job exists and is ours: whatever 404s below it is not a cross-project probe
    assert client.get(f"/jobs/{ours.pk}/no-such-action/").status_code in (404, 405)
    assert not _denials(personas.viewer).exists()
    theirs = JobFactory(project=personas.other_project)
    client.force_login(personas.admin)  # an admin sees every project: no 404 to audit
    assert client.get(f"/jobs/{theirs.pk}/").status_code == 200
    assert not _denials(personas.admin).exists()
