"""The executor's write policy against a scripted backend (the boundary stands in here;
the same policy runs against real Radicale and CRM servers in the fault-injection run).

Virtual time: the executor's clock only moves when its injected sleep is awaited or a
scripted step says it took time, so deadlines and backoff are exact.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.actions.backoff import Backoff
from frontdesk.actions.breaker import Breaker
from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    Rejected,
    Unavailable,
    Uncertain,
)
from frontdesk.actions.executor import Executor

START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
REQUEST = BookingRequest(key="k" * 32, service_id="oil-change", service_name="oil change",
                         start=START, end=START + timedelta(minutes=30), customer_name="Ann")


@dataclass
class Clock:
    now: float = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


Step = Callable[[], None]


@dataclass
class ScriptedBackend:
    """Creates follow ``creates`` (an exception to raise, "ok", "drop" or "hang");
    writes that land are kept in ``held``."""

    clock: Clock
    creates: list[object]
    held: list[BackendBooking] = field(default_factory=list)
    find_fails: int = 0
    calls: list[str] = field(default_factory=list)
    name: str = "scripted"
    created: asyncio.Event = field(default_factory=asyncio.Event)

    async def create(self, request: BookingRequest) -> BackendBooking:
        self.calls.append("create")
        self.created.set()
        step = self.creates.pop(0) if self.creates else "ok"
        booking = BackendBooking(request.key, f"ext-{len(self.held)}", request.start,
                                 request.end)
        if step == "hang":  # lands, then never answers
            self.held.append(booking)
            await asyncio.Event().wait()
        if isinstance(step, tuple):  # (error, landed)
            error, landed = step
            if landed:
                self.held.append(booking)
            raise error
        if step != "drop":
            if not any(b.key == request.key for b in self.held):
                self.held.append(booking)
        return booking

    async def find(self, key: str) -> list[BackendBooking]:
        self.calls.append("find")
        if self.find_fails:
            self.find_fails -= 1
            raise Unavailable(self.name, "down")
        return [b for b in self.held if b.key == key]

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        return list(self.held)

    async def cancel(self, key: str) -> bool:
        return False


def executor(backend: ScriptedBackend, clock: Clock, breaker: Breaker | None = None) -> Executor:
    return Executor(backend, breaker=breaker or Breaker(threshold=50),
                    backoff=Backoff(base_s=0.2, cap_s=0.2, floor_s=0.2),
                    rng=random.Random(0), clock=lambda: clock.now, sleep=clock.sleep)


async def test_clean_write_is_read_back_before_it_counts() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, ["ok"])
    result = await executor(backend, clock).write(REQUEST, budget_s=2, request_s=1)
    assert result.outcome == "committed" and result.booking is not None
    assert backend.calls == ["create", "find"]


async def test_unavailable_is_retried_with_backoff_until_it_lands() -> None:
    clock = Clock()
    down = (Unavailable("scripted", "refused"), False)
    backend = ScriptedBackend(clock, [down, down, "ok"])
    result = await executor(backend, clock).write(REQUEST, budget_s=2, request_s=1)
    assert result.outcome == "committed"
    assert backend.calls == ["create", "create", "create", "find"]
    assert clock.now == pytest.approx(0.4)  # two backoff pauses of 0.2 s


async def test_uncertain_write_is_looked_up_before_any_retry() -> None:
    clock = Clock()
    landed_500 = (Uncertain("scripted", "HTTP 500"), True)
    backend = ScriptedBackend(clock, [landed_500])
    result = await executor(backend, clock).write(REQUEST, budget_s=2, request_s=1)
    assert result.outcome == "committed"
    assert backend.calls == ["create", "find"]  # found by key: no second create
    assert len(backend.held) == 1


async def test_uncertain_and_absent_is_retried_with_the_same_key() -> None:
    clock = Clock()
    lost = (Uncertain("scripted", "reset"), False)
    backend = ScriptedBackend(clock, [lost, "ok"])
    result = await executor(backend, clock).write(REQUEST, budget_s=2, request_s=1)
    assert result.outcome == "committed"
    assert backend.calls == ["create", "find", "create", "find"]


async def test_acknowledged_but_dropped_write_is_never_committed() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, ["drop"] * 50)
    result = await executor(backend, clock).write(REQUEST, budget_s=1, request_s=1)
    assert result.outcome == "unknown" and result.maybe_landed
    assert "not found on read-back" in result.reason
    assert backend.held == []


async def test_rejection_fails_at_once_without_retry() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, [(Rejected("scripted", "taken", code="slot_taken"), False)])
    result = await executor(backend, clock).write(REQUEST, budget_s=2, request_s=1)
    assert (result.outcome, result.code) == ("failed", "slot_taken")
    assert backend.calls == ["create"]


async def test_rejection_after_an_uncertain_write_is_not_a_failure() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, [(Uncertain("s", "reset"), False),
                                      (Rejected("s", "conflict"), False)])
    backend.find_fails = 1  # the lookup between them cannot tell
    result = await executor(backend, clock).write(REQUEST, budget_s=2, request_s=1)
    assert result.outcome == "unknown" and result.maybe_landed


async def test_a_hung_write_is_cut_at_the_request_deadline_and_counted_uncertain() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, ["hang"])
    # real loop time for the cut (asyncio.timeout); 50 ms keeps the test quick
    result = await executor(backend, clock).write(REQUEST, budget_s=5, request_s=0.05)
    assert result.outcome == "committed"  # it had landed: the lookup finds it
    assert backend.calls[:2] == ["create", "find"] and len(backend.held) == 1


async def test_budget_exhausted_gives_unknown_not_failed() -> None:
    clock = Clock()
    down = (Unavailable("scripted", "refused"), False)
    backend = ScriptedBackend(clock, [down] * 100)
    result = await executor(backend, clock).write(REQUEST, budget_s=1, request_s=1)
    assert result.outcome == "unknown" and not result.maybe_landed
    assert clock.now == pytest.approx(1.0)
    assert backend.calls.count("create") == 5  # at 0, .2, .4, .6, .8


async def test_open_circuit_fails_fast_without_sending() -> None:
    clock = Clock()
    breaker = Breaker(threshold=2, cooldown_s=30)
    down = (Unavailable("scripted", "refused"), False)
    backend = ScriptedBackend(clock, [down] * 10)
    ex = executor(backend, clock, breaker)
    await ex.write(REQUEST, budget_s=0.3, request_s=1)
    sent = backend.calls.count("create")
    result = await ex.write(REQUEST, budget_s=2, request_s=1)
    assert result.outcome == "unknown" and "circuit open" in result.reason
    assert backend.calls.count("create") == sent  # nothing sent while open


async def test_remove_retries_until_the_booking_is_verified_gone() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, ["ok"])
    ex = executor(backend, clock)
    await ex.write(REQUEST, budget_s=2, request_s=1)
    failures = [Uncertain("scripted", "reset")]

    async def cancel(key: str) -> bool:
        backend.calls.append("cancel")
        if failures:
            raise failures.pop()
        before = len(backend.held)
        backend.held = [b for b in backend.held if b.key != key]
        return len(backend.held) < before

    backend.cancel = cancel  # type: ignore[method-assign]
    result = await ex.remove(REQUEST.key, budget_s=2, request_s=1)
    assert result.outcome == "committed" and backend.held == []
    assert backend.calls[-3:] == ["cancel", "cancel", "find"]


async def test_remove_that_cannot_be_verified_is_unknown() -> None:
    clock = Clock()
    backend = ScriptedBackend(clock, ["ok"])
    ex = executor(backend, clock)
    await ex.write(REQUEST, budget_s=2, request_s=1)  # cancel() of the script is a no-op
    result = await ex.remove(REQUEST.key, budget_s=1, request_s=1)
    assert result.outcome == "unknown" and result.reason == "still held after the cancel"


async def test_a_cancelled_trial_request_does_not_wedge_the_breaker() -> None:
    clock = Clock()
    breaker = Breaker(threshold=1, cooldown_s=10)
    breaker.failure(0.0)
    clock.now = 10.0  # cooled down: the next write is the half-open trial
    backend = ScriptedBackend(clock, ["hang"])
    ex = executor(backend, clock, breaker)
    trial = asyncio.create_task(ex.write(REQUEST, budget_s=60, request_s=60))
    await backend.created.wait()
    trial.cancel()  # the caller hung up, or the server is shutting down
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert not breaker.trial_out and breaker.opened_at == 10.0  # re-opened, not stuck
    clock.now = 20.0
    assert breaker.allow(clock.now)  # a new trial after the next cool-down
