"""One write to a booking backend, bounded in time, retried only when it is safe.

:meth:`Executor.write` is the whole policy for "put this booking in the backend":

- every request gets its own deadline inside the caller's total budget, so a slow CRM
  costs the caller at most the budget, never a hung turn;
- a failure that left nothing behind (:class:`Unavailable`) is retried after a jittered
  backoff while budget remains;
- a failure that may have landed (:class:`Uncertain`, or our own deadline cutting a write
  off) is never blindly repeated: the backend is first asked for the idempotency key.
  If it holds the booking, that is the result; if it holds nothing, or cannot say, the
  write is sent again with the same key, and the backend's own idempotency (CalDAV
  ``If-None-Match: *`` on the key's UID, the CRM's ``Idempotency-Key``) makes even a late
  landing of the first write and the retry one booking;
- an acknowledged write is read back by key before it counts: a backend that answers 201
  and drops the row (or a proxy that fakes the answer) never produces a confirmation;
- a circuit breaker per backend fails fast while the backend is down.

The outcome is a :class:`WriteResult`; the caller (``booking``) moves the ledger.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from frontdesk.actions.backoff import Backoff
from frontdesk.actions.breaker import Breaker, BreakerState
from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    Connector,
    ConnectorError,
    Rejected,
    Uncertain,
)

__all__ = ["IN_CALL_BACKOFF", "Executor", "WriteResult"]

T = TypeVar("T")
Outcome = Literal["committed", "failed", "unknown"]
# Retries inside one write: short, since a caller may be waiting on the line.
IN_CALL_BACKOFF = Backoff(base_s=0.1, cap_s=1.0)


@dataclass(frozen=True)
class WriteResult:
    """``committed``: the backend holds ``booking`` (read back). ``failed``: it refused and
    holds nothing of ours. ``unknown``: we could not tell in time; ``maybe_landed`` says
    whether a write may be in the backend (False: nothing was sent or everything sent was
    refused before landing)."""

    outcome: Outcome
    reason: str
    booking: BackendBooking | None = None
    maybe_landed: bool = False
    steps: tuple[str, ...] = field(default=())
    code: str = ""  # the backend's refusal code when ``failed`` ("slot_taken", ...)


class Executor:
    """Writes for one connector; owns that backend's circuit breaker."""

    def __init__(
        self,
        connector: Connector,
        *,
        breaker: Breaker | None = None,
        backoff: Backoff = IN_CALL_BACKOFF,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.connector = connector
        self.breaker = breaker or Breaker()
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self.connector.name

    def circuit_open(self) -> bool:
        """The backend's circuit is open: a write now would fail without being sent."""
        return self.breaker.state(self._clock()) is BreakerState.OPEN

    @property
    def cooldown_s(self) -> float:
        return self.breaker.cooldown_s

    async def write(
        self,
        request: BookingRequest,
        *,
        budget_s: float,
        request_s: float,
        maybe_landed: bool = False,
    ) -> WriteResult:
        """Get ``request`` into the backend within ``budget_s`` seconds, or say why not.

        ``maybe_landed`` is True when an earlier run (before a restart, or the in-call
        attempt) may already have written it: the first step is then a lookup."""
        deadline = self._clock() + budget_s
        steps: list[str] = []
        reason = "no time to try"
        retry = 0
        while self._clock() < deadline:
            if maybe_landed:
                found = await self._lookup(request, self._slice(request_s, deadline), steps)
                if found is not None:
                    return found
                if self._clock() >= deadline:
                    break
            if not self.breaker.allow(self._clock()):
                steps.append("create: circuit open")
                reason = f"{self.name} circuit open"
                break
            try:
                ack = await self._bounded(self.connector.create(request),
                                          self._slice(request_s, deadline))
            except Rejected as error:
                self.breaker.success()
                steps.append(f"create: rejected ({error.reason})")
                if not maybe_landed:
                    return WriteResult("failed", error.reason, steps=tuple(steps),
                                       code=error.code)
                # An earlier write of ours may be what the backend now refuses (or may
                # still land): only a later lookup can tell, so this is not a failure yet.
                return WriteResult("unknown", f"refused after an uncertain write: "
                                   f"{error.reason}", maybe_landed=True, steps=tuple(steps))
            except ConnectorError as error:
                self.breaker.failure(self._clock())
                steps.append(f"create: {type(error).__name__.lower()} ({error.reason})")
                reason = error.reason
                maybe_landed = maybe_landed or error.applied_maybe
            except BaseException:  # cancelled, or a bug: no verdict, but never a stuck trial
                self.breaker.failure(self._clock())
                raise
            else:
                self.breaker.success()
                steps.append(f"create: acknowledged {ack.external_id}")
                maybe_landed = True
                # the read-back may overrun the budget a little: it decides what is said
                found = await self._lookup(request, max(0.2, self._slice(request_s, deadline)),
                                           steps)
                if found is not None:
                    return found
                reason = "acknowledged but not found on read-back"
            await self._pause(retry, deadline)
            retry += 1
        return WriteResult("unknown", reason, maybe_landed=maybe_landed, steps=tuple(steps))

    async def remove(self, key: str, *, budget_s: float, request_s: float) -> WriteResult:
        """Delete the booking stored under ``key`` and check it is gone.

        Deleting is idempotent (a second delete of a gone booking is a no-op), so every
        failure is retried while budget remains; "committed" means a read-back by key
        found nothing of ours."""
        deadline = self._clock() + budget_s
        steps: list[str] = []
        reason = "no time to try"
        retry = 0
        while self._clock() < deadline:
            if not self.breaker.allow(self._clock()):
                steps.append("cancel: circuit open")
                reason = f"{self.name} circuit open"
                break
            try:
                await self._bounded(self.connector.cancel(key), self._slice(request_s, deadline))
            except Rejected as error:
                self.breaker.success()
                steps.append(f"cancel: rejected ({error.reason})")
                return WriteResult("failed", error.reason, steps=tuple(steps), code=error.code)
            except ConnectorError as error:
                self.breaker.failure(self._clock())
                steps.append(f"cancel: {type(error).__name__.lower()} ({error.reason})")
                reason = error.reason
            except BaseException:  # cancelled, or a bug: no verdict, but never a stuck trial
                self.breaker.failure(self._clock())
                raise
            else:
                self.breaker.success()
                try:
                    held = await self._bounded(self.connector.find(key),
                                               max(0.2, self._slice(request_s, deadline)))
                except ConnectorError as error:
                    steps.append(f"find: {type(error).__name__.lower()} ({error.reason})")
                    reason = "cancelled but not verified"
                else:
                    if not any(b.key == key for b in held):
                        steps.append("find: gone")
                        return WriteResult("committed", "gone from the backend",
                                           steps=tuple(steps))
                    steps.append("find: still held")
                    reason = "still held after the cancel"
            await self._pause(retry, deadline)
            retry += 1
        return WriteResult("unknown", reason, maybe_landed=True, steps=tuple(steps))

    async def _lookup(
        self, request: BookingRequest, budget: float, steps: list[str]
    ) -> WriteResult | None:
        """A committed result if the backend holds the booking under our key, else None."""
        try:
            held = await self._bounded(self.connector.find(request.key), budget)
        except ConnectorError as error:
            steps.append(f"find: {type(error).__name__.lower()} ({error.reason})")
            return None
        ours = [b for b in held if b.key == request.key]
        if not ours:
            steps.append("find: absent")
            return None
        match = [b for b in ours if b.start == request.start and b.end == request.end]
        if not match:
            steps.append(f"find: held at another time ({ours[0].start.isoformat()})")
            return None
        steps.append(f"find: held {match[0].external_id}" +
                     (f" ({len(ours)} copies)" if len(ours) > 1 else ""))
        return WriteResult("committed", "held by the backend", booking=match[0],
                           maybe_landed=True, steps=tuple(steps))

    def _slice(self, request_s: float, deadline: float) -> float:
        return max(0.0, min(request_s, deadline - self._clock()))

    async def _bounded(self, call: Awaitable[T], seconds: float) -> T:
        """``call`` under a deadline; running out counts as Uncertain (it may have landed)."""
        try:
            async with asyncio.timeout(seconds):
                return await call
        except TimeoutError:
            raise Uncertain(self.name, f"no answer within {seconds * 1000:.0f} ms") from None

    async def _pause(self, retry: int, deadline: float) -> None:
        delay = min(self._backoff.delay(retry, self._rng), max(0.0, deadline - self._clock()))
        if delay > 0:
            await self._sleep(delay)
