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
    except OSError:
        return None
    comm_end = raw.rindex(")")
    return [raw[raw.index("(") + 1 : comm_end], *raw[comm_end + 2 :].split()]


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


def postgres_pids() -> list[int]:
    return [pid for pid in _all_pids() if (st := _stat(pid)) and st[0] == "postgres"]


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


class CpuMeter:
    """CPU seconds used by a server's process tree and by all PostgreSQL processes.

    PostgreSQL backends come and go with connections: a backend that exits during the
    phase loses its count, so servers should keep their connections (both do here)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> CpuMeter:
        self.server_pids = process_tree(self.server_pid)
        self.pg_pids = postgres_pids()
        self.s0, self.p0 = cpu_seconds(self.server_pids), cpu_seconds(self.pg_pids)
        self.m0 = machine_busy_seconds()
        self.server = self.pg = self.machine = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.server = cpu_seconds(self.server_pids) - self.s0
        new_pg = [p for p in postgres_pids() if p not in self.pg_pids]
        self.pg = cpu_seconds(self.pg_pids) - self.p0 + cpu_seconds(new_pg)
        self.machine = machine_busy_seconds() - self.m0
