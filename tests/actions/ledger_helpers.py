"""A scripted external booking backend and a recording SMS sender for the outbox and
reconciliation tests (unique module name: test folders have no ``__init__.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from frontdesk.actions.booking import BookingDesk, DeskSettings
from frontdesk.actions.breaker import Breaker
from frontdesk.actions.calendar import Slot
from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    Unavailable,
    Uncertain,
)
from frontdesk.actions.executor import Executor
from frontdesk.actions.notify import SmsError
from frontdesk.profile import Profile
from frontdesk.store import BusinessStore


@dataclass
class Backend:
    """``down``: every call fails Unavailable. ``landing``: creates raise Uncertain but
    land. Bookings are stored per key; ``extra`` holds foreign or duplicate rows."""

    down: bool = False
    landing: bool = False
    find_down: bool = False
    gate: asyncio.Event | None = None  # holds creates back until set
    entered: asyncio.Queue[str] = field(default_factory=asyncio.Queue)  # one per create
    held: dict[str, BackendBooking] = field(default_factory=dict)
    extra: list[BackendBooking] = field(default_factory=list)
    creates: int = 0
    name: str = "scripted"

    async def create(self, request: BookingRequest) -> BackendBooking:
        if self.down:
            raise Unavailable(self.name, "connection refused")
        self.creates += 1
        self.entered.put_nowait(request.key)
        if self.gate is not None:
            await self.gate.wait()
        booking = BackendBooking(request.key, f"ext-{self.creates}", request.start,
                                 request.end, request.service_id, request.customer_name,
                                 request.customer_phone)
        self.held.setdefault(request.key, booking)
        if self.landing:
            raise Uncertain(self.name, "reset after write")
        return self.held[request.key]

    async def find(self, key: str) -> list[BackendBooking]:
        if self.down or self.find_down:
            raise Unavailable(self.name, "connection refused")
        return [b for b in [*self.held.values(), *self.extra] if b.key == key]

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        if self.down:
            raise Unavailable(self.name, "connection refused")
        return [*self.held.values(), *self.extra]

    async def cancel(self, key: str) -> bool:
        if self.down:
            raise Unavailable(self.name, "connection refused")
        return self.held.pop(key, None) is not None


@dataclass
class Texts:
    sent: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0

    async def send(self, *, to: str, text: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise SmsError("HTTP 503 from the carrier", retryable=True)
        self.sent.append((to, text))
        return f"SM{len(self.sent):032d}"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_desk(profile: Profile, business: BusinessStore, backend: Backend,
              clock: Callable[[], datetime]) -> BookingDesk:
    executor = Executor(backend, breaker=Breaker(threshold=1000))
    settings = DeskSettings(in_call_budget_s=0.05, request_s=0.05, outbox_budget_s=0.05,
                            outbox_request_s=0.05, max_attempts=3)
    return BookingDesk(profile, business, clock=clock, executor=executor, settings=settings)


def slot_at(desk: BookingDesk, start: datetime, now: datetime) -> Slot:
    return desk.calendar.check("oil-change", start, now)
