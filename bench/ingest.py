"""bench/ingest: metric points per second through the real HTTP ingest, next to MLflow.

    .venv/bin/python bench/ingest.py [--points 2000000] [--clients 4] [--mlflow-seconds 60]
                                     [--rounds 3] [--profile FILE]

Makes two fresh PostgreSQL databases on 127.0.0.1:5432 (forge_bench, mlflow_bench),
migrates Forge into the first and serves it with gunicorn (2 workers x 2 threads),
and starts an MLflow tracking server (`mlflow server`, 2 workers) on the second; MLflow
lives in its own virtualenv, bench/.venv-mlflow, made here when missing.

The same client shape drives both: --clients processes, each with its own job (Forge)
or run (MLflow), sending pre-built batches back to back over one keep-alive connection.
  Forge:  POST /api/agent/v1/ingest, 10,000 metric records per batch (the contract's
          MAX_BATCH_RECORDS), 4 values per record, so 40,000 points per request.
  MLflow: MlflowClient.log_batch with 1,000 metrics (MLflow's cap per batch), the same
          (name, step, value) points as 250 steps x 4 metrics.
A point is one (name, step, value). Forge sends --points points; MLflow gets the same
share per client but stops after --mlflow-seconds, and its rate is extrapolated to the
full count. The two take turns in --rounds rounds (Forge a third of its points, then MLflow
a third of its time, and again), so that load from other tenants of a shared machine falls
on both alike; the figures are the sums. Afterwards the rows are counted in both databases
(and checked for duplicates), and one Forge batch is sent again to check it is refused as
duplicates.
Target (BENCHMARKS.md): >= 10x MLflow and >= 100,000 points/s. Prints a table last.
Both databases and all servers are removed on exit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

FORGE_DB = "forge_bench"
MLFLOW_DB = "mlflow_bench"
RECORDS_PER_BATCH = 10_000  # gpu_agent.spec.MAX_BATCH_RECORDS
MLFLOW_BATCH = 1_000  # MLflow's MAX_METRICS_PER_BATCH
VALUES = len(c.METRIC_NAMES)
AT0 = 1_764_000_000.0


def forge_stored_points() -> tuple[int, int]:
    """(points stored, points whose (job, attempt, name, step) is stored more than once),
    read back from Forge's chunks: every point unpacked and checked."""
    import numpy as np
    import psycopg

    points = dups = 0
    with psycopg.connect(f"{c.PG}/{FORGE_DB}", autocommit=True) as conn:
        series = conn.execute(
            "SELECT DISTINCT job_id, attempt, name FROM metrics_metricchunk"
        ).fetchall()
        for job, attempt, name in series:
            chunks = conn.execute(
                "SELECT steps FROM metrics_metricchunk WHERE job_id = %s AND attempt = %s "
                "AND name = %s",
                (job, attempt, name),
            ).fetchall()
            steps = np.concatenate([np.frombuffer(row[0], dtype="<i8") for row in chunks])
            points += len(steps)
            dups += len(steps) - len(np.unique(steps))
    return points, dups


# ------------------------------------------------------------------ load drivers
# Run as `python bench/ingest.py --driver forge|mlflow --spec JSON`, under the project's
# python (Forge) or bench/.venv-mlflow's (MLflow). Each prints "RESULT {json}".


def _forge_batches(job: int, attempt: int, first_step: int, steps: int) -> list[bytes]:
    out = []
    for start in range(first_step, first_step + steps, RECORDS_PER_BATCH):
        stop = min(start + RECORDS_PER_BATCH, first_step + steps)
        records = [
            {
                "job": job,
                "attempt": attempt,
                "seq": step + 1,  # seq 1 is the "running" status record
                "type": "metric",
                "at": AT0 + step * 0.01,
                "data": {
                    "step": step,
                    "values": {n: c.metric_value(n, step) for n in c.METRIC_NAMES},
                },
            }
            for step in range(start, stop)
        ]
        out.append(json.dumps({"records": records}, separators=(",", ":")).encode())
    return out


