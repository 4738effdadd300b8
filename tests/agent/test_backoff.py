"""gpu_agent.backoff: the one exponential backoff the agent retries with."""

from __future__ import annotations

import pytest

from gpu_agent.backoff import backoff_delay, jittered


def test_doubles_from_base_until_the_cap():
    delays = [backoff_delay(n, base=0.5, cap=10.0) for n in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_exponent_stops_at_max_doublings():
    assert backoff_delay(20, base=0.5, cap=1e9, max_doublings=8) == 0.5 * 2**8
    assert backoff_delay(20, base=0.25, cap=1e9) == 0.25 * 2**16
    assert backoff_delay(10**9, base=0.25, cap=60.0) == 60.0  # a long outage never overflows


def test_no_failures_waits_base():
    assert backoff_delay(0, base=0.25, cap=10.0) == 0.25
    assert backoff_delay(-3, base=0.25, cap=10.0) == 0.25


@pytest.mark.parametrize("low", [0.5, 0.75])
def test_jitter_stays_between_low_and_the_delay(low):
    values = [jittered(8.0, low=low) for _ in range(500)]
    assert all(8.0 * low <= v <= 8.0 for v in values)
    assert len(set(values)) > 1


def test_agent_sides_use_it():
    """The uploader keeps its formula: 0.25 s doubling, jitter [0.5, 1], capped per outcome."""
    from gpu_agent.uploader import AUTH, RETRY, Uploader

    up = Uploader.__new__(Uploader)
    up.failures, up.backoff_cap, up.auth_backoff_cap = 10, 10.0, 60.0
    assert 5.0 <= up.backoff(RETRY) <= 10.0
    assert 30.0 <= up.backoff(AUTH) <= 60.0
