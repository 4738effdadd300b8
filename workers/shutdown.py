"""Graceful worker shutdown (R2): running jobs go back to the queue, not lost.

When a worker's main process starts a warm shutdown it leaves a marker file;
each job checks for its worker's marker (its own pid for the solo and thread
pools, its parent's for prefork children) at every progress report, stops at
that clean point and is requeued with its checkpoint. A file, not a signal:
signalling idle prefork children breaks billiard's pool locks.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from celery.signals import worker_init, worker_shutdown, worker_shutting_down

_event = threading.Event()


def _marker(pid: int) -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "run" / f"worker-{pid}.stopping"


def requested() -> bool:
    return _event.is_set() or _marker(os.getpid()).exists() or _marker(os.getppid()).exists()


def request() -> None:
    _event.set()
    marker = _marker(os.getpid())
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def clear() -> None:
    _event.clear()
    _marker(os.getpid()).unlink(missing_ok=True)


@worker_init.connect
def _on_worker_init(**kwargs) -> None:
    clear()


@worker_shutting_down.connect
def _on_worker_shutting_down(**kwargs) -> None:
    request()


@worker_shutdown.connect
def _on_worker_shutdown(**kwargs) -> None:
    clear()
