"""bench/ingest: metric points per second through the real HTTP ingest, next to MLflow.

    .venv/bin/python bench/ingest.py [--points 2000000] [--clients 4] [--mlflow-seconds 60]

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
full count. Afterwards the rows are counted in both databases (and checked for
duplicates), and one Forge batch is sent again to check it is refused as duplicates.
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
    job, attempt, steps = spec["jobs"][index], spec["attempt"], spec["steps"][index]
    batches = _forge_batches(job, attempt, 1, steps)
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
    run = client.create_run(spec["experiment_id"], run_name=f"bench-{index}")
    run_id = run.info.run_id
    steps = spec["steps"][index]
    per_batch = MLFLOW_BATCH // VALUES
    ts0 = int(AT0 * 1000)
    batches = []
    for start in range(1, steps + 1, per_batch):
        batches.append(
            [
                Metric(key=n, value=c.metric_value(n, step), timestamp=ts0 + step * 10, step=step)
                for step in range(start, min(start + per_batch, steps + 1))
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
            "run_id": run_id,
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
    with c.CpuMeter(spec["server_pid"]) as cpu:
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
        "lat_p50": c.pct(latencies, 0.5) if latencies else 0.0,
        "lat_p95": c.pct(latencies, 0.95) if latencies else 0.0,
        "client_cpu": sum(r["client_cpu"] for r in rows),
        "again": next((r["again"] for r in rows if r.get("again")), None),
        "run_ids": [r["run_id"] for r in rows if "run_id" in r],
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


# ------------------------------------------------------------------ Forge side


def forge_prepare(env: dict, clients: int) -> dict:
    """Migrate, make admin/project/node and one dispatched demo.node job per client."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from console.accounts.services import admin_ensure, roles_ensure
    from console.fleet import services as fleet
    from console.projects.services import project_create, project_member_add

    roles_ensure()
    admin = admin_ensure(password=None).user
    project = project_create(actor=admin, slug="bench", name="Bench")
    project_member_add(actor=admin, project=project, user=admin)
    issued = fleet.node_create(actor=admin, name="bench-node")
    return {"admin": admin, "project": project, "key": issued.key}


def forge_register(port: int, key: str) -> None:
    inventory = {"hostname": "bench", "cpu_count": 2, "memory_mib": 8192, "gpus": []}
    c.http_json(
        port,
        "POST",
        "/api/agent/v1/register",
        {"name": "bench-node", "agent_version": "bench", "inventory": inventory},
        {"Authorization": f"Node {key}"},
    )


def forge_jobs(setup: dict, port: int, clients: int) -> tuple[list[int], int]:
    from console.fleet.models import Allocation
    from console.jobs import services as job_services
    from console.jobs.models import Job

    jobs = []
    for _ in range(clients):
        job = job_services.job_submit(
            actor=setup["admin"],
            project=setup["project"],
            kind="demo.node",
            params={"steps": 1_000_000, "step_seconds": 0, "gpus": 0, "metrics_per_step": 4},
        )
        job_services.job_schedule(job_id=job.pk)
        job = Job.objects.get(pk=job.pk)
        assert Allocation.objects.filter(job=job, attempt=job.attempt).exists(), job.state
        jobs.append(job.pk)
        # The agent's first record: the job is running.
        running = {
            "job": job.pk,
            "attempt": job.attempt,
            "seq": 1,
            "type": "status",
            "at": AT0,
            "data": {"state": "running", "exit_code": None, "reason": ""},
        }
        c.http_json(
            port,
            "POST",
            "/api/agent/v1/ingest",
            {"records": [running]},
            {"Authorization": f"Node {setup['key']}"},
        )
    from django.db import connection

    connection.close()
    return jobs, 1


# ------------------------------------------------------------------ main


