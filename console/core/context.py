"""Per-request context (request id, client address, actor) that services read.

The middleware sets it for web requests; Celery tasks and management commands
run with an empty context, so audit events from them carry no request id.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from dataclasses import dataclass
from typing import Any

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


@dataclass(frozen=True, kw_only=True)
class RequestContext:
    request_id: str = ""
    ip: str = ""
    user: Any = None


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "forge_request_context",
    default=RequestContext(),  # noqa: B039 - frozen, so shared safely
)


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def request_id_from_header(value: str | None) -> str:
    """Keep a caller's X-Request-ID when it is sane; otherwise mint one."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


def client_ip(meta: dict[str, Any]) -> str:
    return str(meta.get("REMOTE_ADDR", ""))[:64]
