"""The job lifecycle's effects: one explicit, ordered list, ``settings.LIFECYCLE_EFFECTS``.

The service where a moment happens (a job leaving an active state, a checkpoint or a
batch of metrics ingested, a job about to be scheduled, a run created) calls
``effects(event)`` and runs what it returns, in order. What those effects are, and their
order, is read in one place (``console/settings/base.py``), never appended from apps'
``ready()``. Entries are dotted paths, so a lower layer (jobs, fleet, runs) never imports
the feature apps that act on its moments.

Events, and how each effect is called:

``job_left_active`` (job_id): inside the transaction that moves a job out of
dispatched/running to any other state (requeued, paused, finished).

``before_schedule`` (job): inside the transaction that moves a job from queued to
scheduled, the row locked; it may change the job's ``not_before`` and save fields of its
own on the row. A failure is logged and never keeps the job from running.

``checkpoint`` (job_id, checkpoint dict): inside the ingest transaction, for every
complete checkpoint a job's stream announces, in sequence order.

``metrics`` (job_id, attempt, {name: (steps, values)}): inside the ingest transaction,
once per ingested batch of a job attempt's metrics. Keep it cheap: it runs on ingest.

``run_created`` (run=Run): inside ``run_create``'s transaction, once the run has its job.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

EVENTS = ("job_left_active", "before_schedule", "checkpoint", "metrics", "run_created")


def effects(event: str) -> tuple[Callable[..., Any], ...]:
    """The functions to call for ``event``, in the order the setting lists them."""
    if event not in EVENTS:
        raise KeyError(f"unknown lifecycle event {event!r}")
    return _resolve(tuple(settings.LIFECYCLE_EFFECTS.get(event, ())))


@cache
def _resolve(paths: tuple[str, ...]) -> tuple[Callable[..., Any], ...]:
    return tuple(import_string(path) for path in paths)


def effects_problems() -> list[str]:
    """What is wrong with ``settings.LIFECYCLE_EFFECTS`` (unknown events, paths that do
    not import or are not callable); empty when every entry resolves."""
    problems = []
    for event, paths in settings.LIFECYCLE_EFFECTS.items():
        if event not in EVENTS:
            problems.append(f"unknown event {event!r}")
            continue
        for path in paths:
            try:
                target = import_string(path)
            except ImportError as exc:
                problems.append(f"{event}: {path}: {exc}")
                continue
            if not callable(target):
                problems.append(f"{event}: {path} is not callable")
    return problems
