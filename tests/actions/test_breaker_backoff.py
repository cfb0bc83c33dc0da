"""The circuit breaker and the retry backoff: pure, driven by explicit clock values."""

from __future__ import annotations

import random

from frontdesk.actions.backoff import Backoff
from frontdesk.actions.breaker import Breaker, BreakerState


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker = Breaker(threshold=3, cooldown_s=10)
    for t in (0.0, 1.0):
        breaker.failure(t)
        assert breaker.allow(t)
    breaker.failure(2.0)
    assert breaker.state(2.0) is BreakerState.OPEN
    assert not breaker.allow(11.9)


def test_a_success_resets_the_count() -> None:
    breaker = Breaker(threshold=2, cooldown_s=10)
    breaker.failure(0)
    breaker.success()
    breaker.failure(1)
    assert breaker.state(1) is BreakerState.CLOSED


def test_half_open_lets_one_trial_through() -> None:
    breaker = Breaker(threshold=1, cooldown_s=10)
    breaker.failure(0)
    assert breaker.state(10) is BreakerState.HALF_OPEN
    assert breaker.allow(10)
    assert not breaker.allow(10.1)  # the trial is still out
    breaker.success()
    assert breaker.state(10.2) is BreakerState.CLOSED and breaker.allow(10.2)


def test_failed_trial_reopens_for_a_full_cooldown() -> None:
    breaker = Breaker(threshold=5, cooldown_s=10)
    for _ in range(5):
        breaker.failure(0)
    assert breaker.allow(10)
    breaker.failure(10)
    assert breaker.state(19.9) is BreakerState.OPEN
    assert breaker.state(20) is BreakerState.HALF_OPEN


def test_backoff_is_bounded_jittered_and_reproducible() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, floor_s=0.5)
    first = [backoff.delay(n, random.Random(7)) for n in range(10)]
    again = [backoff.delay(n, random.Random(7)) for n in range(10)]
    assert first == again
    rng = random.Random(1)
    draws = [backoff.delay(n, rng) for n in range(200) for _ in range(3)]
    assert all(0.5 <= d <= 8.0 for d in draws)
    assert len({round(d, 6) for d in draws}) > 100  # jittered, not a fixed ladder
    assert max(backoff.delay(0, random.Random(s)) for s in range(200)) <= 1.0
