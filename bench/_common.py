"""Helpers shared by bench/ingest.py and bench/chart.py.

Standard library only at import time: the load drivers import this module from the
separate MLflow virtualenv too (psycopg is imported inside the functions that need it,
which run in the project's own virtualenv).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MLFLOW_VENV = BENCH / ".venv-mlflow"
MLFLOW_PY = MLFLOW_VENV / "bin" / "python"
PG = "postgres://postgres@127.0.0.1:5432"
WORKERS = 2  # server worker processes, the same for Forge (gunicorn) and MLflow (uvicorn)
METRIC_NAMES = ("loss", "lr", "grad_norm", "tokens_per_s")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def handle_signals() -> None:
    """SIGTERM and SIGINT (even when started in the background, where SIGINT is ignored)
    end the benchmark through its finally: servers stopped, databases dropped."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric_value(name: str, step: int) -> float:
    """A deterministic, training-like value for (name, step); the same for both systems."""
    if name == "loss":
        return 2.5 / (1.0 + step / 5000.0) + 0.01 * ((step * 7919) % 101) / 101.0
    if name == "lr":
        return 3e-4 * min(1.0, step / 2000.0)
    if name == "grad_norm":
        return 1.0 + ((step * 104729) % 997) / 997.0
    return 40_000.0 + (step % 113)


# ------------------------------------------------------------------ PostgreSQL


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def pg_admin_db(dbname: str, sql: str) -> None:
    """A statement outside a transaction block (VACUUM) in one database."""
    import psycopg

    with psycopg.connect(f"{PG}/{dbname}", autocommit=True) as conn:
        conn.execute(sql)


def db_create(name: str) -> None:
    db_drop(name)
    pg_admin(f'CREATE DATABASE "{name}"')


