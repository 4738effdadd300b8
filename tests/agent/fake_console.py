"""A small stand-in for the console's agent API on 127.0.0.1, for the agent's tests.

It ingests like the real one (per stream, a seq at or below the last one applied
is a duplicate and is skipped; a batch is all or nothing) and counts what it
applied by (job, attempt, seq), so a test can assert that every record the
agent produced arrived exactly once. Faults are switched on by attributes:

- ``status_override``: answer every agent call with this status (503, 401, ...).
- ``stop()`` / ``start()``: no server at all (connection refused), then back.
- ``bad``: keys (job, attempt, seq) refused with 400 naming their index;
  ``bad_unnamed``: the same but a 400 that names no record.
- ``unknown``: (job, attempt) streams answered with 404.
- ``max_records``: batches with more records get 413.
- ``drop_replies``: this many ingests are applied, then the connection is closed
  without an answer (the agent must resend; nothing may count twice).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STATES = {"running", "succeeded", "failed", "cancelled"}


class FakeConsole:
    def __init__(self, *, token: str = "node-token", name: str = "x") -> None:  # noqa: S107
        self.token = token
        self.name = name
        self.port = 0
        self.lock = threading.Lock()
        self.applied: dict[tuple[Any, int, int], dict[str, Any]] = {}
        self.apply_counts: Counter = Counter()
        self.last_seq: dict[tuple[Any, int], int] = defaultdict(int)
        self.duplicates = 0
        self.calls: list[tuple[str, int]] = []
        self.registrations: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.ingest_sizes: list[int] = []
        self.register_reply: dict[str, Any] = {
            "node": name,
            "queue": f"node.{name}",
            "heartbeat_seconds": 0.3,
            "broker_url": "memory://",
            "broker_transport_options": {},
        }
        self.status_override: int | None = None
        self.bad: set[tuple[Any, int, int]] = set()
        self.bad_unnamed: set[tuple[Any, int, int]] = set()
        self.unknown: set[tuple[Any, int]] = set()
        self.max_records: int | None = None
        self.drop_replies = 0
        self.stop_in_heartbeat: list[dict[str, int]] = []
        self.stop_in_ingest: list[dict[str, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeConsole:
        console = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body = console.handle(self.path, self.headers.get("Authorization", ""), raw)
                if status == 0:  # applied, but the reply is "lost"
                    self.close_connection = True
                    return
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ------------------------------------------------------------ API

    def handle(self, path: str, auth: str, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            name = path.rstrip("/").rsplit("/", 1)[-1]
            status, body = self._handle(name, auth, raw)
            self.calls.append((name, status))
            return status, body

    def _handle(self, name: str, auth: str, raw: bytes) -> tuple[int, Any]:
        if self.status_override is not None:
            return self.status_override, {"detail": f"forced {self.status_override}"}
        if auth != f"Node {self.token}":
            return 401, {"detail": "Invalid node token."}
        try:
            data = json.loads(raw)
        except ValueError:
            return 400, {"detail": "body is not JSON", "errors": []}
        if name == "register":
            self.registrations.append(data)
            return 200, self.register_reply
        if name == "heartbeat":
            self.heartbeats.append(data)
            stop, self.stop_in_heartbeat = self.stop_in_heartbeat, []
            return 200, {"status": "online", "stop": stop}
        if name == "ingest":
            return self._ingest(data)
        return 404, {"detail": "no such endpoint"}

    def _ingest(self, data: dict[str, Any]) -> tuple[int, Any]:
        records = data["records"]
        self.ingest_sizes.append(len(records))
        if self.max_records is not None and len(records) > self.max_records:
            return 413, {"detail": "batch too large"}
        errors = []
        for index, r in enumerate(records):
            key = (r["job"], r["attempt"], r["seq"])
            if key in self.bad:
                errors.append({"index": index, "seq": r["seq"], "error": "refused by test"})
            if r["type"] == "status" and r["data"].get("state") not in STATES:
                errors.append({"index": index, "seq": r["seq"], "error": "bad state"})
        if errors:
            return 400, {"detail": "malformed", "errors": errors}
        if any((r["job"], r["attempt"], r["seq"]) in self.bad_unnamed for r in records):
            return 400, {"detail": "malformed", "errors": []}
        unknown = {(r["job"], r["attempt"]) for r in records} & self.unknown
        if unknown:
            return 404, {"detail": f"no job attempt {sorted(unknown)}"}
        accepted = 0
        for r in sorted(records, key=lambda r: (str(r["job"]), r["attempt"], r["seq"])):
            stream = (r["job"], r["attempt"])
            if r["seq"] <= self.last_seq[stream]:
                self.duplicates += 1
                continue
            self.last_seq[stream] = r["seq"]
            key = (r["job"], r["attempt"], r["seq"])
            self.applied[key] = r
            self.apply_counts[key] += 1
            accepted += 1
        if self.drop_replies > 0:
            self.drop_replies -= 1
            return 0, None
        stop, self.stop_in_ingest = self.stop_in_ingest, []
        return 200, {"accepted": accepted, "duplicates": 0, "points": 0, "stop": stop}

    # ------------------------------------------------------------ for assertions

    def stream(self, job: Any, attempt: int) -> list[dict[str, Any]]:
        with self.lock:
            return sorted(
                (r for (j, a, _), r in self.applied.items() if (j, a) == (job, attempt)),
                key=lambda r: r["seq"],
            )

    def statuses(self, job: Any, attempt: int) -> list[str]:
        return [r["data"]["state"] for r in self.stream(job, attempt) if r["type"] == "status"]

    def final_state(self, job: Any, attempt: int) -> str | None:
        states = [s for s in self.statuses(job, attempt) if s != "running"]
        return states[-1] if states else None
