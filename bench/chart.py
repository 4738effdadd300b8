"""bench/chart: server time to answer a run chart of 1,000,000 points per metric, next to MLflow.

    .venv/bin/python bench/chart.py [--points 1000000] [--requests 50] [--mlflow-seconds 60]
                                    [--rounds 5] [--profile FILE]

Makes fresh PostgreSQL databases on 127.0.0.1:5432 (forge_bench_chart, mlflow_bench_chart).
Forge: migrated and served by gunicorn (2 workers x 2 threads); one demo.node job placed
on a registered node; --points steps of 2 metrics (loss, and lr beside it in the table)
written through the product's own console.metrics.services.metric_points_insert (COPY), with
a spike (loss 25.0 at step 777,777) and a dip (loss 0.0 at step 333,333) in an otherwise
smooth loss curve; then VACUUM ANALYZE (what autovacuum does after a load). Timed:
--requests calls of GET /api/v1/jobs/<id>/metrics/?name=loss&max_points=1000 with the
admin's API token (`manage.py api_token admin`), over a keep-alive connection, each turn
after a warm-up call; the first answer is checked (1,000,000 total, <= 1,000 points, spike
and dip kept).

MLflow (its own virtualenv, bench/.venv-mlflow; `mlflow server`, 2 workers): one run, its
first 250 steps logged through the REST log-batch, the rest of the same 2 x --points rows
COPYed into its `metrics` table as log_batch writes them (key, value, timestamp, run_uuid,
step, is_nan; latest_metrics updated), then VACUUM ANALYZE. Timed:
  - GET /api/2.0/mlflow/metrics/get-history?run_id=&metric_key=loss: the whole history in
    one answer (no max_results: this version's documented non-paginated path, and what the
    UI's getMetricHistory asks for); no warm-up, a new call starts while --mlflow-seconds
    have not run out (a call takes about a minute here);
  - the same, paged with max_results=25,000 (what MlflowClient.get_metric_history does),
    whole history per call, up to 3 calls while --mlflow-seconds / 2 have not run out;
  - GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=&metric_key=loss
    &max_results=1000: the UI's sampled chart call (evenly spaced rows), --requests calls
    (or fewer, within --mlflow-seconds); whether the spike and the dip survive is reported.
Both servers stay up; the two chart calls take turns (--rounds turns each, Forge then MLflow)
so that load from other tenants of a shared machine falls on both alike, then come MLflow's
whole-history calls.
Latencies are wall-clock on the client, on the same machine. Target (BENCHMARKS.md):
< 200 ms p95. Prints a table last. Both databases and servers are removed on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

FORGE_DB = "forge_bench_chart"
MLFLOW_DB = "mlflow_bench_chart"
SPIKE_STEP, SPIKE = 777_777, 25.0
DIP_STEP, DIP = 333_333, 0.0
TS0 = 1_764_000_000_000  # ms
METRICS = ("loss", "lr")  # two series of --points each: the chart reads one of them


def value(name: str, step: int) -> float:
    if name == "loss" and step == SPIKE_STEP:
        return SPIKE
    if name == "loss" and step == DIP_STEP:
        return DIP
    return c.metric_value(name, step)


def copy_rows(dbname: str, statement: str, rows, chunk: int = 100_000) -> int:
    """COPY tuples as text, `chunk` rows per write (Python's float repr round-trips)."""
    import psycopg

    def text(v) -> str:
        return (
            ("t" if v else "f")
            if isinstance(v, bool)
            else repr(v)
            if isinstance(v, float)
            else str(v)
        )

    n, lines = 0, []
    with psycopg.connect(f"{c.PG}/{dbname}") as conn:
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                lines.append("\t".join(map(text, row)))
                if len(lines) >= chunk:
                    copy.write("\n".join(lines) + "\n")
                    n, lines = n + len(lines), []
            if lines:
                copy.write("\n".join(lines) + "\n")
                n += len(lines)
        conn.commit()
    return n


def forge_load(job: int, attempt: int, steps: int, chunk: int = 25_000) -> None:
    """Through the product's own writer, console.metrics.services.metric_points_insert (COPY
    on PostgreSQL, plus whatever it maintains besides), `chunk` steps per transaction."""
    from django.db import connection, transaction

    from console.metrics.services import metric_points_insert

    for start in range(1, steps + 1, chunk):
        points = [
            (job, attempt, name, step, value(name, step))
            for step in range(start, min(start + chunk, steps + 1))
            for name in METRICS
        ]
        with transaction.atomic():
            metric_points_insert(points)
    connection.close()


def timed_get(
    port: int, path: str, headers: dict, count: int, seconds: float, check, warmup: bool = True
) -> dict:
    """`count` GETs (or fewer when `seconds` run out) over one keep-alive connection, after
    an untimed warm-up call (or, with warmup=False, timing that first call too); the first
    answer is the one checked. Latencies in seconds."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def get() -> tuple[float, bytes]:
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - t
        if resp.status != 200:
            raise SystemExit(f"GET {path} answered {resp.status}: {body[:300]!r}")
        return elapsed, body

    deadline = time.monotonic() + seconds
    first, body = get()
    verdict = check(json.loads(body))
    latencies: list[float] = [] if warmup else [first]
    while len(latencies) < count and time.monotonic() < deadline:
        latencies.append(get()[0])
    conn.close()
    return {"lat": latencies, "bytes": len(body), "check": verdict}


def paged_history(port: int, run_id: str, count: int, seconds: float) -> dict:
    """The whole history in pages of 25,000, as MlflowClient.get_metric_history fetches it."""
    import http.client
    from urllib.parse import urlencode

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    latencies, points, pages = [], 0, 0
    deadline = time.monotonic() + seconds
    while len(latencies) < count and time.monotonic() < deadline:
        t, token, points, pages = time.perf_counter(), "", 0, 0
        while True:
            query = {"run_id": run_id, "metric_key": "loss", "max_results": 25_000}
            if token:
                query["page_token"] = token
            conn.request("GET", "/api/2.0/mlflow/metrics/get-history?" + urlencode(query))
            resp = conn.getresponse()
            page = json.loads(resp.read())
            if resp.status != 200:
                raise SystemExit(f"paged get-history answered {resp.status}: {page}")
            points += len(page.get("metrics", []))
            pages += 1
            token = page.get("next_page_token", "")
            if not token:
                break
        latencies.append(time.perf_counter() - t)
    conn.close()
    return {"lat": latencies, "points": points, "pages": pages}


def measured(server_pid: int, dbname: str, call) -> dict:
    """Run call() -> dict and add 'others': the share of the cores used meanwhile by
    processes other than the server, PostgreSQL and this client (other tenants, kernel)."""
    t0, wall0 = os.times(), time.monotonic()
    with c.CpuMeter(server_pid, (dbname,)) as cpu:
        result = call()
    t1, wall = os.times(), time.monotonic() - wall0
    client = (t1.user - t0.user) + (t1.system - t0.system)
    others = max(0.0, cpu.machine - cpu.server - cpu.pg - client)
    result["others"] = others / ((os.cpu_count() or 1) * wall)
    return result


def pooled(turns: list[dict]) -> dict:
    """One system's turns as one: latencies pooled, 'others' weighted by time, first check."""
    weight = [sum(t["lat"]) or 1e-9 for t in turns]
    return {
        "lat": [x for t in turns for x in t["lat"]],
        "bytes": turns[0]["bytes"],
        "check": turns[0]["check"],
        "others": sum(t["others"] * w for t, w in zip(turns, weight, strict=True)) / sum(weight),
    }


def has(steps: list[int], values: list[float], step: int, value_: float) -> bool:
    return any(s == step and v == value_ for s, v in zip(steps, values, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--mlflow-seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=5, help="Alternating chart-call turns.")
    parser.add_argument(
        "--budget",
        type=float,
        default=540.0,
        help="Skip the paged MLflow call when it would end the run after this many seconds.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the state folder.")
    parser.add_argument(
        "--profile", default="", help="py-spy the gunicorn workers during the timed Forge calls."
    )
    args = parser.parse_args()
    steps = args.points
    if not DIP_STEP < SPIKE_STEP <= steps:
        raise SystemExit(f"--points must be at least {SPIKE_STEP}")

    began = time.monotonic()
    c.handle_signals()
    c.ensure_mlflow_venv()
    version = c.mlflow_version()
    state = Path(tempfile.mkdtemp(prefix="forge-bench-chart-"))
    procs = c.Processes()
    forge_port, mlflow_port = c.free_port(), c.free_port()
    results: dict = {}
    try:
        c.db_create(FORGE_DB)
        c.db_create(MLFLOW_DB)

        # ---- Forge
        env = c.forge_env(state, FORGE_DB)
        c.log("migrating Forge")
        setup = c.forge_setup(env)
        gunicorn = c.start_forge(procs, env, forge_port, state)
        c.wait_http(forge_port, "/api/agent/v1/heartbeat", gunicorn)
        c.forge_register(forge_port, setup["key"])
        job, attempt = c.forge_job(setup, forge_port)
        token = c.forge_api_token(env)
        c.log(f"loading {steps:,} steps x {len(METRICS)} metrics into Forge")
        with c.timer() as load_forge:
            forge_load(job, attempt, steps)
            c.pg_admin_db(FORGE_DB, "VACUUM ANALYZE")
        c.wait_idle()

        def forge_check(reply: dict) -> dict:
            series = reply["series"][0]
            return {
                "total": series["total"],
                "returned": len(series["steps"]),
                "spike": has(series["steps"], series["values"], SPIKE_STEP, SPIKE),
                "dip": has(series["steps"], series["values"], DIP_STEP, DIP),
            }

        # ---- MLflow
        c.log(f"starting MLflow {version}")
        mlflow = c.start_mlflow(procs, MLFLOW_DB, mlflow_port, state)
        c.wait_http(mlflow_port, "/health", mlflow)
        experiment = c.http_json(
            mlflow_port, "POST", "/api/2.0/mlflow/experiments/create", {"name": "chart"}
        )["experiment_id"]
        run_id = c.http_json(
            mlflow_port,
            "POST",
            "/api/2.0/mlflow/runs/create",
            {"experiment_id": experiment, "start_time": TS0, "run_name": "chart"},
        )["run"]["info"]["run_id"]
        # The first batch through the API, to check the rows we COPY look like MLflow's own.
        first = [
            {"key": n, "value": value(n, s), "timestamp": TS0 + s * 10, "step": s}
            for s in range(1, 251)
            for n in METRICS
        ]
        c.http_json(
            mlflow_port,
            "POST",
            "/api/2.0/mlflow/runs/log-batch",
            {"run_id": run_id, "metrics": first},
        )
        c.log(f"loading {steps:,} steps x {len(METRICS)} metrics into MLflow (COPY)")
        with c.timer() as load_mlflow:
            copy_rows(
                MLFLOW_DB,
                "COPY metrics (key, value, timestamp, run_uuid, step, is_nan) FROM STDIN",
                (
                    (name, value(name, step), TS0 + step * 10, run_id, step, False)
                    for step in range(251, steps + 1)
                    for name in METRICS
                ),
            )
            for name in METRICS:
                c.db_scalar(
                    MLFLOW_DB,
                    "UPDATE latest_metrics SET value = %s, timestamp = %s, step = %s "
                    "WHERE run_uuid = %s AND key = %s RETURNING 1",
                    (value(name, steps), TS0 + steps * 10, steps, run_id, name),
                )
            c.pg_admin_db(MLFLOW_DB, "VACUUM ANALYZE metrics")
        c.wait_idle()
        mlflow_rows = c.db_scalar(
            MLFLOW_DB,
            "SELECT count(*) FROM metrics WHERE run_uuid = %s AND key = 'loss'",
            (run_id,),
        )

        def full_check(reply: dict) -> dict:
            metrics = reply.get("metrics", [])
            return {
                "total": len(metrics),
                "returned": len(metrics),
                "spike": any(m["step"] == SPIKE_STEP and m["value"] == SPIKE for m in metrics),
                "dip": any(m["step"] == DIP_STEP and m["value"] == DIP for m in metrics),
            }

        # Short alternating turns for the chart calls, so that other tenants' load on a
        # shared machine falls on both alike; then MLflow's whole-history calls.
        forge_path = f"/api/v1/jobs/{job}/metrics/?name=loss&max_points=1000"
        sampled_path = (
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
            f"?run_ids={run_id}&metric_key=loss&max_results=1000"
        )
        spy = c.profile_start(gunicorn.pid, Path(args.profile)) if args.profile else None
        forge_turns, sampled_turns = [], []
        per_turn = max(1, args.requests // args.rounds)
        for rnd in range(args.rounds):
            c.log(f"round {rnd + 1}/{args.rounds}: {per_turn} Forge chart calls")
            forge_turns.append(
                measured(
                    gunicorn.pid,
                    FORGE_DB,
                    lambda: timed_get(
                        forge_port,
                        forge_path,
                        {"Authorization": f"Token {token}"},
                        per_turn,
                        600,
                        forge_check,
                    ),
                )
            )
            c.log(f"round {rnd + 1}/{args.rounds}: {per_turn} MLflow sampled chart calls")
            sampled_turns.append(
                measured(
                    mlflow.pid,
                    MLFLOW_DB,
                    lambda: timed_get(
                        mlflow_port,
                        sampled_path,
                        {},
                        per_turn,
                        args.mlflow_seconds / args.rounds,
                        full_check,
                    ),
                )
            )
        if spy is not None:
            c.profile_stop(spy)
        results["forge"] = pooled(forge_turns)
        results["mlflow_sampled"] = pooled(sampled_turns)
        c.log("MLflow: get-history, whole history in one answer")
        results["mlflow_full"] = measured(
            mlflow.pid,
            MLFLOW_DB,
            lambda: timed_get(
                mlflow_port,
                f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss",
                {},
                args.requests,
                args.mlflow_seconds,
                full_check,
                warmup=False,  # a call takes about a minute here: every call is timed
            ),
        )
        whole = results["mlflow_full"]["lat"][0]
        if time.monotonic() - began + 1.5 * whole < args.budget:
            c.log("MLflow: get-history paged by 25,000")
            results["mlflow_paged"] = measured(
                mlflow.pid,
                MLFLOW_DB,
                lambda: paged_history(mlflow_port, run_id, 3, args.mlflow_seconds / 2),
            )
        else:
            c.log(f"MLflow: paged get-history skipped (--budget {args.budget:.0f} s)")
            results["mlflow_paged"] = {"lat": [], "points": None, "pages": 0, "others": 0.0}
    finally:
        procs.stop_all()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - django may not be set up
            pass
        for db in (FORGE_DB, MLFLOW_DB):
            try:
                c.db_drop(db)
            except Exception as exc:
                c.log(f"could not drop {db}: {exc}")
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)

    f = results["forge"]
    full, paged, sampled = (
        results["mlflow_full"],
        results["mlflow_paged"],
        results["mlflow_sampled"],
    )
    checks = {
        f"forge: total == {steps:,}": f["check"]["total"] == steps,
        "forge: <= 1,000 points returned": f["check"]["returned"] <= 1000,
        f"forge: spike at step {SPIKE_STEP:,} kept": f["check"]["spike"],
        f"forge: dip at step {DIP_STEP:,} kept": f["check"]["dip"],
        f"mlflow: {steps:,} loss rows stored": mlflow_rows == steps,
        f"mlflow: get-history returns all {steps:,}": full["check"]["total"] == steps,
        f"mlflow: paged get-history returns all {steps:,}"
        + (" (not run: --budget)" if paged["points"] is None else ""): paged["points"]
        in (steps, None),
    }
    print()
    print(
        f"loaded {steps:,} steps x {len(METRICS)} metrics: Forge {load_forge[0]:.1f} s, "
        f"MLflow {load_mlflow[0]:.1f} s (+ VACUUM ANALYZE; a bulk load, not an ingest figure)"
    )
    print("checks:")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(
        f"  info  mlflow sampled chart (max_results=1000): {sampled['check']['returned']} points, "
        f"spike {'kept' if sampled['check']['spike'] else 'LOST'}, "
        f"dip {'kept' if sampled['check']['dip'] else 'LOST'}"
    )
    print(f"\nrun chart, one metric of {steps:,} points, 2 server workers, PostgreSQL 15, 2 cores")
    print(
        f"{'system / call':<52}{'calls':>6}{'p50 ms':>10}{'p95 ms':>10}{'points':>10}"
        f"{'bytes':>12}{'spike':>7}{'others':>8}"
    )
    rows = [
        ("Forge metrics/?max_points=1000 (min/max buckets)", f, f["check"], f["bytes"]),
        (f"MLflow {version} get-history (whole)", full, full["check"], full["bytes"]),
        (
            f"MLflow {version} get-history paged 25k ({paged['pages']} pages)",
            paged,
            {"returned": paged["points"], "spike": None},
            0,
        ),
        (
            f"MLflow {version} bulk-interval max_results=1000",
            sampled,
            sampled["check"],
            sampled["bytes"],
        ),
    ]
    for name, r, check, size in rows:
        lat = r["lat"]
        if not lat:
            print(f"{name:<52}{'skipped':>6}")
            continue
        spike = "" if check["spike"] is None else ("kept" if check["spike"] else "lost")
        print(
            f"{name:<52}{len(lat):>6}{1000 * statistics.median(lat):>10.0f}"
            f"{1000 * c.pct(lat, 0.95):>10.0f}{check['returned']:>10,}"
            f"{size if size else '':>12}{spike:>7}{100 * r['others']:>7.0f}%"
        )
    print(
        "'others': the share of the 2 cores used during those calls by anything but the "
        "server, PostgreSQL and this client (other tenants of the machine; kernel)"
    )
    if not all(checks.values()):
        raise SystemExit("a correctness check failed")


if __name__ == "__main__":
    main()
