"""A booking call that drops at any turn is finished on the callback, once, without asking
again for anything the caller already said (text level; a real SQLite store; the session
and the drop handling are the runtime's own: ``call.continuity.join`` / ``leave``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from frontdesk.actions.booking import BookingDesk
from frontdesk.brain.base import CallerTurn, Text
from frontdesk.brain.receptionist import Receptionist
from frontdesk.call.continuity import join, leave
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import (
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    SESSION_DROPPED,
    SESSION_FINISHED,
    SESSION_OPEN,
    BusinessStore,
    Store,
    open_store,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)
CALLER = "+15125551234"
SCRIPT = ["I'd like to book an oil change.", "December 1 at 10 AM.", "Ann Lee.", "Yes."]
# What each answer tells the agent, and the question that would ask for it again.
ASKED_FOR = {1: "Which service", 2: "What day and time", 3: "your name"}


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


@pytest.fixture
def desk(profile: Profile, business: BusinessStore) -> BookingDesk:
    return BookingDesk(profile, business, clock=lambda: NOW)


class Leg:
    """One call from the caller: a session joined, a receptionist, the agent's words."""

    def __init__(self, profile: Profile, business: BusinessStore, desk: BookingDesk,
                 caller: str = CALLER, now: datetime = NOW) -> None:
        self.profile, self.business, self.desk, self.caller = profile, business, desk, caller
        self.now = now
        self.said: list[str] = []

    async def start(self) -> str:
        call = self.business.create_call(self.caller, "+15125550100", started_at=self.now)
        self.call_id = call.id
        joined = await join(self.business, call_id=call.id, caller=self.caller, now=self.now,
                            window=timedelta(hours=24))
        self.session, self.resumed = joined.session, joined.resumed
        self.brain = Receptionist(self.profile, self.business, call_id=call.id,
                                  caller_number=self.caller, now=lambda: self.now,
                                  desk=self.desk, session=self.session, resumed=self.resumed)
        return await self._collect(self.brain.greet())

    async def say(self, text: str) -> str:
        return await self._collect(self.brain.respond(CallerTurn(text, 0.9)))

    async def _collect(self, outputs: object) -> str:
        spoken = "".join([o.text async for o in outputs  # type: ignore[attr-defined]
                          if isinstance(o, Text)])
        self.brain.heard(spoken, False)
        self.said.append(spoken)
        return spoken

    async def hang_up(self) -> None:
        await self.brain.settle()
        await leave(self.business, self.profile, self.desk, self.session, self.brain,
                    call_id=self.call_id, now=self.now)


def confirmed(business: BusinessStore) -> list[datetime]:
    return [b.start_at.astimezone(CHICAGO) for b in
            business.list_bookings(NOW, NOW + timedelta(days=7)) if b.status == BOOKING_CONFIRMED]


def answer(question: str) -> str:
    """The caller on the callback: answers whatever is asked, from the same facts."""
    if "Which service" in question:
        return SCRIPT[0]
    if "day and time" in question:
        return SCRIPT[1]
    if "name" in question:
        return SCRIPT[2]
    return "Yes."


@pytest.mark.parametrize("drop_after", [1, 2, 3])
async def test_a_drop_at_any_turn_resumes_and_books_once(
    profile: Profile, business: BusinessStore, desk: BookingDesk, drop_after: int
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:drop_after]:
        await first.say(text)
    await first.hang_up()  # the line drops mid-booking
    session = business.get_session(first.session.id)
    assert session is not None and session.status == SESSION_DROPPED
    assert session.task == "booking" and session.snapshot_seq >= drop_after
    assert confirmed(business) == []

    again = Leg(profile, business, desk, now=NOW + timedelta(minutes=2))
    greeting = await again.start()
    assert again.resumed and again.session.id == first.session.id
    assert greeting.startswith("Welcome back to Main Street Auto.")
    if drop_after >= 2:  # the slot was settled: named in the welcome
        assert "oil change tomorrow at 10 AM" in greeting
    reply = await again.say("Yes, please.")
    for _ in range(4):
        if "booked for" in reply:
            break
        reply = await again.say(answer(reply))
    assert "booked for tomorrow at 10 AM" in reply
    assert confirmed(business) == [datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)]
    # nothing the caller had answered before the drop was asked again
    asked_again = [q for turn, q in ASKED_FOR.items() if turn <= drop_after
                   for said in again.said if q in said]
    assert asked_again == []
    await again.hang_up()
    closed = business.get_session(first.session.id)
    assert closed is not None and closed.status == SESSION_FINISHED and closed.legs == 2