def split(total_steps: int, clients: int) -> list[int]:
    base, extra = divmod(total_steps, clients)
    return [base + (1 if i < extra else 0) for i in range(clients)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--mlflow-seconds", type=float, default=60.0)
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

    c.ensure_mlflow_venv()
    version = c.mlflow_version()
    state = Path(tempfile.mkdtemp(prefix="forge-bench-ingest-"))
    procs = c.Processes()
    total_steps = args.points // VALUES
    steps = split(total_steps, args.clients)
    forge_port, mlflow_port = c.free_port(), c.free_port()
    try:
        c.db_create(FORGE_DB)
        c.db_create(MLFLOW_DB)

        # ---- Forge alone on the machine
        env = c.forge_env(state, FORGE_DB)
        c.log("migrating Forge")
        setup = forge_prepare(env, args.clients)
        gunicorn = c.start_forge(procs, env, forge_port, state)
        c.wait_http(forge_port, "/api/agent/v1/heartbeat", gunicorn)
        forge_register(forge_port, setup["key"])
        jobs, attempt = forge_jobs(setup, forge_port, args.clients)
        c.pg_admin("CHECKPOINT")
        spy = c.profile_start(gunicorn.pid, Path(args.profile)) if args.profile else None
        c.log(f"Forge: {args.points:,} points, {args.clients} clients")
        forge = run_driver(
            c.ROOT / ".venv" / "bin" / "python",
            "forge",
            {
                "server_pid": gunicorn.pid,
                "port": forge_port,
                "key": setup["key"],
                "jobs": jobs,
                "attempt": attempt,
                "steps": steps,
            },
        )
        if spy is not None:
            c.profile_stop(spy)
        procs.stop(gunicorn)

        # ---- then MLflow alone on the machine
        c.pg_admin("CHECKPOINT")
        c.log(f"starting MLflow {version}")
        mlflow = c.start_mlflow(procs, MLFLOW_DB, mlflow_port, state)
        uri = f"http://127.0.0.1:{mlflow_port}"
        c.wait_http(mlflow_port, "/health", mlflow)
        time.sleep(10)  # let its background job runner finish starting
        experiment = c.http_json(
            mlflow_port, "POST", "/api/2.0/mlflow/experiments/create", {"name": "bench"}
        )["experiment_id"]
        c.log(f"MLflow: up to {args.points:,} points or {args.mlflow_seconds:.0f} s")
        ml = run_driver(
            c.MLFLOW_PY,
            "mlflow",
            {
                "server_pid": mlflow.pid,
                "uri": uri,
                "experiment_id": experiment,
                "steps": steps,
                "seconds": args.mlflow_seconds,
            },
            env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        )

        # ---- correctness
        forge_rows = c.db_scalar(FORGE_DB, "SELECT count(*) FROM metrics_metricpoint")
        forge_dups = c.db_scalar(
            FORGE_DB,
            "SELECT count(*) FROM (SELECT 1 FROM metrics_metricpoint "
            "GROUP BY job_id, attempt, name, step HAVING count(*) > 1) d",
        )
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
    print(f"\ningest, {args.clients} clients, 2 server workers each, PostgreSQL 15 local, 2 cores")
    print(
        f"{'system':<16}{'points':>12}{'seconds':>10}{'points/s':>12}{'Forge/MLflow':>14}"
        f"{'CPU us/point: server':>22}{'PostgreSQL':>12}{'machine':>9}"
    )
    for name, r, rate, ratio in (
        ("Forge", forge, forge_rate, f"{forge_rate / ml_rate:.1f}x" if ml_rate else ""),
        (f"MLflow {version}", ml, ml_rate, ""),
    ):
        per = 1e6 / max(1, r["points"])
        print(
            f"{name:<16}{r['points']:>12,}{r['seconds']:>10.1f}{rate:>12,.0f}{ratio:>14}"
            f"{per * r['cpu_server']:>22.1f}{per * r['cpu_pg']:>12.1f}"
            f"{per * r['cpu_machine']:>9.1f}"
        )
    if not all(checks.values()):
        raise SystemExit("a correctness check failed")


if __name__ == "__main__":
    main()
