"""Readiness of what the console depends on: the database and the broker."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection


def database_status() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }


def broker_status() -> dict[str, Any]:
    from workers.celery import app

    started = time.monotonic()
    transport = "redis" if settings.REDIS_URL else "filesystem"
    try:
        if settings.REDIS_URL:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                conn.default_channel.client.ping()  # type: ignore[attr-defined]  # Redis channel
        else:
            folder = settings.BROKER_DIR / "queue"
            probe = folder / ".healthz"
            probe.write_text("ok")
            probe.unlink()
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": type(exc).__name__}
    return {"ok": True, "transport": transport, "ms": round((time.monotonic() - started) * 1000, 1)}
