"""The carbon-aware planner: picks low windows, interruptible beats contiguous, respects
deadlines, not_before and blocked slots, never leaves a job without a plan, stays fast."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from console.carbon.engine import (
    CsvTraceProvider,
    Forecast,
    Plan,
    PlanError,
    Point,
    emissions_of,
    plan,
)
from tests.carbon.test_intensity import SAMPLE

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # Monday 00:00
H = timedelta(hours=1)
SLOT = timedelta(minutes=30)


def forecast_of(values: list[float], start: datetime = T0) -> Forecast:
    points = [Point(start + SLOT * i, 30, v) for i, v in enumerate(values)]
    return Forecast(points, "test", T0)


def brute_force_best_start(f: Forecast, earliest: datetime, duration, deadline) -> float:
    best = None
    t = earliest
    while t + duration <= deadline:
        g = f.emissions_g(t, t + duration, 1000.0)
        best = g if best is None else min(best, g)
        t += SLOT
    return best


# ------------------------------------------------------------------ choosing


def test_picks_the_low_window():
    values = [300.0] * 12 + [100.0, 90.0, 100.0, 110.0] + [300.0] * 8  # low 06:00-08:00
    f = forecast_of(values)
    p = plan(f, now=T0, duration=2 * H, deadline=T0 + 12 * H)
    assert p.start == T0 + 6 * H
    assert p.windows == [(T0 + 6 * H, T0 + 8 * H)]
    assert p.expected_g == pytest.approx(f.emissions_g(T0 + 6 * H, T0 + 8 * H, 1000.0))
    assert p.expected_g == pytest.approx((100 + 90 + 100 + 110) / 2)  # 1 kW, 4 half-hours
    assert p.now_g == pytest.approx(600.0)
    assert p.savings_pct == pytest.approx(100 * (600 - 200) / 600)
    assert p.deadline_met
    assert "06:00 UTC" in p.reason and "67% lower than starting now" in p.reason


def test_deadline_cuts_the_search():
    values = [300.0] * 12 + [100.0] * 4 + [300.0] * 8
    p = plan(forecast_of(values), now=T0, duration=2 * H, deadline=T0 + 7 * H)
    assert p.end <= T0 + 7 * H
    assert p.start == T0 + 5 * H  # as much of the low stretch as fits


def test_start_exactly_now_is_an_option_off_the_grid():
    now = T0 + timedelta(minutes=10)
    values = [50.0] * 4 + [500.0] * 20
    p = plan(forecast_of(values), now=now, duration=H, deadline=now + 10 * H)
    assert p.start == now and p.savings_pct == pytest.approx(0.0)
    assert "start now" in p.reason
    # later starts are on the slot grid
    p = plan(forecast_of([500.0] * 6 + [10.0] * 18), now=now, duration=H, deadline=now + 10 * H)
    assert p.start == T0 + 3 * H


def test_ties_go_to_the_earliest_start():
    p = plan(forecast_of([200.0] * 48), now=T0 + 5 * H, duration=3 * H, deadline=T0 + 20 * H)
    assert p.start == T0 + 5 * H and p.savings_pct == pytest.approx(0.0)


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_random_forecasts(seed):
    rng = random.Random(seed)
    f = forecast_of([rng.uniform(20, 400) for _ in range(96)])
    now = T0 + timedelta(minutes=rng.choice([0, 7, 30]))
    duration = SLOT * rng.randint(1, 20)
    deadline = now + duration + SLOT * rng.randint(0, 40)
    p = plan(f, now=now, duration=duration, deadline=deadline)
    grid_best = brute_force_best_start(f, T0 + SLOT * (1 if now != T0 else 0), duration, deadline)
    now_g = f.emissions_g(now, now + duration, 1000.0)
    expected = min(now_g, grid_best) if grid_best is not None else now_g
    assert p.expected_g == pytest.approx(expected)
    assert p.end <= deadline and p.windows[0][1] - p.windows[0][0] == duration


# ------------------------------------------------------------------ interruptible


def test_interruptible_picks_the_cheapest_slots_and_beats_contiguous():
    values = [300.0, 50.0, 300.0, 40.0, 300.0, 60.0, 300.0, 300.0]  # cheap slots 1, 3, 5
    f = forecast_of(values)
    kwargs = {"now": T0, "duration": timedelta(minutes=90), "deadline": T0 + 4 * H}
    p = plan(f, interruptible=True, **kwargs)
    assert p.windows == [
        (T0 + SLOT, T0 + 2 * SLOT),
        (T0 + 3 * SLOT, T0 + 4 * SLOT),
        (T0 + 5 * SLOT, T0 + 6 * SLOT),
    ]
    assert p.expected_g == pytest.approx((50 + 40 + 60) / 2)
    contiguous = plan(f, **kwargs)
    assert p.expected_g < contiguous.expected_g
    assert "3 windows" in p.reason


def test_interruptible_merges_adjacent_slots_and_uses_part_of_the_last():
    values = [300.0, 10.0, 20.0, 300.0, 30.0, 300.0]
    p = plan(
        forecast_of(values),
        now=T0,
        duration=timedelta(minutes=75),
        deadline=T0 + 3 * H,
        interruptible=True,
    )
    assert p.windows == [
        (T0 + SLOT, T0 + 3 * SLOT),
        (T0 + 4 * SLOT, T0 + 4 * SLOT + 15 * timedelta(minutes=1)),
    ]
    total = sum((b - a for a, b in p.windows), timedelta(0))
    assert total == timedelta(minutes=75)


def test_interruptible_never_beyond_deadline():
    values = [300.0] * 6 + [1.0] * 6
    p = plan(forecast_of(values), now=T0, duration=H, deadline=T0 + 3 * H, interruptible=True)
    assert p.end <= T0 + 3 * H and p.deadline_met


# ------------------------------------------------------------------ input errors


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"deadline": T0 + H}, "before the earliest start"),
        ({"not_before": T0 + 20 * H, "deadline": T0 + 10 * H}, "not_before .* after the deadline"),
        ({"not_before": T0 + 9 * H, "deadline": T0 + 10 * H}, "before the earliest start"),
        ({"duration": timedelta(0)}, "positive timedelta"),
        ({"duration": -H}, "positive timedelta"),
        ({"now": datetime(2026, 3, 2)}, "timezone-aware"),
        ({"deadline": datetime(2026, 3, 3)}, "timezone-aware"),
        ({"not_before": datetime(2026, 3, 2, 5)}, "timezone-aware"),
        ({"watts": 0}, "watts"),
    ],
)  # fmt: skip
def test_bad_input_is_a_plan_error(kwargs, message):
    args = {"now": T0, "duration": 2 * H, "deadline": T0 + 10 * H, **kwargs}
    with pytest.raises(PlanError, match=message):
        plan(forecast_of([100.0] * 48), **args)
    assert issubclass(PlanError, ValueError)


def test_not_before_is_respected():
    values = [10.0] * 8 + [300.0] * 4 + [100.0] * 36
    p = plan(forecast_of(values), now=T0, duration=H, deadline=T0 + 20 * H, not_before=T0 + 5 * H)
    assert p.start >= T0 + 5 * H
    assert p.start == T0 + 6 * H  # first 100-g stretch after the 300-g one


# ------------------------------------------------------------------ capacity


def test_blocked_slots_are_never_chosen():
    values = [300.0] * 4 + [50.0] * 4 + [80.0] * 4 + [300.0] * 12
    f = forecast_of(values)
    full = {T0 + 2 * H, T0 + 2 * H + SLOT}  # the cheapest hour has no capacity
    asked: list[datetime] = []

    def blocked(slot_start: datetime) -> bool:
        asked.append(slot_start)
        return slot_start in full

    p = plan(f, now=T0, duration=H, deadline=T0 + 12 * H, blocked=blocked)
    assert p.windows == [(T0 + 3 * H, T0 + 4 * H)]  # the next cheapest free hour
    assert asked and all(a.tzinfo is not None for a in asked)
    pi = plan(f, now=T0, duration=2 * H, deadline=T0 + 12 * H, interruptible=True, blocked=blocked)
    for a, b in pi.windows:
        assert not any(a <= s < b for s in full)
    assert sum((b - a for a, b in pi.windows), timedelta(0)) == 2 * H


@pytest.mark.parametrize("interruptible", [False, True])
def test_no_capacity_anywhere_starts_now_and_says_so(interruptible):
    f = forecast_of([100.0] * 48)
    now = T0 + timedelta(minutes=5)
    p = plan(
        f,
        now=now,
        duration=2 * H,
        deadline=now + 6 * H,
        interruptible=interruptible,
        blocked=lambda _t: True,
    )
    assert isinstance(p, Plan)
    assert p.start == now and p.windows == [(now, now + 2 * H)]
    assert p.deadline_met is False
    assert "blocked" in p.reason and p.expected_g == p.now_g and p.savings_pct == 0.0


def test_contiguous_job_that_cannot_fit_between_blocks_falls_back():
    f = forecast_of([100.0] * 48)
    p = plan(
        f,
        now=T0,
        duration=2 * H,
        deadline=T0 + 3 * H + SLOT,
        blocked=lambda t: t == T0 + H + SLOT,  # every 2-hour run before the deadline crosses it
    )
    assert p.deadline_met is False and p.start == T0
    later = plan(f, now=T0, duration=2 * H, deadline=T0 + 4 * H, blocked=lambda t: t < T0 + 2 * H)
    assert later.deadline_met and later.start == T0 + 2 * H
    assert "no lower-carbon start had capacity sooner" in later.reason


# ------------------------------------------------------------------ horizon


def test_no_deadline_plans_over_the_forecast_only():
    values = [300.0] * 10 + [20.0] * 4 + [300.0] * 10  # 12 h of forecast
    f = forecast_of(values)
    p = plan(f, now=T0, duration=H, deadline=None)
    assert p.start == T0 + 5 * H and p.deadline_met
    longer = plan(f, now=T0, duration=20 * H, deadline=None)
    assert longer.start == T0 and "longer than the forecast" in longer.reason


def test_a_stale_forecast_means_start_now():
    f = forecast_of([1.0] * 4, start=T0 - 10 * H)
    p = plan(f, now=T0, duration=H, deadline=T0 + 6 * H)
    assert p.start == T0 and p.deadline_met


def test_other_timezones_are_accepted_and_kept():
    cet = timezone(timedelta(hours=1))
    now = T0.astimezone(cet)
    values = [300.0] * 4 + [10.0] * 2 + [300.0] * 10
    p = plan(forecast_of(values), now=now, duration=H, deadline=now + 6 * H)
    assert p.start == T0 + 2 * H and p.start.utcoffset() == timedelta(hours=1)


# ------------------------------------------------------------------ measuring


def test_savings_are_consistent_with_emissions_of():
    provider = CsvTraceProvider(SAMPLE)
    now = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    f = provider.forecast(now, now + timedelta(days=3))
    for interruptible in (False, True):
        p = plan(
            f,
            now=now,
            duration=8 * H,
            deadline=now + 2 * timedelta(days=1),
            interruptible=interruptible,
            watts=700.0,
        )
        assert emissions_of(p.windows, f, 700.0) == pytest.approx(p.expected_g)
        assert emissions_of([(now, now + 8 * H)], f, 700.0) == pytest.approx(p.now_g)
        assert p.savings_pct == pytest.approx(100 * (1 - p.expected_g / p.now_g))
        assert p.savings_pct > 0
    # against a different ("actual") intensity, given as a function
    flat = emissions_of(p.windows, lambda a, b: 200.0, 700.0)
    assert flat == pytest.approx(200.0 * 8 * 0.7)


def test_a_week_of_slots_plans_well_under_10_ms():
    provider = CsvTraceProvider(SAMPLE)
    now = datetime(2026, 11, 28, 23, 10, tzinfo=UTC)
    f = provider.forecast(now, now + timedelta(days=7))
    assert len(f.points) >= 7 * 48
    for interruptible in (False, True):
        plan(f, now=now, duration=24 * H, deadline=None, interruptible=interruptible)
        t0 = time.perf_counter()
        for _ in range(20):
            plan(f, now=now, duration=24 * H, deadline=None, interruptible=interruptible)
        per_plan = (time.perf_counter() - t0) / 20
        assert per_plan < 0.010, f"{per_plan * 1000:.1f} ms per plan"