async def test_a_dropped_callers_slot_is_held_then_booked_from_the_hold(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:3]:
        await first.say(text)
    await first.hang_up()
    [held] = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert held.status == BOOKING_HELD  # another caller cannot take it meanwhile
    again = Leg(profile, business, desk, now=NOW + timedelta(minutes=2))
    await again.start()
    await again.say("Yes.")
    [booked] = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert booked.id == held.id and booked.status == BOOKING_CONFIRMED


async def test_no_resume_for_another_number_after_expiry_or_after_completion(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    await first.say(SCRIPT[0])
    await first.hang_up()
    stranger = Leg(profile, business, desk, caller="+15125559999",
                   now=NOW + timedelta(minutes=1))
    assert not (await stranger.start()).startswith("Welcome back")
    late = Leg(profile, business, desk, now=NOW + timedelta(hours=25))
    assert not (await late.start()).startswith("Welcome back") and not late.resumed
    # a call that completes its booking leaves nothing to resume
    done = Leg(profile, business, desk, caller="+15125550001")
    await done.start()
    for text in SCRIPT:
        await done.say(text)
    await done.hang_up()
    after = Leg(profile, business, desk, caller="+15125550001",
                now=NOW + timedelta(minutes=1))
    assert not (await after.start()).startswith("Welcome back")


async def test_declining_starts_afresh_and_releases_the_hold(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:3]:
        await first.say(text)
    await first.hang_up()
    again = Leg(profile, business, desk, now=NOW + timedelta(minutes=2))
    await again.start()
    assert await again.say("No.") == "No problem. How can I help you today?"
    assert [b.status for b in business.list_bookings(
        NOW, NOW + timedelta(days=7), include_cancelled=True)] == ["cancelled"]


async def test_a_corrupt_snapshot_gives_a_fresh_conversation_and_an_error_log(
    profile: Profile, business: BusinessStore, desk: BookingDesk, caplog: pytest.LogCaptureFixture
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    await first.say(SCRIPT[0])
    await first.hang_up()
    business.save_snapshot(first.session.id, snapshot={"version": 1, "task": "gibberish"},
                           task="booking", now=NOW)
    again = Leg(profile, business, desk, now=NOW + timedelta(minutes=1))
    with caplog.at_level(logging.ERROR):
        greeting = await again.start()
    assert greeting == profile.business.greeting
    assert any("snapshot unusable" in r.message for r in caplog.records)
    reply = await again.say("I'd like to book an oil change.")
    assert "What day and time" in reply


async def test_the_sweep_lets_a_hold_go_when_it_runs_out_and_expires_the_session(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    from frontdesk.call.continuity import sweep
    from frontdesk.store import SESSION_EXPIRED

    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:3]:
        await first.say(text)
    await first.hang_up()
    assert await sweep(business, profile, desk, now=NOW + timedelta(minutes=5)) == 0
    assert business.list_bookings(NOW, NOW + timedelta(days=7))[0].status == BOOKING_HELD
    assert await sweep(business, profile, desk, now=NOW + timedelta(minutes=11)) == 1
    assert business.list_bookings(NOW, NOW + timedelta(days=7)) == []  # free for others
    assert await sweep(business, profile, desk, now=NOW + timedelta(minutes=12)) == 0
    session = business.get_session(first.session.id)
    assert session is not None and session.status == SESSION_DROPPED  # still resumable
    await sweep(business, profile, desk, now=NOW + timedelta(hours=25))
    session = business.get_session(first.session.id)
    assert session is not None and session.status == SESSION_EXPIRED


async def test_a_withheld_number_never_resumes_anyones_session(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk, caller="+266696687")  # Twilio's ANONYMOUS
    await first.start()
    await first.say(SCRIPT[0])
    await first.hang_up()
    other = Leg(profile, business, desk, caller="+266696687", now=NOW + timedelta(minutes=1))
    assert not (await other.start()).startswith("Welcome back") and not other.resumed


async def test_a_transfer_mid_booking_is_a_hand_off_not_a_drop(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:3]:
        await first.say(text)
    assert "transfer" in await first.say("Can I talk to a person?")
    await first.hang_up()
    session = business.get_session(first.session.id)
    assert session is not None and session.status == SESSION_FINISHED
    assert business.list_bookings(NOW, NOW + timedelta(days=7)) == []  # nothing held


async def test_silence_or_a_second_drop_at_the_welcome_keeps_the_place(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:2]:
        await first.say(text)
    await first.hang_up()
    second = Leg(profile, business, desk, now=NOW + timedelta(minutes=1))
    welcome = await second.start()
    await second.hang_up()  # dropped again before answering
    third = Leg(profile, business, desk, now=NOW + timedelta(minutes=2))
    assert await third.start() == welcome  # the same offer, from the same step
    again = await third._collect(third.brain.respond(CallerTurn("", 0.0, no_input=True)))
    assert again.startswith("Sorry, I didn't catch that.") and "Shall I go ahead?" in again
    reply = await third.say("Yes.")
    assert "Can I get your name" in reply  # the step it dropped at, nothing asked twice


async def test_a_session_whose_process_died_is_swept_to_dropped_and_resumes(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    from frontdesk.call.continuity import sweep

    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:2]:
        await first.say(text)
    await first.brain.settle()  # ... and then the process is killed: no leave()
    await sweep(business, profile, desk, now=NOW + timedelta(hours=1))
    assert business.get_session(first.session.id).status == "open"  # type: ignore[union-attr]
    await sweep(business, profile, desk, now=NOW + timedelta(hours=3))
    assert business.get_session(first.session.id).status == SESSION_DROPPED  # type: ignore[union-attr]
    again = Leg(profile, business, desk, now=NOW + timedelta(hours=3, minutes=1))
    assert (await again.start()).startswith("Welcome back")


async def test_ringing_back_before_the_broken_leg_is_noticed_takes_the_session_over(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    for text in SCRIPT[:2]:
        await first.say(text)
    await first.brain.settle()  # its last snapshot is stored (40 s pass before the ring)
    # the first line broke, but no carrier has said so yet: its session is still open
    again = Leg(profile, business, desk, now=NOW + timedelta(seconds=40))
    greeting = await again.start()
    assert again.resumed and again.session.id == first.session.id
    assert "oil change tomorrow at 10 AM" in greeting
    await first.hang_up()  # the old leg's end arrives late: it must not drop the new leg
    session = business.get_session(first.session.id)
    assert session is not None and (session.status, session.legs) == (SESSION_OPEN, 2)
    assert session.last_call_id == again.call_id
    reply = await again.say("Yes, please.")
    assert "Can I get your name" in reply  # what the first leg had, nothing asked twice
    assert "Shall I book it?" in await again.say(SCRIPT[2])
    assert "booked for tomorrow at 10 AM" in await again.say("Yes.")
    await again.hang_up()
    assert confirmed(business) == [datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)]
    closed = business.get_session(first.session.id)
    assert closed is not None and closed.status == SESSION_FINISHED


async def test_a_second_line_from_the_same_number_with_nothing_open_is_its_own_session(
    profile: Profile, business: BusinessStore, desk: BookingDesk
) -> None:
    first = Leg(profile, business, desk)
    await first.start()
    await first.say("What are your hours?")  # no task under way: nothing to take over
    other = Leg(profile, business, desk, now=NOW + timedelta(seconds=10))
    assert not (await other.start()).startswith("Welcome back")
    assert not other.resumed and other.session.id != first.session.id
    # a stale open session (its process died long ago) is the sweep's, not a new leg's
    stale = Leg(profile, business, desk, caller="+15125550002")
    await stale.start()
    await stale.say(SCRIPT[0])
    late = Leg(profile, business, desk, caller="+15125550002", now=NOW + timedelta(hours=30))
    assert not (await late.start()).startswith("Welcome back") and not late.resumed
