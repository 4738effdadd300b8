"""Fleet on the console side: node tokens, registration, dispatch with leases,
lossless idempotent ingest, liveness. (The agent process itself: tests/agent/.)"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from console.audit.models import AuditEvent
from console.fleet import scheduler, services
from console.fleet.models import AllocatedGpu, Allocation, Gpu, GpuSample, Node
from console.jobs import services as job_services
from console.jobs.models import Job, JobState
from console.metrics.models import MetricChunk
from console.metrics.selectors import metric_point_count, metric_series
from console.metrics.services import metric_points_insert
from tests.fleet.conftest import Stream

S = JobState
pytestmark = pytest.mark.django_db


def submit(personas, **params) -> Job:
    job = job_services.job_submit(
        actor=personas.ml_engineer, project=personas.project, kind="demo.node", params=params
    )
    job_services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    return job


# ------------------------------------------------------------------ tokens and auth


def test_admin_creates_node_and_token_is_shown_once(personas, api):
    response = api(personas.admin).post("/api/v1/nodes/", {"name": "gpu-b"}, format="json")
    assert response.status_code == 201
    key = response.json()["token"]
    node = Node.objects.get(name="gpu-b")
    assert key.startswith("fn_") and node.tokens.get().key_hash != key
    assert "token" not in api(personas.admin).get("/api/v1/nodes/gpu-b/").json()
    assert (
        api(personas.ml_engineer).post("/api/v1/nodes/", {"name": "x"}, format="json").status_code
        == 403
    )


def test_node_token_command_prints_only_the_token(db, capsys):
    call_command("node_token", "gpu-c")
    key = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {key}")
    assert client.post("/api/agent/v1/heartbeat", {}, format="json").status_code == 200
    call_command("node_token", "gpu-c")  # rotate: the old token stops working
    assert client.post("/api/agent/v1/heartbeat", {}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("header", "status", "action"),
    [
        (None, 401, "agent.auth_missing"),
        ("Node fn_not-a-token", 401, "agent.auth_failed"),
        ("Token fg_user-token-scheme", 401, "agent.auth_missing"),
    ],
)
def test_agent_endpoints_refuse_bad_credentials(db, header, status, action):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    assert client.post("/api/agent/v1/ingest", {"records": []}, format="json").status_code == status
    assert AuditEvent.objects.filter(action=action).exists()


def test_revoked_and_other_node_tokens(make_node):
    node, client = make_node("gpu-a")
    _other, other_client = make_node("gpu-z")
    response = other_client.post(
        "/api/agent/v1/register",
        {"name": "gpu-a", "agent_version": "x", "inventory": {}},
        format="json",
    )
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="agent.wrong_node").exists()
    services.node_token_revoke(actor=None, node=node)
    assert client.post("/api/agent/v1/heartbeat", {}, format="json").status_code == 401


def test_user_token_does_not_work_on_agent_api_nor_node_token_on_user_api(personas, api, make_node):
    _, agent = make_node("gpu-a")
    assert api(personas.admin).post("/api/agent/v1/heartbeat", {}, format="json").status_code == 401
    assert agent.get("/api/v1/jobs/").status_code == 401


def test_register_records_inventory(make_node):
    node, _ = make_node("gpu-a", gpus=2)
    assert node.status == Node.Status.ONLINE and node.cpu_count == 16
    assert list(node.gpus.values_list("index", "model")) == [(0, "NVIDIA H200"), (1, "NVIDIA H200")]


def test_register_reply_tells_the_agent_its_queue_and_broker(db):
    issued = services.node_create(actor=None, name="gpu-q")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {issued.key}")
    reply = client.post(
        "/api/agent/v1/register", {"name": "gpu-q", "inventory": {"gpus": []}}, format="json"
    ).json()
    assert reply["queue"] == "node.gpu-q" and reply["broker_url"] and reply["heartbeat_seconds"] > 0


def test_register_reply_names_the_storage_jobs_may_use(db, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "data" / "runs"
    settings.FORGE_MODELS_DIR = tmp_path / "models"
    issued = services.node_create(actor=None, name="gpu-r")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {issued.key}")
    reply = client.post(
        "/api/agent/v1/register", {"name": "gpu-r", "inventory": {"gpus": []}}, format="json"
    ).json()
    assert reply["storage_roots"] == [
        str(tmp_path / "data"),
        str(tmp_path / "data" / "runs"),
        str(tmp_path / "models"),
    ]


# ------------------------------------------------------------------ dispatch


def test_gpu_job_is_placed_and_waits_when_full(personas, make_node):
    make_node("gpu-a", gpus=1)
    first = submit(personas, steps=3, gpus=1)
    assert first.state == S.DISPATCHED and first.queue == "node.gpu-a" and first.attempt == 1
    allocation = Allocation.objects.get(job=first)
    assert allocation.gpu_indices == [0] and allocation.attempt == 1
    second = submit(personas, steps=3, gpus=1)
    assert (
        second.state == S.SCHEDULED
        and "waiting for a node with 1 free GPU" in second.progress_message
    )
    job_services.job_cancel(actor=personas.ml_engineer, job_id=first.pk)
    assert not AllocatedGpu.objects.filter(active=True).exists()
    job_services.job_reconcile()
    second.refresh_from_db()
    assert second.state == S.DISPATCHED


def test_cpu_job_runs_on_a_node_without_gpus(personas, make_node):
    make_node("cpu-only", gpus=0)
    job = submit(personas, steps=2, gpus=0)
    assert job.state == S.DISPATCHED and job.queue == "node.cpu-only"


def test_offline_and_disabled_nodes_get_no_work(personas, make_node):
    node, _ = make_node("gpu-a", gpus=1)
    services.node_set_enabled(actor=None, node=node, enabled=False)
    assert submit(personas, steps=2).state == S.SCHEDULED


def test_no_double_booking_when_two_dispatchers_race(
    postgres_only, personas, make_node, transactional_db
):
    """Two dispatchers on separate connections race for the last GPU: exactly one wins."""
    make_node("gpu-a", gpus=1)
    jobs = [
        job_services.job_submit(
            actor=personas.ml_engineer,
            project=personas.project,
            kind="demo.node",
            params={"gpus": 1},
        )
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    results: list = []

    def place(job_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(scheduler.allocation_place(job_id=job_id, attempt=1, gpus=1))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=place, args=(job.pk,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(r is not None for r in results) == 1
    assert AllocatedGpu.objects.filter(active=True).count() == 1


# ------------------------------------------------------------------ ingest


def test_stream_runs_a_job_to_success_with_metrics_and_log(personas, make_node):
    _node, agent = make_node("gpu-a")
    job = submit(personas, steps=3)
    s = Stream(job.pk)
    batch = [
        s.status("running"),
        s.log("hello"),
        s.metric(1, loss=2.0, lr=0.1),
        s.metric(2, loss=1.5, lr=0.1),
        s.rec("progress", {"percent": 66, "message": "step 2/3", "checkpoint": {"step": 2}}),
        s.status("succeeded", exit_code=0),
    ]
    reply = agent.post("/api/agent/v1/ingest", {"records": batch}, format="json")
    assert reply.status_code == 200, reply.content
    assert reply.json()["accepted"] == 6 and reply.json()["points"] == 4
    job.refresh_from_db()
    assert job.state == S.SUCCEEDED and "hello" in job.log_tail and job.checkpoint == {"step": 2}
    assert not Allocation.objects.filter(job=job, released_at__isnull=True).exists()
    assert metric_point_count(job_id=job.pk) == 4


def test_resent_batch_inserts_nothing_twice(personas, make_node):
    _, agent = make_node("gpu-a")
    job = submit(personas)
    s = Stream(job.pk)
    batch = [s.status("running")] + [s.metric(i, loss=1.0 / i) for i in range(1, 101)]
    first = agent.post("/api/agent/v1/ingest", {"records": batch}, format="json").json()
    again = agent.post("/api/agent/v1/ingest", {"records": batch}, format="json").json()
    assert (first["accepted"], again["accepted"], again["duplicates"]) == (101, 0, 101)
    assert metric_point_count(job_id=job.pk) == 100


def test_malformed_batch_is_rejected_atomically(personas, make_node):
    _, agent = make_node("gpu-a")
    job = submit(personas)
    s = Stream(job.pk)
    good = s.metric(1, loss=1.0)
    bad = s.rec("metric", {"step": "two", "values": {"loss": 1}})
    worse = s.rec("nonsense", {})
    reply = agent.post("/api/agent/v1/ingest", {"records": [good, bad, worse]}, format="json")
    assert reply.status_code == 400
    assert [e["index"] for e in reply.json()["errors"]] == [1, 2]
    assert not MetricChunk.objects.exists()
    assert (
        agent.post("/api/agent/v1/ingest", b"{nope", content_type="application/json").status_code
        == 400
    )


def test_unknown_job_is_404_and_audited(personas, make_node):
    _, agent = make_node("gpu-a")
    _other_node, other_agent = make_node("gpu-b")
    job = submit(personas)  # placed on one of the two nodes
    placed_on = Allocation.objects.get(job=job).node.name
    wrong = other_agent if placed_on == "gpu-a" else agent
    for records in ([Stream(999999).metric(1, loss=1.0)], [Stream(job.pk).metric(1, loss=1.0)]):
        assert (
            wrong.post("/api/agent/v1/ingest", {"records": records}, format="json").status_code
            == 404
        )
    assert AuditEvent.objects.filter(action="ingest.unknown_stream").count() == 2


def test_oversized_batch_is_413(personas, make_node):
    from gpu_agent.spec import MAX_BATCH_RECORDS

    _, agent = make_node("gpu-a")
    job = submit(personas)
    s = Stream(job.pk)
    records = [s.metric(i, loss=1.0) for i in range(1, MAX_BATCH_RECORDS + 2)]
    assert (
        agent.post("/api/agent/v1/ingest", {"records": records}, format="json").status_code == 413
    )


def test_stale_attempt_is_told_to_stop(personas, make_node):
    _, agent = make_node("gpu-a")
    job = submit(personas)
    job_services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)
    reply = agent.post(
        "/api/agent/v1/ingest", {"records": [Stream(job.pk).status("running")]}, format="json"
    ).json()
    assert reply["stop"] == [{"job": job.pk, "attempt": 1}]
    heartbeat = agent.post(
        "/api/agent/v1/heartbeat", {"running": [{"job": job.pk, "attempt": 1}]}, format="json"
    ).json()
    assert heartbeat["stop"] == [{"job": job.pk, "attempt": 1}]
    job.refresh_from_db()
    assert job.state == S.CANCELLED


def test_order_follows_seq_not_agent_clock(personas, make_node):
    _, agent = make_node("gpu-a")
    job = submit(personas)
    s = Stream(job.pk)
    records = [
        s.status(
            "running",
        ),
        s.rec("log", {"stream": "stdout", "line": "first"}, at=2_000_000_000),
        s.rec("log", {"stream": "stdout", "line": "second"}, at=1_000_000_000),
    ]
    agent.post("/api/agent/v1/ingest", {"records": list(reversed(records))}, format="json")
    job.refresh_from_db()
    assert job.log_tail.index("first") < job.log_tail.index("second")
    assert job.state == S.RUNNING


def test_telemetry_is_kept_and_compacted(make_node):
    node, agent = make_node("gpu-a", gpus=1)
    now = timezone.now().timestamp()
    records = [
        {
            "job": None,
            "attempt": 0,
            "seq": i + 1,
            "type": "telemetry",
            "at": now - 7200 + i * 5,
            "data": {
                "gpus": [
                    {
                        "index": 0,
                        "util": float(i % 100),
                        "mem_used_mib": 1000.0,
                        "power_w": 300.0,
                        "temp_c": 60.0,
                    }
                ]
            },
        }
        for i in range(100)
    ]
    assert (
        agent.post("/api/agent/v1/ingest", {"records": records}, format="json").status_code == 200
    )
    gpu = Gpu.objects.get(node=node, index=0)
    assert gpu.util == 99.0 and GpuSample.objects.count() == 100
    assert (
        agent.post("/api/agent/v1/ingest", {"records": records}, format="json").json()["duplicates"]
        == 100
    )
    folded = services.telemetry_compact()
    assert folded["0->60"] == 100
    assert GpuSample.objects.filter(resolution_seconds=60).exists()
    assert (
        GpuSample.objects.filter(resolution_seconds=60).order_by("-util_max").first().util_max
        == 99.0
    )


# ------------------------------------------------------------------ liveness


def test_node_goes_offline_then_its_jobs_are_lost_and_retried(personas, make_node, settings):
    node, agent = make_node("gpu-a")
    job = submit(personas)
    agent.post(
        "/api/agent/v1/ingest", {"records": [Stream(job.pk).status("running")]}, format="json"
    )
    later = timezone.now() + timedelta(seconds=settings.FORGE_NODE_OFFLINE_AFTER + 1)
    report = services.fleet_reconcile(now=later)
    assert report.offline == ["gpu-a"]
    job.refresh_from_db()
    assert job.state == S.RUNNING  # still within the grace period
    report = services.fleet_reconcile(
        now=later + timedelta(seconds=settings.FORGE_NODE_LOST_AFTER + 1)
    )
    assert report.lost_jobs == [job.pk]
    job.refresh_from_db()
    assert job.state == S.QUEUED and "went offline" in job.progress_message
    assert not AllocatedGpu.objects.filter(active=True).exists()
    agent.post("/api/agent/v1/heartbeat", {}, format="json")
    node.refresh_from_db()
    assert node.status == Node.Status.ONLINE


# ------------------------------------------------------------------ charts and pages


def test_downsampling_keeps_spikes(personas, make_node):
    _, _agent = make_node("gpu-a")
    job = submit(personas)
    points = [(job.pk, 1, "loss", i, 50.0 if i == 3333 else 1.0) for i in range(5000)]
    metric_points_insert(points)
    series = metric_series(job_id=job.pk, name="loss", max_points=200)
    assert series["downsampled"] and len(series["steps"]) <= 200 and series["total"] == 5000
    assert 50.0 in series["values"] and series["steps"][series["values"].index(50.0)] == 3333
    assert series["steps"] == sorted(series["steps"])


def test_job_metrics_api(personas, api, make_node):
    _, agent = make_node("gpu-a")
    job = submit(personas)
    s = Stream(job.pk)
    agent.post(
        "/api/agent/v1/ingest",
        {"records": [s.metric(i, loss=1.0 / i, lr=0.1) for i in range(1, 11)]},
        format="json",
    )
    data = api(personas.viewer).get(f"/api/v1/jobs/{job.pk}/metrics/").json()
    assert {s["name"] for s in data["series"]} == {"loss", "lr"}
    tail = api(personas.viewer).get(f"/api/v1/jobs/{job.pk}/metrics/?name=loss&after_step=8").json()
    assert tail["series"][0]["steps"] == [9, 10]
    assert api(personas.stranger).get(f"/api/v1/jobs/{job.pk}/metrics/").status_code == 404


def test_fleet_page_full_and_partial(personas, make_node):
    make_node("gpu-a", gpus=2)
    client = Client()
    client.force_login(personas.viewer)
    full = client.get("/fleet/")
    assert full.status_code == 200 and b"gpu-a" in full.content and b"NVIDIA H200" in full.content
    partial = client.get("/fleet/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'id="fleet-nodes"' in partial
    node_page = client.get("/fleet/gpu-a/")
    assert node_page.status_code == 200 and b"Jobs on this node" in node_page.content
    assert client.get("/fleet/nope/").status_code == 404
    assert client.post("/fleet/new/", {"name": "x"}).status_code == 403


def test_admin_adds_node_in_the_browser_and_sees_the_token(personas):
    client = Client()
    client.force_login(personas.admin)
    response = client.post("/fleet/new/", {"name": "gpu-new"})
    assert response.status_code == 200 and b"FORGE_NODE_TOKEN=fn_" in response.content
    assert Node.objects.filter(name="gpu-new").exists()


def test_connection_is_postgres_or_sqlite():
    assert connection.vendor in {"postgresql", "sqlite"}


def test_heartbeat_reports_host_load_and_spool(personas, make_node):
    node, agent = make_node("cpu-box", gpus=0)
    reply = agent.post(
        "/api/agent/v1/heartbeat",
        {
            "running": [],
            "host": {"cpu_util": 37.5, "mem_used_mib": 4096},
            "spool": {"pending": 12, "quarantined": 3},
        },
        format="json",
    )
    assert reply.status_code == 200
    node.refresh_from_db()
    assert (node.cpu_util, node.mem_used_mib, node.spool_quarantined) == (37.5, 4096, 3)
    agent.post("/api/agent/v1/heartbeat", {"host": {"cpu_util": "lots"}}, format="json")
    node.refresh_from_db()
    assert node.cpu_util is None  # nonsense is not stored
    # counts past the column's range (found by the schema fuzz: a 500 on PostgreSQL)
    huge = {"spool": {"pending": 2**31, "quarantined": 2**31}}
    assert agent.post("/api/agent/v1/heartbeat", huge, format="json").status_code == 200
    node.refresh_from_db()
    assert (node.spool_pending, node.spool_quarantined) == (0, 0)
    agent.post(
        "/api/agent/v1/heartbeat",
        {"host": {"cpu_util": 50.0, "mem_used_mib": 8192}, "spool": {"quarantined": 3}},
        format="json",
    )
    client = Client()
    client.force_login(personas.viewer)
    page = client.get("/fleet/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="host-load"' in page and "50%" in page and "refused by the console" in page


def test_corrupt_stored_spec_fails_at_dispatch_instead_of_looping(personas, make_node):
    make_node("gpu-a")
    job = job_services.job_submit(
        actor=personas.ml_engineer, project=personas.project, kind="demo.node", params={"steps": 2}
    )
    Job.objects.filter(pk=job.pk).update(spec={"steps": "many"})
    job_services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == S.FAILED and "invalid spec" in job.error
    assert not Allocation.objects.filter(job=job).exists()
