"""Cancelling and moving a booking by phone, through the ledger (real SQLite store, the
built-in calendar as the backend)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.cancelling import KIND_CANCEL
from frontdesk.brain.base import BrainOutput, CallerTurn, Text
from frontdesk.brain.booking_flow import Ask
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    C_COMMITTED,
    BookingRecord,
    BusinessStore,
    Store,
    open_store,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)  # Monday morning
CALLER = "+15125551234"


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


def receptionist(profile: Profile, business: BusinessStore, caller: str | None = CALLER
                 ) -> Receptionist:
    call = business.create_call(caller or "anonymous", "+15125550100", started_at=NOW)
    return Receptionist(profile, business, call_id=call.id, caller_number=caller,
                        now=lambda: NOW, desk=BookingDesk(profile, business, clock=lambda: NOW))


async def say(brain: Receptionist, text: str) -> tuple[str, list[BrainOutput]]:
    outputs = [item async for item in brain.respond(CallerTurn(text, 0.9))]
    spoken = "".join(o.text for o in outputs if isinstance(o, Text))
    brain.heard(spoken, False)
    await brain.settle()  # the "heard" note is written off the event loop
    return spoken, outputs


async def booked_earlier(profile: Profile, business: BusinessStore) -> BookingRecord:
    """A booking made in an earlier call from the same number."""
    brain = receptionist(profile, business)
    await say(brain, "Book an oil change on December 1 at 10 AM. My name is Ann Lee.")
    said, _ = await say(brain, "Yes.")
    assert "booked for" in said
    [booking] = business.upcoming_bookings_for(CALLER, NOW)
    return booking


def upcoming(business: BusinessStore) -> list[str]:
    return [f"{b.start_at.astimezone(CHICAGO):%a %H:%M}"
            for b in business.upcoming_bookings_for(CALLER, NOW)]


async def test_cancel_reads_back_asks_then_cancels_once(
    profile: Profile, business: BusinessStore
) -> None:
    booking = await booked_earlier(profile, business)
    brain = receptionist(profile, business)
    said, _ = await say(brain, "Hi, I need to cancel my appointment.")
    assert said == "I have your oil change tomorrow at 10 AM. Shall I cancel it?"
    assert upcoming(business) == ["Tue 10:00"]  # nothing done before the yes
    said, _ = await say(brain, "Yes please.")
    assert said.startswith("Your oil change tomorrow at 10 AM is cancelled.")
    assert business.get_booking(booking.id).status == BOOKING_CANCELLED  # type: ignore[union-attr]
    [cancel] = business.list_commitments(kinds=(KIND_CANCEL,))
    assert cancel.state == C_COMMITTED and cancel.told_heard
    said, _ = await say(brain, "Cancel my appointment")  # nothing left to cancel
    assert "don't see an upcoming appointment" in said


async def test_no_keeps_the_appointment(profile: Profile, business: BusinessStore) -> None:
    booking = await booked_earlier(profile, business)
    brain = receptionist(profile, business)
    await say(brain, "I can't make my appointment")
    said, _ = await say(brain, "No, actually keep it.")
    assert "leave it as it is" in said
    assert business.get_booking(booking.id).status == BOOKING_CONFIRMED  # type: ignore[union-attr]
    assert business.list_commitments(kinds=(KIND_CANCEL,)) == []


async def test_an_unknown_number_gets_a_message_instead(
    profile: Profile, business: BusinessStore
) -> None:
    await booked_earlier(profile, business)
    brain = receptionist(profile, business, caller=None)
    said, _ = await say(brain, "I need to cancel my appointment.")
    assert "don't see an upcoming appointment" in said
    assert brain.state.expecting is Ask.MESSAGE


async def test_reschedule_books_the_new_time_before_cancelling_the_old(
    profile: Profile, business: BusinessStore
) -> None:
    old = await booked_earlier(profile, business)
    brain = receptionist(profile, business)
    said, _ = await say(brain, "Can I move my appointment?")
    assert said.startswith("Sure, let's move your oil change tomorrow at 10 AM.")
    said, _ = await say(brain, "December 3 at 2 PM")
    assert "Shall I book it?" in said and "oil change on Thursday, December 3rd at 2 PM" in said
    assert upcoming(business) == ["Tue 10:00"]
    said, _ = await say(brain, "Yes.")
    assert "booked for Thursday, December 3rd at 2 PM" in said
    assert "Your earlier oil change tomorrow at 10 AM is cancelled." in said
    assert said.index("booked for") < said.index("is cancelled")
    assert upcoming(business) == ["Thu 14:00"]
    assert business.get_booking(old.id).status == BOOKING_CANCELLED  # type: ignore[union-attr]


async def test_reschedule_with_the_new_time_in_one_breath(
    profile: Profile, business: BusinessStore
) -> None:
    await booked_earlier(profile, business)
    brain = receptionist(profile, business)
    said, _ = await say(brain, "I need to reschedule my appointment to December 3 at 2 PM")
    assert "Shall I book it?" in said
    said, _ = await say(brain, "Yes")
    assert upcoming(business) == ["Thu 14:00"]
    assert business.list_bookings(NOW, NOW + timedelta(days=7), include_cancelled=True)[0] \
        .status == BOOKING_CANCELLED
