"""Fixtures for the alerts app: a run whose job is dispatched on a registered node and
running, fed through the real ingest (console.fleet.services.ingest_batch); a local
HTTP receiver for webhooks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from console.alerts import cache
from console.alerts.defaults import DEFAULT_RULES
from console.alerts.models import AlertRule
from console.fleet import services as fleet
from console.jobs import services as job_services
from console.runs import services as run_services
from console.runs.models import Run
from tests.fleet.conftest import Stream, make_node  # noqa: F401 - a fixture
from tests.runs.conftest import CPU_RUN, data_dir, make_corpus  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _fresh_rule_cache():
    cache.clear()
    yield
    cache.clear()


@dataclass
class Live:
    """A running run and its agent's streams: send metrics and telemetry."""

    run: Run
    node: object
    stream: Stream
    telemetry_seq: int = 0
    gpus: list[int] = field(default_factory=list)

    def send(self, *records: dict):
        return fleet.ingest_batch(
            node=self.node, records=fleet.parse_batch({"records": list(records)})
        )

    def metrics(self, *points: tuple[int, dict]):
        return self.send(*(self.stream.metric(step, **values) for step, values in points))

    def losses(self, start: int, *losses: float, **extra: float):
        return self.metrics(
            *((start + i, {"loss": v, "lr": 5e-5, **extra}) for i, v in enumerate(losses))
        )

    def telemetry(self, util: float, *, at: float | None = None, index: int = 0):
        self.telemetry_seq += 1
        record = {
            "job": None,
            "attempt": 0,
            "seq": self.telemetry_seq,
            "type": "telemetry",
            "at": at if at is not None else timezone.now().timestamp(),
            "data": {
                "gpus": [
                    {
                        "index": index,
                        "util": util,
                        "mem_used_mib": 1.0,
                        "power_w": 1.0,
                        "temp_c": 1.0,
                    }
                ]
            },
        }
        return self.send(record)


@pytest.fixture
def live_run(personas, make_node, data_dir):  # noqa: F811
    """live_run(gpus=0) -> Live: a run launched by the ML engineer, dispatched and running.

    Its rules are the reference recipe's table (defaults.DEFAULT_RULES: loss above 3.0, lr
    1e-6 to 1e-4, ...), which the evaluation tests judge points against;
    ``own_rules=True`` keeps the defaults this tiny run gets (test_defaults.py); other
    keywords go to run_create."""

    def make(gpus: int = 0, own_rules: bool = False, **launch) -> Live:
        node, _ = make_node("gpu-a" if gpus else "cpu-a", gpus=gpus)
        corpus = make_corpus(personas.project)
        extra = {"gpus_per_node": 1, "zero_stage": 3, "bf16": True} if gpus else {}
        run = run_services.run_create(
            actor=personas.ml_engineer,
            project=personas.project,
            corpus=corpus,
            **{**CPU_RUN, **extra, **launch},
        )
        if not own_rules:
            for rule in DEFAULT_RULES:
                values = {k: rule.get(k) for k in ("low", "high", "normal_low", "normal_high")}
                AlertRule.objects.filter(run=run, name=rule["name"]).update(**values)
            cache.forget(run.job_id)
        job_services.job_schedule(job_id=run.job_id)
        run.refresh_from_db()
        assert run.job.state == "dispatched", run.job.progress_message
        live = Live(run=run, node=node, stream=Stream(run.job_id, attempt=run.job.attempt))
        live.send(live.stream.status("running"))
        run.job.refresh_from_db()
        assert run.job.state == "running"
        return live

    return make


class Receiver:
    """A webhook receiver on loopback: records the JSON bodies POSTed to /hook; /redirect
    answers 307 to wherever `redirect_to` says; `fail` 5xx answers come first."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.redirect_to = ""
        self.fail = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.paths.append(self.path)
                if self.path.startswith("/redirect"):
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                    self.end_headers()
                    return
                if receiver.fail > 0:
                    receiver.fail -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=5)
