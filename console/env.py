"""The one place settings read the environment.

Every reader fails loudly with ``ImproperlyConfigured`` naming the variable, so a
typo in a deployment stops the process at start-up instead of running on a
silently wrong value.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING: Any = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _raw(self, name: str, default: Any) -> str | Any:
        if name in self._environ:
            return self._environ[name]
        if default is _MISSING:
            raise ImproperlyConfigured(f"{name} is required but not set.")
        return default

    def str(self, name: str, default: Any = _MISSING) -> Any:
        return self._raw(name, default)

    def bool(self, name: builtins.str, default: builtins.bool | Any = _MISSING) -> builtins.bool:
        raw = self._raw(name, default)
        if isinstance(raw, bool):
            return raw
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0).")

    def int(
        self,
        name: builtins.str,
        default: builtins.int | Any = _MISSING,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> builtins.int:
        raw = self._raw(name, default)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
        if min is not None and value < min:
            raise ImproperlyConfigured(f"{name}={value} is below the minimum {min}.")
        if max is not None and value > max:
            raise ImproperlyConfigured(f"{name}={value} is above the maximum {max}.")
        return value

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str] | Any = _MISSING
    ) -> builtins.list[builtins.str]:
        raw = self._raw(name, default)
        if isinstance(raw, list):
            return raw
        return [item.strip() for item in raw.split(",") if item.strip()]

    def networks(
        self, name: builtins.str, default: builtins.list[builtins.str] | Any = _MISSING
    ) -> builtins.list[builtins.str]:
        """A comma-separated list of IP addresses or CIDR networks, each normalised
        (``10.0.0.7`` becomes ``10.0.0.7/32``)."""
        networks = []
        for item in self.list(name, default):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)."
                ) from None
        return networks

    def path(self, name: builtins.str, default: Path | Any = _MISSING) -> Path:
        raw = self._raw(name, default)
        if not str(raw).strip():
            raise ImproperlyConfigured(f"{name} is set but empty.")
        return Path(raw).expanduser().resolve()

    def redis_url(self, name: builtins.str) -> builtins.str | None:
        raw = self._raw(name, None)
        if raw is None or raw == "":
            return None
        parts = urlsplit(raw)
        if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
            raise ImproperlyConfigured(
                f"{name}={raw!r} is not a Redis URL (expected redis://host:port/db)."
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} has an invalid port.") from None
        return raw


def parse_database_url(name: str, raw: str) -> dict[str, Any]:
    parts = urlsplit(raw)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise ImproperlyConfigured(
                f"{name}={raw!r}: a SQLite URL needs an absolute path, e.g. sqlite:////srv/forge.db."
            )
        return sqlite_database(Path(path))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ImproperlyConfigured(f"{name}={raw!r} names no database.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} has an invalid port.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name}={raw!r}: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite://)."
    )


def sqlite_database(path: Path) -> dict[str, Any]:
    """SQLite tuned for several writer processes: WAL, a busy timeout, IMMEDIATE writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


def secret_key_from_file(path: Path) -> str:
    """Read the secret key kept in var/, creating it (mode 0600) on first run.

    The key is written to a private temporary file and hard-linked into place, so
    processes starting at the same moment all read one complete key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 50:
        raise ImproperlyConfigured(f"{path} holds a secret key shorter than 50 characters.")
    return key
