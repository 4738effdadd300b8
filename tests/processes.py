"""Real processes for tests: a Celery worker (and the env that points it at the test database)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from workers.cli import worker_argv

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
):
    """Poll until predicate() is truthy; return its value or fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test run uses (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings.test",
        "FORGE_VAR_DIR": str(settings.VAR_DIR),
        "DATABASE_URL": test_database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def broker_purge() -> None:
    """Drop messages left by earlier tests, so ids reused by a flushed database can't collide."""
    from workers.celery import app
    from workers.queues import CONSOLE_QUEUES

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in CONSOLE_QUEUES:
            # a queue that does not exist yet has nothing in it
            with contextlib.suppress(Exception):
                channel.queue_purge(str(queue))


class CeleryWorker:
    """A real `celery worker` process on the configured broker and the test database."""

    def __init__(
        self,
        log_path: Path,
        *,
        queues: str = "default,pipelines,scheduler,ingest",
        pool: str = "prefork",
        concurrency: int = 1,
    ) -> None:
        self.log_path = log_path
        self.argv = worker_argv(
            queues=queues.split(","),
            pool=pool,
            concurrency=concurrency,
            quiet=True,
            name=f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=process_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: b" ready." in self.log_path.read_bytes() or self.proc.poll() is not None,
            timeout=60,
            what="the worker to be ready",
        )
        assert self.proc.poll() is None, self.log()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.terminate(timeout=15)
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ManagedProcess:
    """A subprocess in its own process group with its output in a log file."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.log_path, self.env = argv, log_path, env or process_env()
        self.proc: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.terminate(timeout=15)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self._log.close()


class ConsoleServer(ManagedProcess):
    """The console served by gunicorn on the test database, so a test can stop and restart it."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "console.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "2",
                "--graceful-timeout",
                "2",
            ],
            log_path,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConsoleServer:
        import urllib.request

        super().start()

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:  # noqa: S310
                    return r.status == 200
            except OSError:
                return False

        wait_for(lambda: healthy() or not self.alive(), timeout=60, what="the console to answer")
        assert self.alive(), self.log()
        return self
