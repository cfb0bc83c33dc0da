"""Speech follows the ledger: what the receptionist says about a booking comes from the
commitment's state, whatever the backend does.

The backend here is a scripted external connector (the real CalDAV and CRM servers are
exercised under fault injection in tests/connectors and bench/ledger_faults.py); the
store is a real SQLite file, so every state asserted on is a committed row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import frontdesk.brain.receptionist as receptionist_module
from frontdesk.actions.booking import BookingDesk, DeskSettings
from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    Rejected,
    Uncertain,
)
from frontdesk.actions.executor import Executor
from frontdesk.actions.ledger import TOLD_CONFIRMED, TOLD_DECLINED, TOLD_TEXT_PROMISED
from frontdesk.brain.base import Booked, BrainOutput, CallerTurn, Text
from frontdesk.brain.booking_flow import Ask, Task
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    C_COMMITTED,
    C_FAILED,
    C_UNKNOWN,
    BusinessStore,
    Store,
    open_store,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=CHICAGO)
CALLER = "+15125551234"


@dataclass
class Backend:
    """``mode``: "ok", "uncertain" (never lands), "reject"; ``gate`` holds creates back."""

    mode: str = "ok"
    gate: asyncio.Event | None = None
    writing: asyncio.Event = field(default_factory=asyncio.Event)
    held: dict[str, BackendBooking] = field(default_factory=dict)
    creates: int = 0
    name: str = "scripted"

    async def create(self, request: BookingRequest) -> BackendBooking:
        self.creates += 1
        self.writing.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.mode == "uncertain":
            raise Uncertain(self.name, "HTTP 503")
        if self.mode == "reject":
            raise Rejected(self.name, "HTTP 422 invalid appointment")
        booking = BackendBooking(request.key, f"ext-{request.key[:6]}", request.start,
                                 request.end)
        self.held.setdefault(request.key, booking)
        return self.held[request.key]

    async def find(self, key: str) -> list[BackendBooking]:
        return [self.held[key]] if key in self.held else []

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        return list(self.held.values())

    async def cancel(self, key: str) -> bool:
        return self.held.pop(key, None) is not None


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'frontdesk.db'}" if request.param == "sqlite"
                   else request.getfixturevalue("fresh_postgres"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def profile() -> Profile:
    return parse_profile(example_profile_text(), "<example>")


@pytest.fixture
def business(store: Store, profile: Profile) -> BusinessStore:
    return store.for_business(profile.business.id)


def make_brain(profile: Profile, business: BusinessStore, backend: Backend,
               budget_s: float = 0.3, can_text: bool = True) -> Receptionist:
    call = business.create_call(CALLER, "+15125550100", started_at=NOW)
    executor = Executor(backend)
    desk = BookingDesk(profile, business, clock=lambda: NOW, executor=executor,
                       settings=DeskSettings(in_call_budget_s=budget_s,
                                             request_s=budget_s))
    desk.can_text = can_text
    return Receptionist(profile, business, call_id=call.id, caller_number=CALLER,
                        now=lambda: NOW, desk=desk)


async def say(brain: Receptionist, text: str, heard: bool = True) -> tuple[str, list[BrainOutput]]:
    outputs = [item async for item in brain.respond(CallerTurn(text, 0.9))]
    spoken = "".join(o.text for o in outputs if isinstance(o, Text))
    if heard:
        brain.heard(spoken, False)
    await brain.settle()  # the "heard" note is written off the event loop
    return spoken, outputs


async def ready_to_confirm(brain: Receptionist) -> None:
    said, _ = await say(brain, "Book an oil change Thursday at 3 PM. My name is John Smith.")
    assert "Shall I book it?" in said


async def test_committed_write_confirms_from_the_ledger(
    profile: Profile, business: BusinessStore
) -> None:
    backend = Backend()
    brain = make_brain(profile, business, backend)
    await ready_to_confirm(brain)
    said, out = await say(brain, "Yes.")
    [commitment] = business.list_commitments()
    assert commitment.state == C_COMMITTED
    assert commitment.told == TOLD_CONFIRMED and commitment.told_heard
    assert "booked for tomorrow at 3 PM" in said
    [row] = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert row.status == BOOKING_CONFIRMED and row.external_id == f"ext-{commitment.key[:6]}"
    assert [o.booking_id for o in out if isinstance(o, Booked)] == [row.id]


async def test_unanswered_write_promises_a_text_and_never_says_booked(
    profile: Profile, business: BusinessStore
) -> None:
    brain = make_brain(profile, business, Backend(mode="uncertain"))
    await ready_to_confirm(brain)
    said, out = await say(brain, "Yes.")
    assert "booked" not in said.replace("booking", "")
    assert "text confirmation" in said
    assert not any(isinstance(o, Booked) for o in out)
    [commitment] = business.list_commitments()
    assert commitment.state == C_UNKNOWN and commitment.told == TOLD_TEXT_PROMISED
    assert commitment.next_attempt_at is not None  # the outbox picks it up
    # the slot stays held for this caller while the outcome is unknown
    [row] = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert row.status == BOOKING_HELD
    assert brain.state.expecting is Ask.ANYTHING_ELSE


async def test_without_texting_a_person_is_promised_instead(
    profile: Profile, business: BusinessStore
) -> None:
    brain = make_brain(profile, business, Backend(mode="uncertain"), can_text=False)
    await ready_to_confirm(brain)
    said, _ = await say(brain, "Yes.")
    assert "text" not in said and "Someone from the team will call you to confirm it." in said
    [commitment] = business.list_commitments()
    assert commitment.state == C_UNKNOWN


async def test_refused_write_apologises_releases_the_hold_and_offers_a_message(
    profile: Profile, business: BusinessStore
) -> None:
    brain = make_brain(profile, business, Backend(mode="reject"))
    await ready_to_confirm(brain)
    said, _ = await say(brain, "Yes.")
    assert said.startswith("I'm sorry, our booking system didn't accept that appointment.")
    assert "booked for" not in said
    [commitment] = business.list_commitments()
    assert commitment.state == C_FAILED and commitment.told == TOLD_DECLINED
    assert commitment.told_heard
    [row] = business.list_bookings(NOW, NOW + timedelta(days=7), include_cancelled=True)
    assert row.status == BOOKING_CANCELLED
    assert brain.state.task is Task.MESSAGE


async def test_a_slow_write_gets_a_filler_first(
    profile: Profile, business: BusinessStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receptionist_module, "FILLER_AFTER_S", 0.01)
    backend = Backend(gate=asyncio.Event())
    brain = make_brain(profile, business, backend, budget_s=5)
    await ready_to_confirm(brain)
    reply = brain.respond(CallerTurn("Yes.", 0.9))
    first = await anext(reply)
    assert first == Text("One moment while I put that in our calendar. ")
    await backend.writing.wait()
    [row] = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert row.status == BOOKING_HELD  # nothing is confirmed while the write is out
    assert backend.gate is not None
    backend.gate.set()
    rest = [item async for item in reply]
    spoken = "".join(o.text for o in rest if isinstance(o, Text))
    assert "booked for tomorrow at 3 PM" in spoken
    assert backend.creates == 1  # one write, held back, not a timeout and a retry


async def test_a_second_yes_books_nothing_more(
    profile: Profile, business: BusinessStore
) -> None:
    backend = Backend()
    brain = make_brain(profile, business, backend)
    await ready_to_confirm(brain)
    await say(brain, "Yes.")
    # the same request again in the same session (a repeated intent)
    await say(brain, "Book an oil change Thursday at 3 PM.")
    said, _ = await say(brain, "Yes.")
    assert backend.creates == 1 and len(backend.held) == 1
    assert len(business.list_commitments()) == 1


async def test_a_confirmation_the_caller_did_not_hear_is_not_marked_heard(
    profile: Profile, business: BusinessStore
) -> None:
    brain = make_brain(profile, business, Backend())
    await ready_to_confirm(brain)
    await say(brain, "Yes.", heard=False)
    brain.heard("You're all set, John. Your oil change is booked for", True)
    [commitment] = business.list_commitments()
    assert commitment.told == TOLD_CONFIRMED and not commitment.told_heard
    said, _ = await say(brain, "Sorry?")  # restated and heard this time
    assert said.startswith("Just so you know")
    [commitment] = business.list_commitments()
    assert commitment.told_heard


async def test_a_ledger_failure_is_never_spoken_as_a_booking(
    profile: Profile, business: BusinessStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(profile, business, Backend())
    await ready_to_confirm(brain)

    async def broken(**_: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(brain.desk, "book", broken)
    said, out = await say(brain, "Yes.")
    assert "can't confirm it" in said and "booked" not in said
    assert not any(isinstance(o, Booked) for o in out)
    assert brain.state.task is Task.MESSAGE