def db_drop(name: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_scalar(dbname: str, sql: str, params: tuple = ()) -> object:
    import psycopg

    with psycopg.connect(f"{PG}/{dbname}", autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


# ------------------------------------------------------------------ processes


def ensure_mlflow_venv() -> None:
    """Create bench/.venv-mlflow with MLflow when missing (kept out of the project's venv)."""
    if MLFLOW_PY.exists():
        probe = subprocess.run(
            [str(MLFLOW_PY), "-c", "import mlflow, psycopg2"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return
    log(f"creating {MLFLOW_VENV} with mlflow (one time, a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(MLFLOW_VENV)], check=True)
    subprocess.run(
        [str(MLFLOW_VENV / "bin" / "pip"), "install", "-q", "mlflow", "psycopg2-binary"],
        check=True,
    )


def mlflow_version() -> str:
    out = subprocess.run(
        [str(MLFLOW_PY), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class Processes:
    """Servers started by a benchmark; each in its own session, stopped by its group id."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.logs: list = []

    def start(self, argv: list[str], *, env: dict, log_path: Path) -> subprocess.Popen:
        out = open(log_path, "w")  # noqa: SIM115 - closed in stop_all
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        self.logs.append(out)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for out in self.logs:
            out.close()
        self.procs.clear()
        self.logs.clear()


def forge_env(var_dir: Path, dbname: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings.base",
        "DATABASE_URL": f"{PG}/{dbname}",
        "FORGE_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    return env


def start_forge(procs: Processes, env: dict, port: int, var_dir: Path) -> subprocess.Popen:
    return procs.start(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "console.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--threads",
            "2",
            "--timeout",
            "120",
        ],
        env=env,
        log_path=var_dir / "gunicorn.log",
    )


def start_mlflow(procs: Processes, dbname: str, port: int, var_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    artifacts = var_dir / "mlartifacts"
    return procs.start(
        [
            str(MLFLOW_VENV / "bin" / "mlflow"),
            "server",
            "--backend-store-uri",
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{dbname}",
            "--default-artifact-root",
            str(artifacts),
            "--artifacts-destination",
            str(artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ],
        env=env,
        log_path=var_dir / "mlflow.log",
    )


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ Forge set-up


def forge_setup(env: dict) -> dict:
    """In this process: migrate a fresh database, make the admin, a project and a node."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from console.accounts.services import admin_ensure, roles_ensure
    from console.fleet import services as fleet
    from console.projects.services import project_create, project_member_add

    roles_ensure()
    admin = admin_ensure(password=None).user  # what `manage.py forge_setup` does
    project = project_create(actor=admin, slug="bench", name="Bench")
    project_member_add(actor=admin, project=project, user=admin)
    issued = fleet.node_create(actor=admin, name="bench-node")
    return {"admin": admin, "project": project, "key": issued.key}


def forge_register(port: int, key: str) -> None:
    """The node's agent says hello over HTTP, as gpu_agent does."""
    inventory = {"hostname": "bench", "cpu_count": 2, "memory_mib": 8192, "gpus": []}
    http_json(
        port,
        "POST",
        "/api/agent/v1/register",
        {"name": "bench-node", "agent_version": "bench", "inventory": inventory},
        {"Authorization": f"Node {key}"},
    )


def forge_job(setup: dict, port: int) -> tuple[int, int]:
    """A demo.node job submitted and scheduled onto the node (an Allocation for its
    attempt), and the agent's first record for it (running). Returns (job id, attempt)."""
    from django.db import connection

    from console.fleet.models import Allocation
    from console.jobs import services as job_services
    from console.jobs.models import Job

    job = job_services.job_submit(
        actor=setup["admin"],
        project=setup["project"],
        kind="demo.node",
        params={"steps": 1_000_000, "step_seconds": 0, "gpus": 0, "metrics_per_step": 4},
    )
    job_services.job_schedule(job_id=job.pk)
    job = Job.objects.get(pk=job.pk)
    if not Allocation.objects.filter(job=job, attempt=job.attempt).exists():
        raise SystemExit(f"job {job.pk} was not placed on the node: {job.state}")
    running = {
        "job": job.pk,
        "attempt": job.attempt,
        "seq": 1,
        "type": "status",
        "at": time.time(),
        "data": {"state": "running", "exit_code": None, "reason": ""},
    }
    http_json(
        port,
        "POST",
        "/api/agent/v1/ingest",
        {"records": [running]},
        {"Authorization": f"Node {setup['key']}"},
    )
    connection.close()
    return job.pk, job.attempt


def forge_api_token(env: dict) -> str:
    """`manage.py api_token admin`: a user API token for the (superuser) admin."""
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "api_token", "admin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Wait until the server answers at all (401 and 404 are answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before answering {path}")
        try:
            request(port, "GET", path)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"no answer on port {port} within {timeout:.0f} s")


def http_json(
    port: int, method: str, path: str, body: object = None, headers: dict | None = None
) -> dict:
    data = None if body is None else json.dumps(body).encode()
    status, payload = request(
        port, method, path, data, {"Content-Type": "application/json", **(headers or {})}
    )
    if status >= 300:
        raise SystemExit(f"{method} {path} answered {status}: {payload[:500]!r}")
    return json.loads(payload or b"{}")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return ordered[rank - 1]


def read_json_line(text: str, tag: str) -> dict:
    for line in text.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1 :])
    raise SystemExit(f"no {tag} line in driver output:\n{text[-4000:]}")


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    box: list[float] = []
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - t0)


# ------------------------------------------------------------------ profiling


def profile_start(pid: int, out: Path) -> subprocess.Popen:
    """py-spy on a server's master and its worker processes, raw collapsed stacks."""
    spy = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "50",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(1.0)
    return spy


def profile_stop(spy: subprocess.Popen) -> None:
    if spy.poll() is None:
        os.killpg(spy.pid, signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(spy.pid, signal.SIGKILL)
        spy.wait(timeout=10)


def profile_summary(path: Path, top: int = 30) -> None:
    """Print the frames with the most samples (inclusive) of the busy (non-idle) stacks."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(idle in frames[-1] for idle in ("select (selectors", "wait (threading", "poll (")):
            continue  # waiting for a request or a lock, not working
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    if not total:
        print("profile: no samples")
        return
    print(f"\nprofile ({total} busy samples): inclusive share, top {top}")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {frame[:150]}")
    print("self share, top 15")
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {100 * n / total:5.1f}%  {frame[:150]}")


# ------------------------------------------------------------------ CPU accounting


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        comm_end = raw.rindex(")")
        fields = [raw[raw.index("(") + 1 : comm_end], *raw[comm_end + 2 :].split()]
    except (OSError, ValueError):  # gone, or going
        return None
    return fields if len(fields) > 13 else None


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def process_tree(root: int) -> list[int]:
    parents = {}
    for pid in _all_pids():
        st = _stat(pid)
        if st:
            parents[pid] = int(st[2])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sorted(tree)


def postgres_pids(dbnames: tuple[str, ...] = ()) -> list[int]:
    """PostgreSQL's processes: its background ones (WAL writer, checkpointer, autovacuum...)
    and, with dbnames, only the client backends serving those databases (not other users')."""
    out = []
    for pid in _all_pids():
        st = _stat(pid)
        if not st or st[0] != "postgres":
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parts = title.split()
        # a client backend: "postgres: 15/main: <user> <database> <host(port)> <state>"
        is_backend = len(parts) >= 5 and ("(" in parts[4] or parts[4] == "[local]")
        if not is_backend or not dbnames or parts[3] in dbnames:
            out.append(pid)
    return out


def cpu_seconds(pids: list[int]) -> float:
    """user+system CPU seconds so far of these processes (those still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        st = _stat(pid)
        if st:
            total += int(st[12]) + int(st[13])  # utime, stime (fields 14, 15)
    return total / tick


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_idle(max_busy: float = 0.25, timeout: float = 90) -> float:
    """Wait until the machine's CPUs are mostly idle (a server's start-up work is done)."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + timeout
    busy = 1.0
    while time.monotonic() < deadline:
        b0 = machine_busy_seconds()
        time.sleep(2.0)
        busy = (machine_busy_seconds() - b0) / (2.0 * cores)
        if busy <= max_busy:
            break
    return busy


class CpuMeter:
    """CPU seconds used by a server's process tree and by PostgreSQL (its background
    processes and the backends of `dbnames`), and by the whole machine, while the block runs.

    A sampler thread re-reads /proc every second so that processes that start (a new
    PostgreSQL backend when Django recycles a connection) or exit during the block are
    counted too; an exiting process loses at most its last second."""

    def __init__(
        self, server_pid: int, dbnames: tuple[str, ...] = (), interval: float = 1.0
    ) -> None:
        self.server_pid, self.dbnames, self.interval = server_pid, dbnames, interval
        self.server = self.pg = self.machine = 0.0

    def _sample(self, first: bool = False) -> None:
        groups = (
            ("server", process_tree(self.server_pid)),
            ("pg", postgres_pids(self.dbnames)),
        )
        for group, pids in groups:
            for pid in pids:
                st = _stat(pid)
                if st is None:  # gone: keep its last sample
                    continue
                now = (int(st[12]) + int(st[13])) / os.sysconf("SC_CLK_TCK")
                key = (group, pid)
                if key not in self.base:
                    self.base[key] = now if first else 0.0
                self.last[key] = now

    def _run(self) -> None:
        while not self.done.wait(self.interval):
            self._sample()

    def __enter__(self) -> CpuMeter:
        import threading

        self.base: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self._sample(first=True)
        self.m0 = machine_busy_seconds()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self._sample()
        self.machine = machine_busy_seconds() - self.m0
        totals = {"server": 0.0, "pg": 0.0}
        for (group, pid), last in self.last.items():
            totals[group] += last - self.base[(group, pid)]
        self.server, self.pg = totals["server"], totals["pg"]
