"""Per-request context (request id, client address, actor) that services read.

The middleware sets it for web requests; Celery tasks and management commands
run with an empty context, so audit events from them carry no request id.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings

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
    """The client's address: REMOTE_ADDR, unless REMOTE_ADDR is one of
    FORGE_TRUSTED_PROXIES (empty by default). Then X-Forwarded-For is read from the right
    (the entry the trusted proxy appended) and the first address that is not itself a
    trusted proxy is the client; entries to its left are the client's own claims and are
    ignored, so a client cannot pick the address it is counted under."""
    raw = str(meta.get("REMOTE_ADDR", ""))[:64]
    remote = _parse_ip(raw)
    proxies = _trusted_networks(tuple(getattr(settings, "FORGE_TRUSTED_PROXIES", ())))
    if remote is None or not _is_trusted(remote, proxies):
        return str(remote) if remote is not None else raw
    client = remote
    for hop in reversed(str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")):
        address = _parse_ip(hop)
        if address is None:  # garbage from the proxy: keep the last hop we can vouch for
            break
        client = address
        if not _is_trusted(address, proxies):
            break
    return str(client)


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_ip(value: str) -> IpAddress | None:
    value = value.strip()
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        host, _, port = value.rpartition(":")  # "203.0.113.7:41234", as some proxies write
        if not port.isdigit() or host.count(":"):
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _trusted_networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: IpAddress, networks) -> bool:
    return any(address in network for network in networks)
