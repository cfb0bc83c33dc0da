"""Retry delays: exponential backoff with full jitter, capped.

Full jitter (a uniform draw between 0 and the exponential bound) spreads the retries of
many commitments that failed together, so a recovering backend is not hit by a
synchronised wave. The random source is a parameter, so tests and benchmarks replay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    base_s: float
    cap_s: float
    floor_s: float = 0.0  # never retry sooner than this (an outbox pass is not free)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before retry number ``attempt`` (0 = the first retry)."""
        bound = min(self.cap_s, self.base_s * (2 ** min(attempt, 30)))
        return max(self.floor_s, rng.uniform(0.0, bound))
