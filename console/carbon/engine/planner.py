"""Forge's carbon-aware start planner (no Django): the console and bench/carbon.py call it.

    plan(forecast, now=..., duration=..., deadline=..., interruptible=False, blocked=...)

The time from ``earliest = max(now, not_before)`` to the planning limit is cut into pieces
on the slot grid (slot boundaries aligned to the forecast's first point; the first and last
piece may be partial). The limit is the deadline, but never further than the forecast's end
unless the job cannot fit before it: with no deadline the job is planned over the forecast
horizon only, and a job longer than the remaining horizon starts at ``earliest`` (nothing is
known beyond the horizon that would justify waiting).

- Non-interruptible: one window, starting at ``earliest`` or at a slot boundary, that ends by
  the limit, covers no blocked slot, and has the lowest forecast emissions (earliest wins a
  tie). Prefix sums of the forecast make each candidate O(log n).
- Interruptible: the cheapest pieces (by mean forecast intensity; earlier wins a tie) until
  their time covers the duration; the most expensive chosen piece is used from its start
  for what remains. Adjacent pieces are merged into windows. Greedy is optimal here since
  any piece may be cut.

``blocked(slot_start)`` is asked once per piece (with the piece's start; a few hundred calls
for a week of 30-minute slots, so give it precomputed capacity, not a query per call); a
blocked piece is never used. When nothing fits (every option blocked, or the limit too
near), the plan is to start at ``earliest`` and run straight through, with
``deadline_met=False`` and a reason: a job is never left without a plan. Bad input
raises ``PlanError``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.carbon.engine.intensity import SECONDS_PER_HOUR, Forecast

Window = tuple[datetime, datetime]
RELATIVE_TIE = 1e-9  # emissions this close count as equal: the earlier start wins


class PlanError(ValueError):
    """The job's constraints are contradictory or malformed."""


@dataclass(frozen=True)
class Plan:
    start: datetime
    windows: list[Window]
    expected_g: float
    now_g: float
    savings_pct: float
    deadline_met: bool
    reason: str

    @property
    def end(self) -> datetime:
        return self.windows[-1][1]


