"""The deterministic receptionist, conversation by conversation, at the text level.

The clock is fixed at Wednesday 2026-11-25 10:00 in Chicago; the store is a fresh SQLite
file per test, so every booking or message asserted on is a real committed row.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from frontdesk.actions.calendar import Calendar
from frontdesk.brain.base import (
    Booked,
    BrainOutput,
    CallerTurn,
    Hangup,
    MessageSaved,
    Text,
    Transfer,
)
from frontdesk.brain.booking_flow import Ask
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import BookingRecord, BusinessStore, Store, open_store

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=CHICAGO)  # a Wednesday
THURSDAY = date(2026, 11, 26)
CALLER = "+15125551234"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
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


@pytest.fixture
def brain(profile: Profile, business: BusinessStore) -> Receptionist:
    call = business.create_call(CALLER, "+15125550100", started_at=NOW)
    return Receptionist(profile, business, call_id=call.id, caller_number=CALLER,
                        now=lambda: NOW)


async def run(brain: Receptionist, turn: CallerTurn) -> tuple[str, list[BrainOutput]]:
    outputs = [item async for item in brain.respond(turn)]
    spoken = "".join(o.text for o in outputs if isinstance(o, Text))
    brain.heard(spoken, False)  # as the Call does once the reply has played
    return spoken, outputs


async def turn(brain: Receptionist, text: str,
               confidence: float = 0.9) -> tuple[str, list[BrainOutput]]:
    return await run(brain, CallerTurn(text, confidence))


def bookings(business: BusinessStore) -> list[BookingRecord]:
    return business.list_bookings(NOW - timedelta(days=1), NOW + timedelta(days=90))


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CHICAGO)


def fill(profile: Profile, business: BusinessStore, start: datetime) -> None:
    """Book every bay for an oil change at ``start``, as other callers would."""
    calendar = Calendar(profile, business)
    for name in ("Ann Other", "Bo Other"):
        slot = calendar.check("oil-change", start, NOW)
        calendar.book(slot, customer_name=name, customer_phone=None, call_id=None, now=NOW)


async def test_greeting_is_the_profile_greeting(brain: Receptionist, profile: Profile) -> None:
    outputs = [item async for item in brain.greet()]
    assert outputs == [Text(profile.business.greeting)]


async def test_happy_path_in_five_turns(brain: Receptionist, business: BusinessStore) -> None:
    said, out = await turn(brain, "Hi, I'd like to book an oil change.")
    assert "oil change" in said and "what day and time" in said.lower()

    said, out = await turn(brain, "Thursday at 3 PM.")
    assert "tomorrow at 3 PM" in said and "name" in said
    assert not bookings(business)

    said, out = await turn(brain, "John Smith.")
    assert said.startswith("Thanks, John.")
    assert "oil change tomorrow at 3 PM" in said and "Shall I book it?" in said
    assert "on tomorrow" not in said
    assert not bookings(business)

    said, out = await turn(brain, "Yes, please.")
    kinds = [type(o) for o in out]
    assert kinds.index(Booked) < kinds.index(Text)
    [row] = bookings(business)
    assert row.service_id == "oil-change"
    assert row.start_at.astimezone(CHICAGO) == at(THURSDAY, 15)
    assert row.customer_name == "John Smith" and row.customer_phone == CALLER
    booked = next(o for o in out if isinstance(o, Booked))
    assert booked.booking_id == row.id and booked.start == row.start_at
    assert "You're all set, John" in said and "booked for tomorrow at 3 PM" in said

    said, out = await turn(brain, "No, that's all. Goodbye.")
    assert "Goodbye" in said and isinstance(out[-1], Hangup)
    assert len(bookings(business)) == 1


async def test_confirmation_is_rendered_from_the_stored_row(
    brain: Receptionist, business: BusinessStore
) -> None:
    """A dated (not relative) day: the confirmation reads back what the row holds."""
    await turn(brain, "Book an oil change Friday at 11 AM. My name is Jane Doe.")
    said, out = await turn(brain, "Yes.")
    [row] = bookings(business)
    assert row.start_at.astimezone(CHICAGO) == at(date(2026, 11, 27), 11)
    assert "booked for Friday, November 27th at 11 AM" in said


async def test_everything_in_one_sentence(brain: Receptionist, business: BusinessStore) -> None:
    said, out = await turn(
        brain, "Can I book a brake inspection tomorrow at 9 AM? My name is Maria Lopez.")
    assert said == (
        "Thanks, Maria. To confirm: a brake inspection tomorrow at 9 AM. Shall I book it?")
    assert not bookings(business)
    said, out = await turn(brain, "Yes")
    [row] = bookings(business)
    assert (row.service_id, row.customer_name) == ("brake-inspection", "Maria Lopez")
    assert row.start_at.astimezone(CHICAGO) == at(THURSDAY, 9)


async def test_unknown_service_lists_what_we_do(
    brain: Receptionist, business: BusinessStore
) -> None:
    said, out = await turn(brain, "I need a haircut")
    assert "don't think we offer that" in said
    for service in ("oil change", "brake inspection", "tire rotation", "state inspection"):
        assert service in said
    said, out = await turn(brain, "a perm, please")
    assert "don't think we offer that" in said
    assert not any(isinstance(o, Booked) for o in out) and not bookings(business)
    said, out = await turn(brain, "Brakes")
    assert "brake inspection" in said and "what day and time" in said.lower()


async def test_closed_day_offers_the_nearest_open_times_and_a_time_pick(
    brain: Receptionist, business: BusinessStore
) -> None:
    await turn(brain, "I'd like an oil change")
    said, out = await turn(brain, "Sunday at 3")
    assert said.startswith("We're closed on Sunday, November 29th.")
    assert "Monday, November 30th at 2:45 PM, 3 PM, or 3:15 PM" in said
    # A bare time refers to the day on offer, not to today.
    said, out = await turn(brain, "3:30")
    assert "Monday, November 30th at 3:30 PM" in said and "name" in said
    await turn(brain, "Bob Jones")
    await turn(brain, "Yes")
    [row] = bookings(business)
    assert row.start_at.astimezone(CHICAGO) == at(date(2026, 11, 30), 15, 30)


async def test_after_hours_offers_times_inside_hours_and_a_position_pick(
    brain: Receptionist, business: BusinessStore
) -> None:
    await turn(brain, "I'd like an oil change")
    said, out = await turn(brain, "Thursday at 8 PM")
    assert said.startswith("We're not open at 8 PM tomorrow.")
    assert "tomorrow at 4 PM, 4:15 PM, or 4:30 PM" in said
    assert "8 PM" not in said.split(".", 1)[1]
    said, out = await turn(brain, "the second one")
    assert "tomorrow at 4:15 PM" in said
    await turn(brain, "Bob Jones")
    await turn(brain, "Yes")
    [row] = bookings(business)
    assert row.start_at.astimezone(CHICAGO) == at(THURSDAY, 16, 15)


async def test_a_date_in_the_past(brain: Receptionist, business: BusinessStore) -> None:
    await turn(brain, "I'd like an oil change")
    said, out = await turn(brain, "November 2nd")
    assert said == "Monday, November 2nd has already passed. What other day works for you?"
    said, out = await turn(brain, "Friday at 10")
    assert "Friday, November 27th at 10 AM" in said
    assert not bookings(business)


async def test_a_full_slot_offers_alternatives(
    brain: Receptionist, profile: Profile, business: BusinessStore
) -> None:
    fill(profile, business, at(THURSDAY, 15))
    await turn(brain, "I'd like an oil change")
    said, out = await turn(brain, "Thursday at 3")
    assert said.startswith("I don't have tomorrow at 3 PM free.")
    offered = said.split(".", 1)[1]
    assert "3 PM" not in offered and "2:45 PM" not in offered  # 2:45 overlaps 3:00
    assert "3:30 PM" in offered
    await turn(brain, "3:30")
    await turn(brain, "Bob Jones")
    await turn(brain, "yes")
    assert [b.start_at.astimezone(CHICAGO) for b in bookings(business)] == [
        at(THURSDAY, 15), at(THURSDAY, 15), at(THURSDAY, 15, 30)]


async def test_slot_taken_between_offer_and_yes(
    brain: Receptionist, profile: Profile, business: BusinessStore
) -> None:
    said, out = await turn(brain, "Book an oil change Thursday at 3. My name is John Smith.")
    assert "Shall I book it?" in said
    fill(profile, business, at(THURSDAY, 15))  # behind the brain's back
    said, out = await turn(brain, "Yes, please.")
    assert not any(isinstance(o, Booked) for o in out)
    assert said.startswith("I'm sorry, that time was just taken.")
    assert "booked" not in said.lower() and "all set" not in said
    assert "tomorrow at" in said and "3 PM" not in said
    rows = bookings(business)
    assert len(rows) == 2 and {r.customer_name for r in rows} == {"Ann Other", "Bo Other"}
    # Saying yes again must not book the taken slot; it picks nothing or an offered one.
    said, out = await turn(brain, "the first one")
    await turn(brain, "yes")
    starts = [r.start_at for r in bookings(business)]
    assert len(starts) == 3
    assert all(starts.count(s) <= 2 for s in starts)
    assert at(THURSDAY, 15) in {s.astimezone(CHICAGO) for s in starts}


async def test_unclear_transcripts_then_a_message_offer(brain: Receptionist) -> None:
    said, _ = await turn(brain, "")
    assert "didn't catch that" in said
    said, _ = await turn(brain, "book an oil change", confidence=0.1)
    assert "didn't catch that" in said
    said, _ = await turn(brain, "   ")
    assert "didn't catch that" not in said and "message" in said
    assert brain.state.expecting is Ask.MESSAGE


async def test_understood_turn_resets_the_miss_count(brain: Receptionist) -> None:
    await turn(brain, "")
    await turn(brain, "")
    said, _ = await turn(brain, "What time do you close?")
    assert "open" in said
    said, _ = await turn(brain, "")
    assert "didn't catch that" in said


async def test_no_input_reprompts_then_hangs_up(brain: Receptionist) -> None:
    await turn(brain, "I'd like an oil change")
    silence = CallerTurn("", 0, no_input=True)
    said, out = await run(brain, silence)
    assert "Are you still there?" in said and "What day and time" in said
    said, out = await run(brain, silence)
    assert not any(isinstance(o, Hangup) for o in out)
    said, out = await run(brain, silence)
    assert "Goodbye" in said and isinstance(out[-1], Hangup)


async def test_questions_are_answered(brain: Receptionist) -> None:
    said, _ = await turn(brain, "What time do you close?")
    assert "5 PM" in said and "anything else" in said
    said, _ = await turn(brain, "Where are you located?")
    assert "1200 Main Street" in said
    said, _ = await turn(brain, "How much is an oil change?")
    assert said.startswith("An oil change is 49 dollars and 95 cents.")


async def test_questions_in_the_middle_of_a_booking(
    brain: Receptionist, business: BusinessStore
) -> None:
    await turn(brain, "I'd like a tire rotation")
    said, _ = await turn(brain, "How much is it?")
    assert said == "A tire rotation is 39 dollars. What day and time works for you?"
    await turn(brain, "Friday at 10")
    await turn(brain, "Al Green")
    said, _ = await turn(brain, "Where are you located?")
    assert "1200 Main Street" in said
    assert "Shall I book a tire rotation on Friday, November 27th at 10 AM?" in said
    # The day in an hours question must not move the booking to Saturday.
    said, _ = await turn(brain, "What time do you close on Saturday?")
    assert "1 PM" in said and "Friday, November 27th at 10 AM" in said
    said, out = await turn(brain, "Yes")
    [row] = bookings(business)
    assert row.start_at.astimezone(CHICAGO) == at(date(2026, 11, 27), 10)
    assert any(isinstance(o, Booked) for o in out)


async def test_take_a_message(brain: Receptionist, business: BusinessStore) -> None:
    said, _ = await turn(brain, "Can I leave a message?")
    assert "message" in said
    text = "This is Tom Baker, please call me back about my truck."
    said, out = await turn(brain, text)
    kinds = [type(o) for o in out]
    assert kinds.index(MessageSaved) < kinds.index(Text)
    [row] = business.list_messages()
    assert row.text == text and row.caller_phone == CALLER and row.caller_name == "Tom Baker"
    assert row.call_id == brain.call_id
    saved = next(o for o in out if isinstance(o, MessageSaved))
    assert saved.message_id == row.id
    assert "Thank you" in said


async def test_a_bare_name_then_the_message(brain: Receptionist, business: BusinessStore) -> None:
    await turn(brain, "Can I leave a message?")
    said, out = await turn(brain, "It's Tom Baker.")
    assert not business.list_messages() and "Tom" in said
    await turn(brain, "The truck is making a noise again.")
    [row] = business.list_messages()
    assert (row.caller_name, row.text) == ("Tom Baker", "The truck is making a noise again.")


@pytest.mark.parametrize("turn_", [CallerTurn("Let me talk to a person", 0.9),
                                   CallerTurn("", 0.0, dtmf="0")])
async def test_transfer_to_a_person(brain: Receptionist, turn_: CallerTurn) -> None:
    said, out = await run(brain, turn_)
    assert out[-1] == Transfer("+15125550199")


async def test_other_keys_do_not_transfer(brain: Receptionist) -> None:
    said, out = await run(brain, CallerTurn("", 0.0, dtmf="5"))
    assert not any(isinstance(o, Transfer) for o in out)


async def test_no_at_the_confirmation(brain: Receptionist, business: BusinessStore) -> None:
    await turn(brain, "Book an oil change Thursday at 3 PM")
    await turn(brain, "Jane Doe")
    said, out = await turn(brain, "No")
    assert "what day and time" in said.lower() and not bookings(business)
    said, out = await turn(brain, "Friday at 11")
    assert "To confirm: an oil change on Friday, November 27th at 11 AM" in said
    assert not bookings(business)


async def test_no_thanks_at_the_confirmation_does_not_hang_up(
    brain: Receptionist, business: BusinessStore
) -> None:
    await turn(brain, "Book an oil change Thursday at 3 PM. My name is Jane Doe.")
    said, out = await turn(brain, "No thanks")
    assert not any(isinstance(o, Hangup) for o in out)
    assert "what day and time" in said.lower() and not bookings(business)


async def test_changing_the_service_keeps_the_time(
    brain: Receptionist, business: BusinessStore
) -> None:
    await turn(brain, "Book an oil change Thursday at 3 PM. My name is Jane Doe.")
    said, _ = await turn(brain, "Actually make it a brake inspection")
    assert "brake inspection tomorrow at 3 PM" in said


async def test_a_reply_cancelled_during_the_commit_keeps_the_booking(
    brain: Receptionist, business: BusinessStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Barge-in cancels the reply while the booking commits: the state must still know."""
    await turn(brain, "Book an oil change Thursday at 3 PM. My name is John Smith.")
    release = threading.Event()
    writing = asyncio.Event()
    loop = asyncio.get_running_loop()
    real_book = brain.calendar.book

    def slow_book(*args: Any, **kwargs: Any) -> BookingRecord:
        loop.call_soon_threadsafe(writing.set)
        release.wait(5)
        return real_book(*args, **kwargs)

    monkeypatch.setattr(brain.calendar, "book", slow_book)
    task = asyncio.create_task(turn(brain, "Yes"))
    await writing.wait()  # the write is in flight: now the caller barges in
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    # the next turn waits for the write the cancelled reply left running
    said, out = await turn(brain, "Yes")
    [row] = bookings(business)
    assert brain.state.booking_id == row.id and brain.state.chosen is None
    # the caller never heard the confirmation: the next reply says it, from the stored
    # row, and the second yes books nothing more
    assert [o.booking_id for o in out if isinstance(o, Booked)] == [row.id]
    assert said.startswith("Just so you know, your oil change is booked for tomorrow at 3 PM.")
    assert len(bookings(business)) == 1
    said, out = await turn(brain, "What time do you close?")
    assert "Just so you know" not in said and not any(isinstance(o, Booked) for o in out)


async def test_a_confirmation_cut_by_barge_in_is_said_again(brain: Receptionist) -> None:
    await turn(brain, "Book an oil change Thursday at 3 PM. My name is John Smith.")
    outputs = [item async for item in brain.respond(CallerTurn("Yes, please.", 0.9))]
    assert any(isinstance(o, Booked) for o in outputs)
    # cut after "booked for" but before the day and time: not heard
    brain.heard("You're all set, John. Your oil change is booked for", True)
    said, out = await turn(brain, "Sorry, what was that?")
    assert said.startswith("Just so you know, your oil change is booked for tomorrow at 3 PM.")
    assert not any(isinstance(o, Booked) for o in out)  # already reported to the Call


async def test_a_service_that_would_run_past_closing(brain: Receptionist) -> None:
    said, _ = await turn(brain, "Book a brake inspection Thursday at 4:30")
    assert said.startswith("A brake inspection at 4:30 PM would run past closing.")
    assert "4 PM" in said and "4:30 PM" not in said.split(".", 1)[1]