def _forge_worker(spec: dict, index: int, barrier, results) -> None:
    (job, attempt), steps = spec["jobs"][index], spec["steps"][index]
    batches = _forge_batches(job, attempt, spec["first_step"], steps)
    headers = {"Authorization": f"Node {spec['key']}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=300)
    latencies, points, accepted = [], 0, 0
    cpu0 = os.times()
    barrier.wait()
    t0 = time.monotonic()
    for body in batches:
        t = time.monotonic()
        conn.request("POST", "/api/agent/v1/ingest", body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise SystemExit(f"ingest answered {resp.status}: {payload[:500]!r}")
        reply = json.loads(payload)
        points += reply["points"]
        accepted += reply["accepted"]
        latencies.append(time.monotonic() - t)
    t1 = time.monotonic()
    cpu1 = os.times()
    again = None
    if index == 0:  # lossless and idempotent: the same batch again is all duplicates
        conn.request("POST", "/api/agent/v1/ingest", body=batches[-1], headers=headers)
        resp = conn.getresponse()
        again = json.loads(resp.read())
        again["expected"] = steps - RECORDS_PER_BATCH * (len(batches) - 1)
    results.put(
        {
            "t0": t0,
            "t1": t1,
            "points": points,
            "records": accepted,
            "requests": len(batches),
            "latencies": latencies,
            "client_cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "again": again,
        }
    )


def _mlflow_worker(spec: dict, index: int, barrier, results) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=spec["uri"])
    run_id = spec["run_ids"][index]
    first, steps = spec["first_step"], spec["steps"][index]
    last = first + steps  # exclusive
    per_batch = MLFLOW_BATCH // VALUES
    ts0 = int(AT0 * 1000)
    batches = []
    for start in range(first, last, per_batch):
        batches.append(
            [
                Metric(key=n, value=c.metric_value(n, step), timestamp=ts0 + step * 10, step=step)
                for step in range(start, min(start + per_batch, last))
                for n in c.METRIC_NAMES
            ]
        )
    latencies, points = [], 0
    cpu0 = os.times()
    barrier.wait()
    t0 = time.monotonic()
    deadline = t0 + spec["seconds"]
    for batch in batches:
        if time.monotonic() >= deadline:
            break
        t = time.monotonic()
        client.log_batch(run_id, metrics=batch)
        latencies.append(time.monotonic() - t)
        points += len(batch)
    t1 = time.monotonic()
    cpu1 = os.times()
    results.put(
        {
            "t0": t0,
            "t1": t1,
            "points": points,
            "records": points,
            "requests": len(latencies),
            "latencies": latencies,
            "client_cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        }
    )


def driver(kind: str, spec: dict) -> None:
    target = _forge_worker if kind == "forge" else _mlflow_worker
    clients = len(spec["steps"])
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(spec, i, barrier, results)) for i in range(clients)]
    for p in procs:
        p.start()
    barrier.wait(timeout=600)  # every client has built its batches
    with c.CpuMeter(spec["server_pid"], (spec["dbname"],)) as cpu:
        rows = [results.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise SystemExit(f"a {kind} client exited with {p.exitcode}")
    latencies = sorted(x for r in rows for x in r["latencies"])
    out = {
        "seconds": max(r["t1"] for r in rows) - min(r["t0"] for r in rows),
        "points": sum(r["points"] for r in rows),
        "records": sum(r["records"] for r in rows),
        "requests": sum(r["requests"] for r in rows),
        "client_cpu": sum(r["client_cpu"] for r in rows),
        "again": next((r["again"] for r in rows if r.get("again")), None),
        "latencies": latencies,
        "cpu_server": cpu.server,
        "cpu_pg": cpu.pg,
        "cpu_machine": cpu.machine,
    }
    print("RESULT " + json.dumps(out), flush=True)


def run_driver(python: Path, kind: str, spec: dict, env: dict | None = None) -> dict:
    proc = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--driver", kind, "--spec", json.dumps(spec)],
        cwd=c.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} driver failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return c.read_json_line(proc.stdout, "RESULT")


