"""Extension points other apps register in their AppConfig.ready().

on_job_left_active: called with (job_id,) inside the transaction that moves a job
out of dispatched/running to any other state (requeued, paused, finished), e.g.
to release the GPUs it held.
"""

from __future__ import annotations

from collections.abc import Callable

on_job_left_active: list[Callable[[int], None]] = []
