"""A circuit breaker per backend, sans-IO: the clock is a parameter of every call.

After ``threshold`` consecutive failures (timeouts, resets, 5xx, refused connections) the
circuit opens and writes fail fast for ``cooldown_s``, so a dead CRM costs a caller
nothing but the fallback sentence, not a full deadline per turn. After the cooldown one
trial request is let through (half-open); its success closes the circuit, its failure
re-opens it for another cooldown. A refusal (the backend answered "no") is a success for
the breaker: the backend is alive.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Breaker", "BreakerState"]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial_out: bool = False  # a half-open trial request is in flight

    def state(self, now: float) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if now - self.opened_at < self.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allow(self, now: float) -> bool:
        """May a request be sent now? In half-open state only one trial at a time."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self.trial_out:
            return False
        self.trial_out = True
        return True

    def success(self) -> None:
        self.failures, self.opened_at, self.trial_out = 0, None, False

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.trial_out or self.failures >= self.threshold:
            self.opened_at, self.trial_out = now, False
