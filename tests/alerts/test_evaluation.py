"""Rules fire and resolve on real ingest (console.fleet.services.ingest_batch) and from
the periodic task; one alert per episode, not one per point."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.alerts import evaluate, services
from console.alerts.models import Alert, AlertRule
from console.jobs import services as job_services
from gpu_agent.supervisor import parse_marker

pytestmark = pytest.mark.django_db


def alerts(run, rule: str | None = None):
    qs = Alert.objects.filter(run=run).order_by("id")
    return list(qs.filter(rule__name=rule) if rule else qs)


def test_every_new_run_gets_the_default_rules(live_run):
    """The reference table, as the fixture sets it; a run's own values: test_defaults.py."""
    run = live_run().run
    rules = {r.name: r for r in AlertRule.objects.filter(run=run)}
    assert set(rules) == {
        "train-loss-high",
        "eval-loss-high",
        "lr-out-of-range",
        "gpu-util",
        "loss-not-finite",
        "loss-spike",
        "throughput-drop",
        "metrics-stalled",
    }
    loss = rules["train-loss-high"]
    assert (loss.metric, loss.high, loss.normal) == ("loss", 3.0, "1.8\u20132.5")
    assert (rules["eval-loss-high"].metric, rules["eval-loss-high"].high) == ("eval_loss", 3.5)
    assert (rules["lr-out-of-range"].low, rules["lr-out-of-range"].high) == (1e-6, 1e-4)
    gpu = rules["gpu-util"]
    assert (gpu.low, gpu.high, gpu.normal_low, gpu.normal_high) == (70.0, 98.0, 85.0, 95.0)
    assert rules["throughput-drop"].metric == "tokens_per_s"


def test_threshold_fires_once_while_it_holds_and_resolves_when_it_clears(live_run):
    live = live_run()
    live.losses(1, 2.4, 2.2, 2.0)
    assert alerts(live.run) == []
    live.losses(4, 2.1, 3.4, 3.6)  # breaks the rule at step 5, still broken at 6
    [alert] = alerts(live.run, "train-loss-high")
    assert (alert.step, alert.value, alert.resolved_at) == (5, 3.4, None)
    assert (
        "loss = 3.4 at step 5: above 3" in alert.message and "normal 1.8\u20132.5" in alert.message
    )
    live.losses(7, 3.2, 3.1)  # still above: the same alert stays open
    assert len(alerts(live.run, "train-loss-high")) == 1
    live.losses(9, 2.4)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    live.losses(10, 3.3)  # a new episode is a new alert
    assert [a.step for a in alerts(live.run, "train-loss-high")] == [5, 10]


def test_a_breach_within_one_batch_fires_and_resolves(live_run):
    live = live_run()
    live.losses(1, 2.0, 3.5, 2.0)
    [alert] = alerts(live.run)
    assert alert.step == 2 and alert.resolved_at is not None


def test_eval_loss_and_learning_rate_rules(live_run):
    live = live_run()
    live.metrics((1, {"loss": 2.0, "lr": 5e-7}), (2, {"loss": 2.0, "lr": 5e-5, "eval_loss": 3.9}))
    [lr] = alerts(live.run, "lr-out-of-range")
    assert lr.step == 1 and "below 1e-06" in lr.message and lr.resolved_at is not None
    [ev] = alerts(live.run, "eval-loss-high")
    assert ev.step == 2 and ev.resolved_at is None
    live.metrics((3, {"loss": 2.0, "lr": 2e-4}))
    assert "above 0.0001" in alerts(live.run, "lr-out-of-range")[1].message
    live.metrics((4, {"loss": 2.0, "lr": 5e-5, "eval_loss": 2.5}))
    ev.refresh_from_db()
    assert ev.resolved_at is not None


def test_nan_loss_fires_through_the_agents_own_record_path(live_run):
    """The agent turns a NaN in the loop's metric line into a metric record without it
    (NaN is not JSON) and a log line: the step's other metrics arrive without the loss."""
    live = live_run()
    live.losses(1, 2.2, 2.1)
    records = []
    for kind, data in parse_marker('{"type":"metric","step":3,"values":{"loss":NaN,"lr":5e-5}}'):
        records.append(live.stream.rec(kind, data))
    assert [r["type"] for r in records] == ["metric", "log"]
    live.send(*records)
    [alert] = alerts(live.run, "loss-not-finite")
    assert alert.step == 3 and alert.severity == "critical" and alert.resolved_at is None
    assert "NaN or infinite" in alert.message
    live.losses(4, 2.0)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert alerts(live.run, "train-loss-high") == []


