"""Run the whole console in the foreground: web, Celery worker, Celery beat, one local agent.

`make run` calls this after migrating and loading the demo. Each service runs in
its own process group with its log lines prefixed; Ctrl-C (or SIGTERM) stops
them all: a polite SIGTERM first, SIGKILL to any process group still alive
after the grace period, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.cli import worker_argv

COLORS = {"web": "36", "worker": "33", "beat": "35", "agent": "32"}


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Command(BaseCommand):
    help = "Run web, worker, beat and a local agent in the foreground until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--grace", type=float, default=20.0, help="Seconds to wait for a clean stop."
        )
        parser.add_argument("--no-agent", action="store_true")

    def handle(self, *args, host: str, port: int, grace: float, no_agent: bool, **options):
        py = sys.executable
        url = f"http://{host}:{port}"
        services = [
            Service(
                "web",
                [
                    py,
                    "-m",
                    "gunicorn",
                    "console.wsgi:application",
                    "--bind",
                    f"{host}:{port}",
                    "--workers",
                    os.environ.get("WEB_CONCURRENCY", "2"),
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    "--graceful-timeout",
                    "10",
                    "--timeout",
                    "60",
                ],
            ),
            Service(
                "worker",
                worker_argv(concurrency=os.environ.get("FORGE_WORKER_CONCURRENCY", "2"), python=py),
            ),
            Service(
                "beat",
                [
                    py,
                    "-m",
                    "celery",
                    "-A",
                    "workers",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(settings.VAR_DIR / "celerybeat-schedule"),
                ],
            ),
        ]
        if not no_agent:
            services.append(
                Service(
                    "agent",
                    [
                        py,
                        "-m",
                        "gpu_agent",
                        "--console",
                        url,
                        "--name",
                        "local",
                        "--work-dir",
                        str(settings.VAR_DIR / "agent"),
                        "--stop-jobs-on-exit",
                        "--grace",
                        "5",
                    ],
                    env={"FORGE_NODE_TOKEN": self._local_node_token()},
                )
            )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        lock = threading.Lock()
        crashed: list[str] = []
        try:
            for service in services:
                self._start(service, lock)
            self._say(
                lock,
                "forge",
                f"Forge is up: {url}/  (admin panel {url}/admin/, API docs {url}/api/docs/). "
                "Ctrl-C stops everything.",
            )
            while not stop.is_set():
                for service in services:
                    if service.proc and service.proc.poll() is not None:
                        self._say(
                            lock,
                            "forge",
                            f"{service.name} exited with {service.proc.returncode}; stopping.",
                        )
                        crashed.append(service.name)
                        stop.set()
                        break
                stop.wait(0.5)
        finally:
            self._stop_all(services, grace, lock)
        if crashed:
            raise CommandError(f"stopped because {', '.join(crashed)} exited")

    def _local_node_token(self) -> str:
        """A fresh token for the local node (created on first run); older ones stop working."""
        from console.fleet import services as fleet
        from console.fleet.models import Node

        actor = "make run"
        node = Node.objects.filter(name="local").first()
        if node is None:
            return fleet.node_create(actor=actor, name="local").key
        return fleet.node_token_issue(actor=actor, node=node).key

    def _say(self, lock: threading.Lock, name: str, line: str) -> None:
        color = COLORS.get(name, "1")
        with lock:
            sys.stdout.write(f"\x1b[{color}m{name:>6} |\x1b[0m {line}\n")
            sys.stdout.flush()

    def _start(self, service: Service, lock: threading.Lock) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **service.env}
        service.proc = subprocess.Popen(
            service.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            text=True,
            bufsize=1,
        )

        def pump() -> None:
            assert service.proc and service.proc.stdout
            for line in service.proc.stdout:
                self._say(lock, service.name, line.rstrip())

        service.reader = threading.Thread(target=pump, daemon=True)
        service.reader.start()

    def _stop_all(self, services: list[Service], grace: float, lock: threading.Lock) -> None:
        self._say(lock, "forge", "stopping…")
        running = [s for s in services if s.proc and s.proc.poll() is None]
        for service in running:
            # The main process only: Celery's warm shutdown hands running jobs back to the queue.
            service.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service in running:
            try:
                service.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(
                    lock, "forge", f"{service.name} did not stop in {grace:.0f} s; killing it."
                )
        for service in services:
            if service.proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.proc.pid, signal.SIGKILL)  # whatever the group still holds
            service.proc.wait()
            if service.reader:
                service.reader.join(timeout=2)
        self._say(lock, "forge", "all stopped.")