# ------------------------------------------------------------------ main


def combine(rounds: list[dict]) -> dict:
    """Sum the rounds of one system (time, points, CPU); latencies pooled."""
    latencies = sorted(x for r in rounds for x in r["latencies"])
    out = {k: sum(r[k] for r in rounds) for k in rounds[0] if isinstance(rounds[0][k], float | int)}
    out["lat_p50"] = c.pct(latencies, 0.5) if latencies else 0.0
    out["lat_p95"] = c.pct(latencies, 0.95) if latencies else 0.0
    out["again"] = rounds[-1]["again"]
    return out


def split(total_steps: int, clients: int) -> list[int]:
    base, extra = divmod(total_steps, clients)
    return [base + (1 if i < extra else 0) for i in range(clients)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--mlflow-seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3, help="Alternating Forge/MLflow turns.")
    parser.add_argument("--keep", action="store_true", help="Keep the state folder.")
    parser.add_argument("--driver", choices=["forge", "mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile",
        default="",
        help="Record the gunicorn workers with py-spy (raw stacks) into this file during "
        "the Forge run and print the hottest frames (needs .venv/bin/py-spy).",
    )
    args = parser.parse_args()
    if args.driver:
        driver(args.driver, json.loads(args.spec))
        return

    c.handle_signals()
    c.ensure_mlflow_venv()
    version = c.mlflow_version()
    state = Path(tempfile.mkdtemp(prefix="forge-bench-ingest-"))
    procs = c.Processes()
    total_steps = args.points // VALUES
    steps = [split(n, args.clients) for n in split(total_steps, args.rounds)]
    forge_port, mlflow_port = c.free_port(), c.free_port()
    try:
        c.db_create(FORGE_DB)
        c.db_create(MLFLOW_DB)
        env = c.forge_env(state, FORGE_DB)
        c.log("migrating Forge")
        setup = c.forge_setup(env)
        gunicorn = c.start_forge(procs, env, forge_port, state)
        c.wait_http(forge_port, "/api/agent/v1/heartbeat", gunicorn)
        c.forge_register(forge_port, setup["key"])
        jobs = [c.forge_job(setup, forge_port) for _ in range(args.clients)]
        c.log(f"starting MLflow {version}")
        mlflow = c.start_mlflow(procs, MLFLOW_DB, mlflow_port, state)
        uri = f"http://127.0.0.1:{mlflow_port}"
        c.wait_http(mlflow_port, "/health", mlflow)
        experiment = c.http_json(
            mlflow_port, "POST", "/api/2.0/mlflow/experiments/create", {"name": "bench"}
        )["experiment_id"]
        run_ids = [
            c.http_json(
                mlflow_port,
                "POST",
                "/api/2.0/mlflow/runs/create",
                {"experiment_id": experiment, "run_name": f"bench-{i}"},
            )["run"]["info"]["run_id"]
            for i in range(args.clients)
        ]
        c.wait_idle()  # MLflow's background job runner starts several processes
        spy = c.profile_start(gunicorn.pid, Path(args.profile)) if args.profile else None
        forge_rounds, ml_rounds = [], []
        first_step = 1
        for rnd in range(args.rounds):
            # Alternate short turns so both see the same background load on a shared box.
            c.pg_admin("CHECKPOINT")
            c.log(f"round {rnd + 1}/{args.rounds}: Forge, {sum(steps[rnd]) * VALUES:,} points")
            forge_rounds.append(
                run_driver(
                    c.ROOT / ".venv" / "bin" / "python",
                    "forge",
                    {
                        "server_pid": gunicorn.pid,
                        "dbname": FORGE_DB,
                        "port": forge_port,
                        "key": setup["key"],
                        "jobs": jobs,
                        "first_step": first_step,
                        "steps": steps[rnd],
                    },
                )
            )
            c.pg_admin("CHECKPOINT")
            seconds = args.mlflow_seconds / args.rounds
            c.log(f"round {rnd + 1}/{args.rounds}: MLflow, the same points or {seconds:.0f} s")
            ml_rounds.append(
                run_driver(
                    c.MLFLOW_PY,
                    "mlflow",
                    {
                        "server_pid": mlflow.pid,
                        "dbname": MLFLOW_DB,
                        "uri": uri,
                        "run_ids": run_ids,
                        "first_step": first_step,
                        "steps": steps[rnd],
                        "seconds": seconds,
                    },
                    env={**os.environ, "MLFLOW_TRACKING_URI": uri},
                )
            )
            first_step += max(steps[rnd])
        if spy is not None:
            c.profile_stop(spy)
        forge, ml = combine(forge_rounds), combine(ml_rounds)

        # ---- correctness
        forge_rows, forge_dups = forge_stored_points()
        ml_rows = c.db_scalar(MLFLOW_DB, "SELECT count(*) FROM metrics")
        ml_dups = c.db_scalar(
            MLFLOW_DB,
            "SELECT count(*) FROM (SELECT 1 FROM metrics "
            "GROUP BY run_uuid, key, step HAVING count(*) > 1) d",
        )
        again = forge["again"] or {}
        checks = {
            "forge rows == points sent": forge_rows == forge["points"] == total_steps * VALUES,
            "forge duplicates == 0": forge_dups == 0,
            "forge resend of a batch -> all duplicates, 0 new": again.get("duplicates")
            == again.get("expected")
            and again.get("accepted") == 0
            and again.get("points") == 0,
            "mlflow rows == points logged": ml_rows == ml["points"],
            "mlflow duplicates == 0": ml_dups == 0,
        }
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

    if args.profile:
        c.profile_summary(Path(args.profile))
    forge_rate = forge["points"] / forge["seconds"]
    ml_rate = ml["points"] / ml["seconds"] if ml["seconds"] else 0.0
    extrapolated = forge["points"] / ml_rate if ml_rate else float("inf")
    print()
    print("checks:")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(
        f"\nForge: {forge['records']:,} records ({VALUES} values each) in "
        f"{forge['requests']} requests, request p50 {forge['lat_p50']:.2f} s, "
        f"p95 {forge['lat_p95']:.2f} s, {forge['records'] / forge['seconds']:,.0f} records/s, "
        f"client CPU {forge['client_cpu']:.1f} s"
    )
    print(
        f"MLflow {version}: {ml['requests']} log_batch calls of {MLFLOW_BATCH}, request p50 "
        f"{ml['lat_p50']:.3f} s, p95 {ml['lat_p95']:.3f} s, client CPU {ml['client_cpu']:.1f} s; "
        f"{forge['points']:,} points would take {extrapolated:,.0f} s at its rate (extrapolated)"
    )
    print(
        "\nCPU per point: the server's processes and PostgreSQL's; 'others': the share of the "
        "2 cores used by anything else on the machine meanwhile (other tenants; kernel)"
    )
    print(f"ingest, {args.clients} clients, 2 server workers each, PostgreSQL 15 local, 2 cores")
    print(
        f"{'system':<16}{'points':>12}{'seconds':>10}{'points/s':>12}{'Forge/MLflow':>14}"
        f"{'server us/pt':>14}{'PG us/pt':>10}{'others':>8}"
    )
    cores = os.cpu_count() or 1
    for name, r, rate, ratio in (
        ("Forge", forge, forge_rate, f"{forge_rate / ml_rate:.1f}x" if ml_rate else ""),
        (f"MLflow {version}", ml, ml_rate, ""),
    ):
        per = 1e6 / max(1, r["points"])
        others = r["cpu_machine"] - r["cpu_server"] - r["cpu_pg"] - r["client_cpu"]
        print(
            f"{name:<16}{r['points']:>12,}{r['seconds']:>10.1f}{rate:>12,.0f}{ratio:>14}"
            f"{per * r['cpu_server']:>14.1f}{per * r['cpu_pg']:>10.1f}"
            f"{100 * max(0.0, others) / (cores * r['seconds']):>7.0f}%"
        )
    if not all(checks.values()):
        raise SystemExit("a correctness check failed")


if __name__ == "__main__":
    main()