def test_loss_spike_against_the_rolling_median(live_run):
    live = live_run()
    live.losses(1, *[1.0] * 6)
    live.losses(7, *[1.05] * 6)  # the median spans batches (kept in AlertState)
    assert alerts(live.run) == []
    live.losses(13, 1.9)  # 1.9 > 1.5 x 1.0 (below the 3.0 threshold)
    [alert] = alerts(live.run)
    assert (
        alert.rule.name == "loss-spike" and alert.step == 13 and "rolling median" in alert.message
    )
    live.losses(14, 1.0)
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_throughput_drop(live_run):
    live = live_run()
    points = [(i, {"loss": 2.0, "lr": 5e-5, "tokens_per_s": 1000.0 + i}) for i in range(1, 21)]
    live.metrics(*points[:10])
    live.metrics(*points[10:])
    live.metrics((21, {"loss": 2.0, "lr": 5e-5, "tokens_per_s": 300.0}))
    [alert] = alerts(live.run)
    assert alert.rule.name == "throughput-drop" and alert.value == 300.0
    live.metrics((22, {"loss": 2.0, "lr": 5e-5, "tokens_per_s": 1000.0}))
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_stalled_metrics_fire_from_the_periodic_task_and_resolve(live_run):
    live = live_run()
    live.losses(1, 2.0)
    assert evaluate.evaluate_periodic()["fired"] == 0
    later = timezone.now() + timedelta(seconds=400)
    assert evaluate.evaluate_periodic(now=later)["fired"] == 1
    [alert] = alerts(live.run, "metrics-stalled")
    assert "no new metric point for" in alert.message and alert.step == 1
    assert evaluate.evaluate_periodic(now=later)["fired"] == 0  # stays one alert
    live.losses(2, 2.0)
    evaluate.evaluate_periodic()
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_gpu_utilisation_from_fleet_telemetry(personas, live_run):
    live = live_run(gpus=1)
    now = timezone.now()  # ingest never stores a future time: samples lie in the past
    then = now - timedelta(seconds=600)
    for seconds in (60, 40, 20):
        live.telemetry(50.0, at=(then - timedelta(seconds=seconds)).timestamp())
    evaluate.evaluate_periodic(now=then)
    [alert] = alerts(live.run, "gpu-util")
    assert alert.value == pytest.approx(50.0)
    assert "gpu-a/gpu0 utilisation 50% (mean over 120 s): below 70%" in alert.message
    # Later samples are healthy: the mean over the window clears.
    for seconds in (60, 30):
        live.telemetry(90.0, at=(now - timedelta(seconds=seconds)).timestamp())
    evaluate.evaluate_periodic(now=now)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    # Too hot is an alert too (over a 10 s window, edited).
    rule = alert.rule
    services.rule_update(actor=personas.ml_engineer, rule=rule, data={"window": 10})
    for seconds in (8, 4):
        live.telemetry(99.5, at=(now - timedelta(seconds=seconds)).timestamp())
    evaluate.evaluate_periodic(now=now)
    assert "above 98%" in alerts(live.run, "gpu-util")[1].message


def test_periodic_alerts_resolve_when_the_run_stops(personas, live_run):
    live = live_run()
    live.losses(1, 2.0)
    evaluate.evaluate_periodic(now=timezone.now() + timedelta(seconds=400))
    [alert] = alerts(live.run, "metrics-stalled")
    job_services.job_cancel(actor=personas.ml_engineer, job_id=live.run.job_id)
    evaluate.evaluate_periodic(now=timezone.now() + timedelta(seconds=800))
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_disabled_rule_does_not_fire_and_its_open_alert_resolves(personas, live_run):
    live = live_run()
    live.losses(1, 3.5)
    [alert] = alerts(live.run)
    rule = alert.rule
    services.rule_update(actor=personas.ml_engineer, rule=rule, data={"enabled": False})
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    live.losses(2, 3.6)
    assert len(alerts(live.run)) == 1


def test_the_ingest_hook_is_cheap(personas, live_run, make_node):
    live = live_run()
    batch = {"loss": ([1, 2], [2.0, 2.1]), "lr": ([1, 2], [5e-5, 5e-5])}
    evaluate.on_metrics(live.run.job_id, 1, batch)
    with CaptureQueriesContext(connection) as queries:
        evaluate.on_metrics(live.run.job_id, 1, batch)
    # A savepoint around: state, open alerts, state update.
    assert len(queries) <= 5, [q["sql"] for q in queries]
    # A job that is not a run: one query, then none while cached.
    other = job_services.job_submit(
        actor=personas.ml_engineer, project=personas.project, kind="demo.node", params={}
    )
    with CaptureQueriesContext(connection) as queries:
        evaluate.on_metrics(other.pk, 1, batch)
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        evaluate.on_metrics(other.pk, 1, batch)
    assert len(queries) == 0


def test_a_large_batch_is_evaluated_with_numpy(live_run):
    live = live_run()
    n = 10_000
    steps = list(range(1, n + 1))
    losses = [2.0] * n
    losses[7_000] = 9.0
    evaluate.on_metrics(
        live.run.job_id,
        1,
        {"loss": (steps, losses), "lr": (steps, [5e-5] * n), "tokens_per_s": (steps, [1e3] * n)},
    )
    fired = {a.rule.name: a.step for a in alerts(live.run)}
    assert fired == {"train-loss-high": 7_001, "loss-spike": 7_001}


def test_a_failing_evaluation_never_costs_the_batch(live_run, monkeypatch):
    live = live_run()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(evaluate, "_medians", broken)
    result = live.losses(1, 3.5, 2.0)
    assert result.points == 4
    from console.metrics.selectors import metric_point_count

    assert metric_point_count(job_id=live.run.job_id) == 4
    assert alerts(live.run) == []  # rolled back to the savepoint, nothing half-written
