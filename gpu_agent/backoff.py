"""Exponential backoff: how long to wait after a run of failures.

The one place that says how the agent retries (the uploader, the broker consumer,
registration); the console may import it too. Standard library only.

    failures += 1
    delay = backoff_delay(failures, base=0.5, cap=10.0)
    stop.wait(jittered(delay, low=0.75))
"""

from __future__ import annotations

import random


def backoff_delay(failures: int, *, base: float, cap: float, max_doublings: int = 16) -> float:
    """``base * 2**failures`` seconds, at most ``cap``; the exponent stops growing at
    ``max_doublings`` (so a long outage never overflows, whatever the cap)."""
    return min(cap, base * 2 ** min(max(failures, 0), max_doublings))


def jittered(delay: float, *, low: float) -> float:
    """``delay`` times a random factor in [low, 1]: many retrying clients spread out."""
    return delay * random.uniform(low, 1.0)
