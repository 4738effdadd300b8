"""Extension points other apps register in their AppConfig.ready().

on_job_left_active: called with (job_id,) inside the transaction that moves a job
out of dispatched/running to any other state (requeued, paused, finished), e.g.
to release the GPUs it held.

on_checkpoint: called with (job_id, checkpoint dict) inside the ingest
transaction, for every complete checkpoint a job's stream announces (a progress
record with a checkpoint), in sequence order, e.g. to register it with its run.

before_schedule: called with (job,) inside the transaction that moves a job from
queued to scheduled (the row locked), e.g. to plan a carbon-aware job's start; it may
change the job's not_before and save fields of its own on the row.

on_metrics: called with (job_id, attempt, {name: (steps, values)}) inside the ingest
transaction, once per ingested batch of a job attempt's metrics (steps and values
are plain lists in sequence order), e.g. to evaluate alert rules. Keep it cheap:
it runs on the ingest path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

on_job_left_active: list[Callable[[int], None]] = []
on_checkpoint: list[Callable[[int, dict], None]] = []
before_schedule: list[Callable[[Any], None]] = []
on_metrics: list[Callable[[int, int, dict[str, tuple[list, list]]], None]] = []
