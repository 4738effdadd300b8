"""bench/dispatch: submit -> executor started, on an idle console, per broker.

    .venv/bin/python bench/dispatch.py [--jobs 30] [--redis redis://127.0.0.1:6379/14]

For each broker (the embedded filesystem transport, and Redis when given) it
makes a fresh state folder with its own SQLite database, starts one real Celery
worker, submits demo jobs one at a time through the job service (as the API
does), and measures the time from submission to the job's `started_at` (the
claim by the worker) and to `succeeded`. Target (BENCHMARKS.md): < 2 s.
Prints a table last.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.cli import worker_argv  # noqa: E402


def run_one(broker: str, redis_url: str | None, jobs: int) -> dict:
    state = Path(tempfile.mkdtemp(prefix=f"forge-bench-{broker}-"))
    env = {
        **os.environ,
        "FORGE_VAR_DIR": str(state),
        "DJANGO_SETTINGS_MODULE": "console.settings.base",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["FORGE_BROKER_PREFIX"] = f"forge-bench-{os.getpid()}:"
    code = f"""
import django, json, time, sys
django.setup()
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0)
from console.accounts.services import admin_ensure
from console.projects.services import project_create, project_member_add
from console.jobs.services import job_submit
from console.jobs.models import Job
admin = admin_ensure(password="bench-password-123").user
project = project_create(actor=admin, slug="bench", name="Bench")
project_member_add(actor=admin, project=project, user=admin)
print("READY", flush=True)
sys.stdin.readline()
out = []
for i in range({jobs}):
    t0 = timezone.now()
    job = job_submit(actor=admin, project=project, kind="demo.count",
                     params={{"steps": 1, "step_seconds": 0}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = Job.objects.filter(pk=job.pk).values("state", "started_at", "finished_at").get()
        if row["state"] == "succeeded":
            break
        time.sleep(0.01)
    else:
        raise SystemExit(f"job {{job.pk}} did not finish: {{row}}")
    started = (row["started_at"] - t0).total_seconds()
    out.append((started, (row["finished_at"] - t0).total_seconds()))
print("RESULT", json.dumps(out), flush=True)
"""
    driver = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdout and driver.stdin
    line = driver.stdout.readline()
    assert line.startswith("READY"), line
    worker_log = open(state / "worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        worker_argv(
            queues=["default", "pipelines", "scheduler"],
            concurrency=1,
            loglevel="WARNING",
            quiet=True,
            name=None,
        ),
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    time.sleep(4)  # let the worker connect
    driver.stdin.write("go\n")
    driver.stdin.flush()
    result = None
    for line in driver.stdout:
        if line.startswith("RESULT"):
            import json

            result = json.loads(line.split(" ", 1)[1])
    driver.wait()
    worker.terminate()
    worker.wait(timeout=30)
    worker_log.close()
    if result is None:
        raise SystemExit(f"{broker}: no result; see {state / 'worker.log'}")
    started = sorted(r[0] for r in result)
    done = sorted(r[1] for r in result)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return {
        "broker": broker,
        "jobs": len(result),
        "start_p50": statistics.median(started),
        "start_p95": pct(started, 0.95),
        "done_p50": statistics.median(done),
        "done_p95": pct(done, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--redis", default="", help="Also measure on this Redis URL.")
    args = parser.parse_args()
    rows = [run_one("filesystem", None, args.jobs)]
    if args.redis:
        rows.append(run_one("redis", args.redis, args.jobs))
    print("\nsubmit -> started (worker claim) and -> succeeded, seconds, SQLite, 1 worker")
    print(
        f"{'broker':<12}{'jobs':>6}{'start p50':>12}{'start p95':>12}"
        f"{'done p50':>12}{'done p95':>12}"
    )
    for r in rows:
        print(
            f"{r['broker']:<12}{r['jobs']:>6}{r['start_p50']:>12.3f}{r['start_p95']:>12.3f}"
            f"{r['done_p50']:>12.3f}{r['done_p95']:>12.3f}"
        )


if __name__ == "__main__":
    main()
