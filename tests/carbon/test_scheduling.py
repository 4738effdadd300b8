"""Carbon-aware scheduling in the console: the forecast it plans with (never waiting for
a provider; fallbacks warned), plans made as a job is scheduled (deferral in
PostgreSQL's not_before), bad times refused, capacity shared between planned jobs,
"run now", and the window tick that pauses and resumes interruptible jobs."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from console.carbon import selectors, services
from console.carbon.engine import CsvTraceProvider
from console.carbon.models import ForecastSnapshot
from console.core.errors import Conflict, Forbidden, InvalidInput
from console.jobs import services as jobs
from console.jobs.models import Job, JobState
from console.runs import services as runs
from tests.fleet.conftest import make_node  # noqa: F401 - fixture
from tests.runs.conftest import corpus, data_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # the synthetic trace's first row
LOW, HIGH = 100.0, 500.0


def low_hour(t: datetime) -> bool:
    return 2 <= t.hour < 5


@pytest.fixture
def trace(settings, tmp_path):
    """One week, 30-minute rows: 100 g/kWh from 02:00 to 05:00 UTC every day, else 500."""
    rows = ["Time,Carbon Intensity"]
    for i in range(7 * 48):
        t = MONDAY + timedelta(minutes=30 * i)
        rows.append(f"{t:%Y-%m-%d %H:%M:%S},{LOW if low_hour(t) else HIGH}")
    path = tmp_path / "trace.csv"
    path.write_text("\n".join(rows) + "\n")
    settings.FORGE_CARBON_PROVIDER = "trace"
    settings.FORGE_CARBON_TRACE = str(path)
    return CsvTraceProvider(path)


def submit(personas, **kw) -> Job:
    return jobs.job_submit(
        actor=personas.ml_engineer,
        project=personas.project,
        kind="demo.count",
        params={"steps": 3, "step_seconds": 0},
        **kw,
    )


def on_monday(job: Job, days: int = 2) -> Job:
    """Plan against the trace's first Monday (the deadline set after the submit, which
    refuses past times)."""
    job.deadline = MONDAY + timedelta(days=days)
    Job.objects.filter(pk=job.pk).update(deadline=job.deadline)
    return job


# ------------------------------------------------------------------ forecasts


def test_the_local_trace_is_the_forecast(trace):
    forecast, warning = selectors.forecast_current(MONDAY + timedelta(hours=1))
    assert warning == "" and forecast.source == "trace:trace.csv"
    assert forecast.intensity_at(MONDAY + timedelta(hours=3)) == LOW


class _Provider(BaseHTTPRequestHandler):
    body = b"[]"
    status = 200

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_provider(settings):
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.FORGE_CARBON_PROVIDER = "http"
    settings.FORGE_CARBON_HTTP_API = "carbon-aware-sdk"
    settings.FORGE_CARBON_HTTP_URL = f"http://127.0.0.1:{server.server_port}"
    settings.FORGE_CARBON_LOCATION = "westeurope"
    settings.FORGE_CARBON_CONSTANT = 321.0
    yield _Provider
    server.shutdown()


def _sdk_body(now: datetime, values: list[float]) -> bytes:
    start = now.replace(minute=0, second=0, microsecond=0)
    data = [
        {"timestamp": (start + timedelta(minutes=30 * i)).isoformat(), "duration": 30, "value": v}
        for i, v in enumerate(values)
    ]
    return json.dumps([{"location": "westeurope", "forecastData": data}]).encode()


def test_http_provider_down_or_garbage_falls_back_with_a_warning(http_provider):
    now = timezone.now()
    # nothing fetched yet: the constant, with a warning; a job never waits
    forecast, warning = selectors.forecast_current(now)
    assert forecast.intensity_at(now) == 321.0 and "constant 321" in warning
    # a good fetch is kept and used
    http_provider.body = _sdk_body(now, [200.0] * 200)
    snapshot = services.forecast_refresh(now=now)
    assert snapshot.ok and snapshot.provider.startswith("carbon-aware-sdk")
    forecast, warning = selectors.forecast_current(now)
    assert warning == "" and forecast.intensity_at(now + timedelta(hours=2)) == 200.0
    # garbage, then the provider down: stored as errors; the last good forecast is used
    http_provider.body = b'{"not": "a forecast"'
    bad = services.forecast_refresh(now=now + timedelta(minutes=5))
    assert not bad.ok and "JSON" in bad.error
    http_provider.status, http_provider.body = 503, b"{}"
    down = services.forecast_refresh(now=now + timedelta(minutes=10))
    assert not down.ok and "503" in down.error
    forecast, warning = selectors.forecast_current(now + timedelta(minutes=11))
    assert forecast.intensity_at(now + timedelta(hours=2)) == 200.0
    assert "failed" in warning and "using the forecast fetched" in warning
    assert ForecastSnapshot.objects.filter(ok=False).count() == 2


def test_misconfigured_provider_plans_with_the_constant(settings):
    settings.FORGE_CARBON_PROVIDER = "trace"
    settings.FORGE_CARBON_TRACE = "/nonexistent/trace.csv"
    forecast, warning = selectors.forecast_current()
    assert "misconfigured" in warning and "constant" in warning
    assert forecast.points


# ------------------------------------------------------------------ plans


def test_a_flexible_job_is_deferred_to_the_low_carbon_window(personas, trace):
    now = timezone.now()
    job = submit(personas, carbon_aware=True, deadline=now + timedelta(hours=30),
                 expected_seconds=3600)  # fmt: skip
    jobs.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    plan = job.carbon_plan
    assert plan and plan["deadline_met"] and plan["source"] == "trace:trace.csv"
    start = job.carbon_start
    assert job.not_before == start
    assert low_hour(start) and low_hour(start + timedelta(minutes=59))
    if not low_hour(now):
        assert job.state == JobState.SCHEDULED  # deferred in PostgreSQL, not dispatched
        hour = trace.forecast(now, now + timedelta(hours=2)).mean_between(
            now, now + timedelta(hours=1)
        )
        assert plan["savings_pct"] == pytest.approx(100 * (1 - LOW / hour), abs=0.5)
        assert plan["now_g"] > plan["expected_g"] > 0
    assert plan["expected_seconds"] == 3600 and plan["duration_basis"] == "given"


def test_interruptible_plans_use_several_windows(personas, trace):
    job = on_monday(
        submit(personas, carbon_aware=True, interruptible=True, expected_seconds=5 * 3600)
    )
    plan = services.job_plan(job, now=MONDAY)
    windows = job.carbon_windows
    assert len(windows) == 2  # 3 h on Monday's low and 2 h on Tuesday's
    assert all(low_hour(a) and low_hour(b - timedelta(minutes=1)) for a, b in windows)
    assert sum((b - a for a, b in windows), timedelta()) == timedelta(hours=5)
    assert plan["savings_pct"] > 50


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"deadline": -1}, "has passed"),
        ({"deadline": 2, "expected_seconds": 3 * 3600}, "too near"),
        ({"deadline": 5, "not_before": 6}, "after the deadline"),
        ({"expected_seconds": 10}, "between 1 minute"),
    ],
)
def test_impossible_times_are_refused(personas, trace, kw, message):
    now = timezone.now()
    for name in ("deadline", "not_before"):
        if name in kw:
            kw[name] = now + timedelta(hours=kw[name])
    before = Job.objects.count()
    with pytest.raises(InvalidInput, match=message):
        submit(personas, carbon_aware=True, **kw)
    assert Job.objects.count() == before


def test_naive_times_and_non_pausable_interruptible_are_refused(personas, trace):
    with pytest.raises(InvalidInput, match="time zone"):
        submit(personas, deadline=datetime(2030, 1, 1))
    with pytest.raises(InvalidInput, match="cannot be paused"):
        jobs.job_create(
            actor=personas.ml_engineer,
            project=personas.project,
            kind="data.clean",
            params={},
            carbon_aware=True,
            interruptible=True,
        )


def test_planned_jobs_share_the_cheap_hours_by_capacity(personas, trace, corpus, make_node):  # noqa: F811
    make_node("gpu-1", gpus=1)

    def launch():
        run = runs.run_create(
            actor=personas.ml_engineer, project=personas.project, corpus=corpus, preset="tiny",
            steps=10, gpus_per_node=1, carbon_aware=True, expected_hours=1.0,
        )  # fmt: skip
        return on_monday(run.job, days=1)

    first, second = launch(), launch()
    services.job_plan(first, now=MONDAY)
    services.job_plan(second, now=MONDAY)
    (a1, b1), (a2, b2) = first.carbon_windows[0], second.carbon_windows[0]
    assert low_hour(a1) and low_hour(a2)
    assert b1 <= a2 or b2 <= a1, (first.carbon_windows, second.carbon_windows)


def test_training_duration_is_estimated_when_not_given(personas, trace, corpus, make_node):  # noqa: F811
    make_node("gpu-1", gpus=1)
    run = runs.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, preset="tiny",
        steps=10, gpus_per_node=1, carbon_aware=True,
        deadline=timezone.now() + timedelta(days=2),
    )  # fmt: skip
    duration, basis = services.expected_duration(run.job)
    assert duration >= timedelta(minutes=1) and "tokens estimated at" in basis


def test_run_now_overrides_the_plan(personas, trace):
    now = timezone.now()
    # not_before keeps the job waiting whatever the time of day (now may be a low hour)
    job = submit(personas, carbon_aware=True, deadline=now + timedelta(hours=30),
                 not_before=now + timedelta(hours=1), expected_seconds=3600)  # fmt: skip
    jobs.job_schedule(job_id=job.pk)
    with pytest.raises(Forbidden):
        jobs.job_run_now(actor=personas.viewer, job=job)
    job = jobs.job_run_now(actor=personas.ml_engineer, job=job)
    assert job.carbon_plan["overridden"] and job.carbon_plan["overridden_by"] == "milo_ml"
    assert job.state == JobState.DISPATCHED
    with pytest.raises(Conflict):
        jobs.job_run_now(actor=personas.ml_engineer, job=job)
    with pytest.raises(InvalidInput, match="not carbon-aware"):
        jobs.job_run_now(actor=personas.ml_engineer, job=submit(personas))


def test_the_window_tick_pauses_and_resumes(personas, trace):
    job = on_monday(
        submit(personas, carbon_aware=True, interruptible=True, expected_seconds=5 * 3600)
    )
    services.job_plan(job, now=MONDAY)
    (a1, b1), (a2, _b2) = job.carbon_windows
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempt=1)
    assert services.carbon_windows_tick(now=a1 + timedelta(minutes=5)) == {
        "paused": [], "resumed": []}  # fmt: skip
    assert services.carbon_windows_tick(now=b1 + timedelta(seconds=1))["paused"] == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.PAUSED and job.not_before == a2
    assert job.carbon_plan["paused_by_scheduler"] and "carbon-aware" in job.progress_message
    # not before the next window; a job a user paused is left alone
    assert services.carbon_windows_tick(now=a2 - timedelta(minutes=1))["resumed"] == []
    assert services.carbon_windows_tick(now=a2 + timedelta(seconds=1))["resumed"] == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.carbon_plan["resumes"] == 1