def _aware(name: str, value: datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise PlanError(f"{name} must be a timezone-aware datetime (UTC), got {value!r}")


def _hhmm(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%a %H:%M UTC")


def emissions_of(
    windows: Iterable[Window],
    intensity: Forecast | Callable[[datetime, datetime], float],
    watts: float,
) -> float:
    """gCO2e of running at `watts` during `windows`, on `intensity`: a Forecast (often the
    *actual* trace, to measure a plan made on a forecast), or a function (start, end) ->
    mean gCO2e/kWh over that interval."""
    total = 0.0
    for a, b in windows:
        if b <= a:
            continue
        if isinstance(intensity, Forecast):
            total += intensity.emissions_g(a, b, watts)
        else:
            hours = (b - a).total_seconds() / SECONDS_PER_HOUR
            total += intensity(a, b) * hours * watts / 1000.0
    return total


def _pieces(forecast: Forecast, earliest: float, limit: float, slot: float) -> list[float]:
    """Boundaries (epoch s) from earliest to limit on the slot grid anchored at the forecast."""
    origin = forecast.start.timestamp()
    k = int((earliest - origin) // slot) + 1
    bounds = [earliest]
    t = origin + k * slot
    while t < limit:
        if t > earliest:
            bounds.append(t)
        k += 1
        t = origin + k * slot
    bounds.append(limit)
    return bounds


def plan(
    forecast: Forecast,
    *,
    now: datetime,
    duration: timedelta,
    deadline: datetime | None,
    not_before: datetime | None = None,
    interruptible: bool = False,
    watts: float = 1000.0,
    slot: timedelta | None = None,
    blocked: Callable[[datetime], bool] | None = None,
) -> Plan:
    """When (and, if interruptible, in which windows) to run a job. See the module docstring."""
    _aware("now", now)
    _aware("deadline", deadline)
    _aware("not_before", not_before)
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise PlanError(f"duration must be a positive timedelta, got {duration!r}")
    if watts <= 0:
        raise PlanError(f"watts must be positive, got {watts!r}")
    slot = slot if slot is not None else forecast.resolution
    if slot <= timedelta(0):
        raise PlanError(f"slot must be positive, got {slot!r}")
    earliest_dt = max(now, not_before) if not_before is not None else now
    if deadline is not None:
        if not_before is not None and not_before > deadline:
            raise PlanError(
                f"not_before {not_before.isoformat()} is after the deadline {deadline.isoformat()}"
            )
        if deadline < earliest_dt + duration:
            raise PlanError(
                f"the deadline {deadline.isoformat()} is before the earliest start "
                f"{earliest_dt.isoformat()} plus the duration {duration}"
            )

    d = duration.total_seconds()
    earliest = earliest_dt.timestamp()
    limit = max(forecast.end.timestamp(), earliest + d)
    if deadline is not None:
        limit = min(limit, deadline.timestamp())
    tz = earliest_dt.tzinfo
    to_dt = lambda ts: datetime.fromtimestamp(ts, tz)  # noqa: E731
    k = watts / 1000.0 / SECONDS_PER_HOUR
    integral = forecast.integral
    now_g = (integral(earliest + d) - integral(earliest)) * k

    bounds = _pieces(forecast, earliest, limit, slot.total_seconds())
    n = len(bounds) - 1
    is_blocked = [bool(blocked(to_dt(bounds[i]))) for i in range(n)] if blocked else [False] * n

    if interruptible:
        windows, expected = _cheapest_pieces(bounds, is_blocked, d, integral)
    else:
        windows, expected = _best_start(bounds, is_blocked, d, integral)

    if windows is None:
        end = earliest + d
        why = "every slot before the deadline is blocked" if blocked else "no slot fits"
        return Plan(
            start=earliest_dt,
            windows=[(earliest_dt, to_dt(end))],
            expected_g=now_g,
            now_g=now_g,
            savings_pct=0.0,
            deadline_met=False,
            reason=f"start now ({_hhmm(earliest_dt)}): {why}, so the job runs straight through",
        )

    expected_g = expected * k
    savings = 100.0 * (now_g - expected_g) / now_g if now_g > 0 else 0.0
    dt_windows = [(to_dt(a), to_dt(b)) for a, b in windows]
    start = dt_windows[0][0]
    if start == earliest_dt and len(dt_windows) == 1:
        reason = f"start now ({_hhmm(start)}): no later start is lower-carbon"
    else:
        if savings >= 0.5:
            gain = f"{savings:.0f}% lower than starting now"
        elif savings > -0.5:
            gain = "as low as starting now; no lower-carbon start had capacity sooner"
        else:
            gain = f"{-savings:.0f}% higher than starting now, which had no capacity"
        if len(dt_windows) == 1:
            reason = f"start {_hhmm(start)}, {gain}"
        else:
            reason = (
                f"run in {len(dt_windows)} windows from {_hhmm(start)} to "
                f"{_hhmm(dt_windows[-1][1])}, {gain}"
            )
    if deadline is None and d > forecast.end.timestamp() - earliest:
        reason += " (the job is longer than the forecast; planned as far as it goes)"
    return Plan(
        start=start,
        windows=dt_windows,
        expected_g=expected_g,
        now_g=now_g,
        savings_pct=savings,
        deadline_met=True,
        reason=reason,
    )


def _best_start(
    bounds: list[float], is_blocked: list[bool], d: float, integral: Callable[[float], float]
) -> tuple[list[tuple[float, float]] | None, float]:
    limit = bounds[-1]
    blocked_before = [0]
    for b in is_blocked:
        blocked_before.append(blocked_before[-1] + b)
    best: tuple[float, float] | None = None  # (emissions, start)
    for i, s in enumerate(bounds[:-1]):
        e = s + d
        if e > limit + 1e-6:
            break
        j = bisect_left(bounds, e) - 1  # last piece the run touches
        if blocked_before[j + 1] - blocked_before[i]:
            continue
        cost = integral(e) - integral(s)
        if best is None or cost < best[0] - RELATIVE_TIE * abs(best[0]) - 1e-12:
            best = (cost, s)
    if best is None:
        return None, 0.0
    return [(best[1], best[1] + d)], best[0]


def _cheapest_pieces(
    bounds: list[float], is_blocked: list[bool], d: float, integral: Callable[[float], float]
) -> tuple[list[tuple[float, float]] | None, float]:
    pieces = []
    free = 0.0
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        if is_blocked[i] or b <= a:
            continue
        cost = integral(b) - integral(a)
        pieces.append((cost / (b - a), a, b))
        free += b - a
    if free < d - 1e-6:
        return None, 0.0
    pieces.sort()
    chosen: list[tuple[float, float]] = []
    left = d
    for _, a, b in pieces:
        use = min(b - a, left)
        chosen.append((a, a + use))
        left -= use
        if left <= 1e-6:
            break
    chosen.sort()
    windows: list[tuple[float, float]] = []
    for a, b in chosen:
        if windows and abs(windows[-1][1] - a) < 1e-6:
            windows[-1] = (windows[-1][0], b)
        else:
            windows.append((a, b))
    expected = sum(integral(b) - integral(a) for a, b in windows)
    return windows, expected
