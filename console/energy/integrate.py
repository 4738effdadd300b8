"""Energy from power samples (no Django): integrate one GPU's power over an interval.

Each sample's power holds from its time until the next sample, but never longer than
twice its sampling interval (a folded row's resolution, 60 s or 900 s; for raw rows the
typical gap between raw samples, else ``raw_interval_s``), so a telemetry gap is not
filled with a stale reading. Everything is clipped to [start, end). A sample taken before
``start`` still counts for the part of its hold that falls inside the interval.

What the samples do not cover is reported (``covered_s``), not guessed here: the
caller decides how to fill it (``Integral.estimate_wh``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

SECONDS_PER_HOUR = 3600.0
DEFAULT_RAW_INTERVAL_S = 10.0  # the agent's default --telemetry-interval
HOLD_FACTOR = 2.0


@dataclass(frozen=True, kw_only=True)
class Sample:
    at: datetime
    power_w: float
    resolution_seconds: int = 0  # 0: raw; else a folded average over that many seconds


@dataclass(frozen=True, kw_only=True)
class Integral:
    wh: float  # watt-hours over the covered time
    covered_s: float  # seconds of [start, end) some sample covers
    interval_s: float  # length of [start, end)
    samples: int  # samples that contributed

    @property
    def mean_w(self) -> float | None:
        """Mean power over the covered time (None when nothing is covered)."""
        if self.covered_s <= 0:
            return None
        return self.wh * SECONDS_PER_HOUR / self.covered_s

    def estimate_wh(self) -> float:
        """Energy over the whole interval: gaps drawn at the covered time's mean power."""
        mean = self.mean_w
        return 0.0 if mean is None else mean * self.interval_s / SECONDS_PER_HOUR


def raw_interval(samples: list[Sample], default: float = DEFAULT_RAW_INTERVAL_S) -> float:
    """The typical gap between consecutive raw samples (their median), else ``default``."""
    times = sorted(s.at for s in samples if s.resolution_seconds == 0)
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    gaps = [g for g in gaps if g > 0]
    return statistics.median(gaps) if gaps else default


def integrate_power(
    samples: Iterable[Sample],
    start: datetime,
    end: datetime,
    *,
    raw_interval_s: float | None = None,
) -> Integral:
    """Watt-hours one GPU drew over [start, end) according to its samples."""
    interval_s = max(0.0, (end - start).total_seconds())
    ordered = sorted(samples, key=lambda s: s.at)
    if interval_s == 0 or not ordered:
        return Integral(wh=0.0, covered_s=0.0, interval_s=interval_s, samples=0)
    raw_s = raw_interval(ordered) if raw_interval_s is None else raw_interval_s
    joules = covered = 0.0
    used = 0
    for i, sample in enumerate(ordered):
        period = float(sample.resolution_seconds) if sample.resolution_seconds else raw_s
        hold_end = sample.at.timestamp() + HOLD_FACTOR * period
        if i + 1 < len(ordered):
            hold_end = min(hold_end, ordered[i + 1].at.timestamp())
        lo = max(sample.at.timestamp(), start.timestamp())
        hi = min(hold_end, end.timestamp())
        if hi <= lo:
            continue
        joules += max(0.0, sample.power_w) * (hi - lo)
        covered += hi - lo
        used += 1
    return Integral(
        wh=joules / SECONDS_PER_HOUR, covered_s=covered, interval_s=interval_s, samples=used
    )
