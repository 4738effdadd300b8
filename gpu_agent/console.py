"""HTTP client of the console's agent API (urllib only; JSON; the node token).

    POST {console}/api/agent/v1/register   {name, agent_version, inventory}  -> RegisterReply
    POST {console}/api/agent/v1/heartbeat  {running: [{job, attempt}], spool, power}
                                                            -> HeartbeatReply (+ power policy)
    POST {console}/api/agent/v1/ingest     {records: [Record, ...]}           -> IngestResult

Every request carries ``Authorization: Node <token>``. Connection errors, timeouts
and 5xx raise ``ConsoleUnavailable`` (retry later); other statuses raise
``ConsoleError`` with the status and the decoded body, except for ingest, whose
caller decides per status and gets an ``IngestResult`` for any HTTP reply.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gpu_agent.power import PowerHeartbeatReply
from gpu_agent.spec import HeartbeatReply, RegisterReply, spec_from_dict

log = logging.getLogger("gpu_agent.console")

API_PREFIX = "/api/agent/v1/"
T = TypeVar("T")


class ConsoleUnavailable(OSError):
    """The console could not be reached or answered 5xx: try again later."""


class ConsoleError(Exception):
    """The console answered with an error status that retrying as is will not fix."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {_detail(body)}")


@dataclass
class IngestResult:
    status: int
    body: Any = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return _detail(self.body)


def _detail(body: Any) -> str:
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    text = json.dumps(body) if not isinstance(body, str) else body
    return text[:500]


def reply_from_dict(cls: type[T], data: Any) -> T:
    """Build a typed reply, ignoring fields this agent does not know (a newer console)."""
    if isinstance(data, dict):
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        data = {k: v for k, v in data.items() if k in known}
    return spec_from_dict(cls, data)


class ConsoleClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"console URL must be http(s): {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def url(self, name: str) -> str:
        return self.base_url + API_PREFIX + name

    def _post(self, name: str, body: bytes, timeout: float | None) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url(name),
            data=body,
            method="POST",
            headers={
                "Authorization": f"Node {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            try:
                payload = _decode(exc.read())
            except OSError:
                payload = {}
            finally:
                exc.close()
            if exc.code >= 500:
                raise ConsoleUnavailable(f"HTTP {exc.code}: {_detail(payload)}") from None
            return exc.code, payload
        except (OSError, http.client.HTTPException) as exc:
            # URLError, connection refused/reset, timeouts, a reply cut short
            raise ConsoleUnavailable(f"{type(exc).__name__}: {exc}") from None

    def post_json(self, name: str, payload: Any, timeout: float | None = None) -> Any:
        status, body = self._post(name, json.dumps(payload).encode(), timeout)
        if status >= 300:
            raise ConsoleError(status, body)
        return body

    def register(self, *, name: str, agent_version: str, inventory: dict) -> RegisterReply:
        body = self.post_json(
            "register", {"name": name, "agent_version": agent_version, "inventory": inventory}
        )
        return reply_from_dict(RegisterReply, body)

    def heartbeat(
        self,
        *,
        running: list[dict[str, int]],
        spool: dict[str, Any] | None = None,
        host: dict[str, Any] | None = None,
        power: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> HeartbeatReply:
        """The reply is a PowerHeartbeatReply: ``power`` is the node's power policy."""
        payload: dict[str, Any] = {"running": running}
        if host:
            payload["host"] = host
        if spool is not None:
            payload["spool"] = spool
        if power is not None:
            payload["power"] = power  # the report of the last power policy applied
        return reply_from_dict(PowerHeartbeatReply, self.post_json("heartbeat", payload, timeout))

    def ingest(self, body: bytes, timeout: float | None = None) -> IngestResult:
        """POST an already-serialised batch; any HTTP reply below 500 comes back as is."""
        status, reply = self._post("ingest", body, timeout)
        return IngestResult(status=status, body=reply)


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:500].decode(errors="replace")
