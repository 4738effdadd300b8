"""Webhook delivery with the S9 guard: a webhook pointing at loopback, link-local,
private or otherwise non-public addresses, or redirecting there, is refused, unless
its host is on the administrator's FORGE_WEBHOOK_ALLOWED_HOSTS (on-prem endpoints).

The check runs when a URL is saved and again at every send, on the addresses the host
resolves to then; the connection goes to the address that was checked (no second
lookup an attacker's DNS could answer differently), and each redirect is checked the
same way before it is followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 3
USER_AGENT = "Forge-alerts/1"


class WebhookRefused(Exception):
    """The URL may not be called (S9, bad URL, too many redirects): never retried."""


class WebhookFailed(Exception):
    """A transient failure (connection error, timeout, 5xx): worth a retry."""


def _allowed_hosts() -> set[str]:
    return {h.strip().lower() for h in settings.FORGE_WEBHOOK_ALLOWED_HOSTS if h.strip()}


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _parts(url: str) -> tuple[str, str, int]:
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError as exc:
        raise WebhookRefused(f"not a valid URL: {exc}") from None
    if split.scheme not in ("http", "https"):
        raise WebhookRefused("only http:// and https:// webhooks are allowed")
    host = (split.hostname or "").lower()
    if not host:
        raise WebhookRefused("the URL has no host")
    if split.username or split.password:
        raise WebhookRefused("credentials in the URL are not allowed")
    return split.scheme, host, port or (443 if split.scheme == "https" else 80)


def vet(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to), or WebhookRefused saying why."""
    scheme, host, port = _parts(url)
    allowed = _allowed_hosts()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"cannot resolve {host}: {exc}") from None
    addresses = [cast(str, info[4][0]) for info in infos]  # an IPv4 or IPv6 address
    if not addresses:
        raise WebhookRefused(f"{host} resolves to no address")
    if host in allowed or f"{host}:{port}" in allowed:
        return scheme, host, port, addresses[0]
    for address in addresses:
        if not _public(address):
            raise WebhookRefused(
                f"{host} resolves to {address}, a loopback, link-local or private address "
                "(an administrator may allow it in FORGE_WEBHOOK_ALLOWED_HOSTS)"
            )
    return scheme, host, port, addresses[0]


def url_problem(url: str) -> str:
    """Why this URL cannot be a webhook, or "" when it can (checked at save time)."""
    try:
        vet(url)
    except WebhookRefused as exc:
        return str(exc)
    return ""


def _connection(scheme: str, host: str, port: int, address: str, timeout: float):
    def pinned(_address, timeout=timeout, source_address=None):
        return socket.create_connection((address, port), timeout, source_address)

    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn._create_connection = pinned  # type: ignore[attr-defined]
    return conn


def post_json(url: str, payload: dict[str, Any]) -> int:
    """POST payload to url, following up to MAX_REDIRECTS vetted redirects; the final
    status (2xx). Raises WebhookRefused (permanent) or WebhookFailed (transient)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    timeout = float(settings.FORGE_WEBHOOK_TIMEOUT)
    for _hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, address = vet(url)
        split = urlsplit(url)
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
        conn = _connection(scheme, host, port, address, timeout)
        try:
            conn.request(
                "POST",
                path,
                body=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            response = conn.getresponse()
            status = response.status
            location = response.getheader("Location", "")
            response.read(65536)
        except (OSError, http.client.HTTPException) as exc:
            raise WebhookFailed(f"{host}: {exc}") from None
        finally:
            conn.close()
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        if 200 <= status < 300:
            return status
        if status >= 500 or status == 429:
            raise WebhookFailed(f"{host} answered {status}")
        raise WebhookRefused(f"{host} answered {status}")
    raise WebhookRefused(f"more than {MAX_REDIRECTS} redirects")
