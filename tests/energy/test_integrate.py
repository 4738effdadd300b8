"""The pure integration of one GPU's power samples over an interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.energy.integrate import Sample, integrate_power, raw_interval

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def raw(seconds: float, watts: float) -> Sample:
    return Sample(at=at(seconds), power_w=watts)


def folded(seconds: float, watts: float, resolution: int) -> Sample:
    return Sample(at=at(seconds), power_w=watts, resolution_seconds=resolution)


def test_steady_raw_samples_give_power_times_time():
    samples = [raw(s, 300.0) for s in range(0, 3600, 10)]
    result = integrate_power(samples, at(0), at(3600))
    assert result.wh == pytest.approx(300.0)
    assert result.covered_s == pytest.approx(3600.0)
    assert result.samples == 360
    assert result.estimate_wh() == pytest.approx(300.0)


def test_each_sample_holds_until_the_next():
    samples = [raw(0, 100.0), raw(10, 200.0), raw(20, 400.0), raw(30, 400.0)]
    result = integrate_power(samples, at(0), at(30))
    # 10 s at 100 W, 10 s at 200 W, 10 s at 400 W
    assert result.wh == pytest.approx((100 + 200 + 400) * 10 / 3600)


def test_unsorted_samples_are_sorted_first():
    samples = [raw(20, 400.0), raw(0, 100.0), raw(10, 200.0), raw(30, 400.0)]
    assert integrate_power(samples, at(0), at(30)).wh == pytest.approx(700 * 10 / 3600)


def test_a_gap_is_not_filled_with_a_stale_reading():
    # raw interval 10 s: a sample holds at most 20 s; the 100 s silence is uncovered
    samples = [raw(0, 300.0), raw(10, 300.0), raw(20, 300.0), raw(120, 300.0), raw(130, 300.0)]
    result = integrate_power(samples, at(0), at(140))
    assert result.covered_s == pytest.approx(10 + 10 + 20 + 10 + 10)
    assert result.wh == pytest.approx(300.0 * 60 / 3600)
    # the estimate draws the gap at the covered time's mean power
    assert result.estimate_wh() == pytest.approx(300.0 * 140 / 3600)


def test_the_last_sample_holds_at_most_twice_its_interval():
    result = integrate_power([raw(0, 100.0), raw(10, 100.0)], at(0), at(3600))
    assert result.covered_s == pytest.approx(10 + 20)


def test_folded_rows_hold_for_their_resolution_and_mix_with_raw_ones():
    samples = [
        folded(0, 600.0, 900),  # a 15-minute average
        folded(900, 300.0, 60),  # then per-minute averages
        folded(960, 300.0, 60),
        raw(1020, 120.0),  # then raw samples every 10 s
        raw(1030, 120.0),
        raw(1040, 120.0),
    ]
    result = integrate_power(samples, at(0), at(1050))
    expected = 600 * 900 + 300 * 60 + 300 * 60 + 120 * 30
    assert result.covered_s == pytest.approx(1050)
    assert result.wh == pytest.approx(expected / 3600)


def test_a_folded_row_is_capped_at_twice_its_resolution():
    result = integrate_power([folded(0, 500.0, 60)], at(0), at(3600))
    assert result.covered_s == pytest.approx(120)
    assert result.wh == pytest.approx(500 * 120 / 3600)


def test_samples_outside_the_interval_are_clipped():
    samples = [raw(-15, 1000.0), raw(-5, 200.0), raw(5, 200.0), raw(15, 200.0), raw(60, 9999.0)]
    result = integrate_power(samples, at(0), at(20))
    # the sample at -5 holds into the interval until 5; the one at 60 is after it
    assert result.covered_s == pytest.approx(20)
    assert result.wh == pytest.approx(200 * 20 / 3600)
    assert result.samples == 3


def test_a_sample_long_before_the_interval_does_not_reach_it():
    result = integrate_power([raw(-600, 500.0)], at(0), at(60), raw_interval_s=10)
    assert result.samples == 0
    assert result.estimate_wh() == 0.0


def test_zero_length_and_reversed_intervals_are_zero():
    samples = [raw(0, 300.0), raw(10, 300.0)]
    for start, end in ((at(5), at(5)), (at(10), at(0))):
        result = integrate_power(samples, start, end)
        assert (result.wh, result.covered_s, result.interval_s, result.samples) == (0, 0, 0, 0)
        assert result.mean_w is None


def test_no_samples():
    result = integrate_power([], at(0), at(60))
    assert result.samples == 0 and result.interval_s == 60 and result.estimate_wh() == 0.0


def test_negative_power_readings_count_as_zero():
    assert integrate_power([raw(0, -5.0), raw(10, -5.0)], at(0), at(20)).wh == 0.0


def test_raw_interval_is_the_median_gap_of_raw_samples():
    samples = [raw(0, 1), raw(5, 1), raw(10, 1), raw(100, 1), folded(-900, 1, 900)]
    assert raw_interval(samples) == 5.0
    assert raw_interval([raw(0, 1)]) == 10.0  # the agent's default
    assert raw_interval([raw(0, 1), raw(0, 1)], default=3.0) == 3.0
