"""The LLM brain beyond a first booking: cancelling and moving the caller's own bookings,
what the caller heard noted in the ledger, a stream that stalls, recording consent, and a
call that drops while the model arranges a booking (resumed by the receptionist).

A scripted model on a real SQLite store; the clock is fixed (see llm_rig)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import yaml
from llm_rig import CALLER, CHICAGO, NOW, OTHER, M, Rig, rig, tool_results
from scripted_provider import Step, call, calls, say

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.ledger import TOLD_CONFIRMED
from frontdesk.brain.base import BrainOutput, CallerTurn, StopRecording, Text
from frontdesk.brain.llm.guard import NO_OFFER, NOT_CANCELLED, NOT_CHANGED
from frontdesk.brain.llm.stream import ProviderError, Started, TextDelta
from frontdesk.call.continuity import Joined, join, leave
from frontdesk.profile import Profile, example_profile_text
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    C_COMMITTED,
    SESSION_DROPPED,
    SESSION_FINISHED,
    BookingRecord,
    BusinessStore,
)

FRIDAY_9 = datetime(2026, 11, 27, 9, 0, tzinfo=CHICAGO)
FRIDAY_11 = datetime(2026, 11, 27, 11, 0, tzinfo=CHICAGO)


async def booked(profile: Profile, business: BusinessStore, start: datetime, *,
                 phone: str = CALLER, name: str = "Dana Reyes") -> BookingRecord:
    """A booking made on an earlier call, through the ledger like any other."""
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    slot = desk.calendar.check("oil-change", start, NOW)
    outcome = await desk.book(session_id=f"earlier {phone} {start}", call_id=None, slot=slot,
                              name=name, phone=phone)
    assert outcome.done and outcome.booking is not None
    return outcome.booking


def status(business: BusinessStore, booking: BookingRecord) -> str:
    row = business.get_booking(booking.id)
    assert row is not None
    return row.status


# -- cancel and reschedule ---------------------------------------------------------------

async def test_cancel_touches_only_the_callers_own_booking_and_is_said_once_committed(
        profile: Profile, business: BusinessStore) -> None:
    mine = await booked(profile, business, FRIDAY_9)
    theirs = await booked(profile, business, FRIDAY_11, phone=OTHER[1], name=OTHER[0])
    r = rig(profile, business, [
        calls(M, call("my_appointments")),
        calls(M, call("cancel", booking_id=theirs.id), call("cancel", booking_id=mine.id)),
        say(M, "Done. Your oil change on Friday at 9 AM is cancelled. ", "Anything else?"),
    ])
    spoken, _ = await r.turn("Please cancel my appointment")
    listed = tool_results(r.provider, 1)[0]["appointments"]
    assert isinstance(listed, list) and [a["booking_id"] for a in listed] == [mine.id]
    refused, done = tool_results(r.provider, 2)
    assert "error" in refused and done["status"] == "cancelled"
    assert status(business, mine) == BOOKING_CANCELLED
    assert status(business, theirs) == BOOKING_CONFIRMED
    assert "is cancelled" in spoken and r.brain.stats[-1].violations == []
    await r.brain.settle()
    [cancel] = business.list_commitments(call_id=r.call_id, kinds=["cancel"])
    # the caller heard it whole: the outbox owes them no text about it
    assert cancel.state == C_COMMITTED and cancel.told == TOLD_CONFIRMED and cancel.told_heard
    seen = "".join(m.text + "".join(t.content for t in m.tool_results)
                   for m in r.brain.messages)
    assert OTHER[0] not in seen and OTHER[1] not in seen


async def test_claims_of_a_cancel_or_a_move_without_the_tool_are_replaced(
        profile: Profile, business: BusinessStore) -> None:
    mine = await booked(profile, business, FRIDAY_9)
    r = rig(profile, business, [say(M, "I've cancelled your appointment."),
                                say(M, "I've moved your oil change to Friday at 1 PM.")])
    spoken, _ = await r.turn("Cancel my appointment")
    assert spoken == NOT_CANCELLED + " "
    spoken, _ = await r.turn("Actually move it to 1 PM")
    assert NOT_CHANGED in spoken and "1 PM" not in spoken
    assert [v.kind for s in r.brain.stats for v in s.violations] == ["cancel", "reschedule"]
    assert status(business, mine) == BOOKING_CONFIRMED


async def test_reschedule_books_the_new_time_then_cancels_the_old_one(
        profile: Profile, business: BusinessStore) -> None:
    old = await booked(profile, business, FRIDAY_9)
    r = rig(profile, business, [
        calls(M, call("reschedule", booking_id=old.id, start="2026-11-27T13:00")),
        say(M, "All done: I've moved your oil change to Friday at 1 PM."),
    ])
    spoken, _ = await r.turn("Can you move my oil change to Friday at 1?")
    result = tool_results(r.provider, 1)[0]
    assert result["status"] == "committed" and result["old_booking"] == "cancelled"
    [new] = r.bookings()
    assert new.start_at == FRIDAY_9 + timedelta(hours=4) and new.status == BOOKING_CONFIRMED
    assert new.customer_name == old.customer_name and new.service_id == old.service_id
    assert status(business, old) == BOOKING_CANCELLED
    [book] = business.list_commitments(call_id=r.call_id, kinds=["book"])
    assert book.payload["replaces"] == old.id
    assert "Friday at 1 PM" in spoken and r.brain.stats[-1].violations == []


async def test_a_move_to_a_time_that_is_not_free_leaves_the_old_booking_and_changes_are_limited(
        profile: Profile, business: BusinessStore) -> None:
    mine = [await booked(profile, business, FRIDAY_9 + timedelta(hours=h)) for h in (0, 1, 2)]
    r = rig(profile, business, [
        calls(M, call("reschedule", booking_id=mine[0].id, start="2026-11-29T10:00"),  # Sunday
              *(call("cancel", booking_id=b.id) for b in (mine[1], mine[2], mine[0]))),
        say(M, "Okay."),
    ])
    await r.turn("Move the first to Sunday and cancel all three")
    moved, *cancels = tool_results(r.provider, 1)
    assert moved["status"] == "refused"
    # the refused move counted as a change: one cancel more, then the limit
    assert [c.get("status", "limit") for c in cancels] == ["cancelled", "limit", "limit"]
    assert "limit" in str(cancels[-1]["error"])
    assert [status(business, b) for b in mine] == [BOOKING_CONFIRMED, BOOKING_CANCELLED,
                                                   BOOKING_CONFIRMED]
    assert r.bookings() == []


async def test_a_withheld_number_owns_no_bookings(profile: Profile,
                                                  business: BusinessStore) -> None:
    """Twilio's stand-in for a withheld number is shared by every withheld caller."""
    withheld = "+266696687"
    theirs = await booked(profile, business, FRIDAY_9, phone=withheld)
    r = rig(profile, business, [calls(M, call("my_appointments"),
                                      call("cancel", booking_id=theirs.id)),
                                say(M, "I can take a message.")], caller=withheld)
    await r.turn("Cancel my appointment")
    listed, cancelled = tool_results(r.provider, 1)
    assert listed["appointments"] == [] and "error" in cancelled
    assert status(business, theirs) == BOOKING_CONFIRMED


async def test_a_time_cancelled_in_this_call_cannot_be_booked_by_its_spent_key(
        profile: Profile, business: BusinessStore) -> None:
    r = rig(profile, business, [
        calls(M, call("book", service="oil-change", start="2026-11-27T09:00", name="Dana")),
        say(M, "Done."),
        calls(M, call("my_appointments")), calls(M, call("cancel", booking_id="?")),
        say(M, "Cancelled."),
        calls(M, call("book", service="oil-change", start="2026-11-27T09:00", name="Dana")),
        say(M, "Sorry, I can't book that time again."),
    ])
    await r.turn("Oil change Friday at 9, I'm Dana")
    [first] = r.bookings()
    r.provider.scripts[1] = calls(M, call("cancel", booking_id=first.id))
    await r.turn("Actually, cancel it")
    assert status(business, first) == BOOKING_CANCELLED
    spoken, _ = await r.turn("No wait, book it again")
    [again] = tool_results(r.provider, 6)
    assert "cancelled earlier in this call" in str(again["error"])
    assert "still finalizing" not in spoken and r.bookings() == []
    [book] = business.list_commitments(call_id=r.call_id, kinds=["book"])
    assert book.told == TOLD_CONFIRMED  # never re-told as a promised text


async def test_moving_a_booking_to_its_own_time_changes_nothing(
        profile: Profile, business: BusinessStore) -> None:
    r = rig(profile, business, [
        calls(M, call("book", service="oil-change", start="2026-11-27T09:00", name="Dana")),
        say(M, "Done."),
        calls(M, call("reschedule", booking_id="?", start="2026-11-27T09:00")),
        say(M, "It's already then."),
    ])
    await r.turn("Oil change Friday at 9, I'm Dana")
    [booking] = r.bookings()
    r.provider.scripts[0] = calls(M, call("reschedule", booking_id=booking.id,
                                          start="2026-11-27T09:00"))
    await r.turn("Move it to Friday at 9")
    [moved] = tool_results(r.provider, 3)
    assert "already at that time" in str(moved["error"])
    assert status(business, booking) == BOOKING_CONFIRMED


# -- what the caller heard ----------------------------------------------------------------

async def test_a_confirmation_counts_as_heard_only_when_played_whole(
        profile: Profile, business: BusinessStore) -> None:
    r = rig(profile, business, [
        calls(M, call("book", service="oil-change", start="2026-11-26T14:00", name="Dana")),
        say(M, "Your oil change is booked for tomorrow at 2 PM. ", "Anything else?"),
        say(M, "Sure: your oil change is booked for tomorrow at 2 PM."),
    ])
    outputs = [o async for o in r.brain.respond(CallerTurn("Oil change tomorrow at 2", 0.9))]
    assert any(isinstance(o, Text) and "2 PM" in o.text for o in outputs)
    r.brain.heard("Your oil change is booked for tomor", True)  # barge-in cut the time
    await r.brain.settle()
    [book] = business.list_commitments(call_id=r.call_id, kinds=["book"])
    assert book.told == TOLD_CONFIRMED and not book.told_heard  # the outbox will text
    await r.turn("Sorry, when was that?")
    await r.brain.settle()
    [book] = business.list_commitments(call_id=r.call_id, kinds=["book"])
    assert book.told_heard


async def test_a_time_said_in_the_sentence_after_the_claim_is_checked_with_it(
        profile: Profile, business: BusinessStore) -> None:
    r = rig(profile, business, [
        calls(M, call("book", service="oil-change", start="2026-11-26T14:00", name="Dana")),
        say(M, "Your oil change is booked. ", "That's tomorrow at ", "3 PM. ", "Anything else?"),
    ])
    spoken, _ = await r.turn("Oil change tomorrow at 2, I'm Dana")
    assert "3 PM" not in spoken and "booked for tomorrow at 2 PM" in spoken
    assert spoken.endswith("Anything else? ")
    assert [v.kind for v in r.brain.stats[-1].violations] == ["time"]


async def test_a_time_offered_as_free_must_come_from_an_availability_lookup(
        profile: Profile, business: BusinessStore) -> None:
    r = rig(profile, business, [
        say(M, "I have 3 PM tomorrow. ", "Does that work?"),  # nothing looked up yet
        calls(M, call("check_availability", service="oil-change", day="2026-11-26")),
        say(M, "I have 8 AM or 3 PM tomorrow."),
    ])
    spoken, _ = await r.turn("Any time tomorrow for an oil change?")
    assert spoken == f"{NO_OFFER} Does that work? "
    spoken, _ = await r.turn("Please check")
    assert spoken == "I have tomorrow at 8 AM, 8:15 AM, or 8:30 AM free. "
    assert [v.kind for s in r.brain.stats for v in s.violations] == ["offer", "offer"]


# -- the budget after the first token -------------------------------------------------------

async def test_a_stream_that_stalls_mid_answer_is_closed_and_the_receptionist_answers(
        profile: Profile, business: BusinessStore) -> None:
    never = asyncio.Event()
    r = rig(profile, business, [[Started(M), TextDelta("Sure. "), TextDelta("Let me check"),
                                 never]], hard_deadline_s=0.01)
    spoken, _ = await r.turn("Where are you located?")
    # the finished sentence was said; the broken one never is, and the caller gets an answer
    assert spoken.startswith("Sure. We're at 1200 Main Street") and "check" not in spoken
    stats = r.brain.stats[-1]
    assert stats.fallback == "brain" and "stalled" in stats.errors[0]
    assert r.provider.closed == 1


async def test_a_failure_after_words_and_a_booking_says_what_the_ledger_says(
        profile: Profile, business: BusinessStore) -> None:
    r = rig(profile, business, [
        [Started(M), TextDelta("Sure, let me book that. "),
         *calls(M, call("book", service="oil-change", start="2026-11-26T09:00",
                        name="Dana"))[1:]],
        [ProviderError("HTTP 500", status=500, retryable=True)],
    ])
    spoken, _ = await r.turn("Oil change tomorrow at 9, I'm Dana")
    assert spoken == "Sure, let me book that. Your oil change is booked for tomorrow at 9 AM. "
    assert r.brain.stats[-1].fallback == "tools"


# -- recording consent ------------------------------------------------------------------------

def recorded_profile() -> Profile:
    data = yaml.safe_load(example_profile_text())
    data["recording"] = {"enabled": True}
    return Profile.model_validate(data)


async def test_the_disclosure_opens_model_replies_until_heard_and_an_opt_out_stops_first(
        business: BusinessStore) -> None:
    profile = recorded_profile()
    r = rig(profile, business, [say(M, "We're at 1200 Main Street."), say(M, "Sure.")])
    greeting = [o.text async for o in r.brain.greet() if isinstance(o, Text)]
    assert greeting[0].startswith(profile.recording.disclosure)
    r.brain.heard("This call is rec", True)  # cut: it is said again before the answer
    spoken, _ = await r.turn("Where are you?")
    assert spoken == f"{profile.recording.disclosure} We're at 1200 Main Street. "
    spoken, _ = await r.turn("Thanks")
    assert spoken == "Sure. "  # heard whole last time
    _, outputs = await r.turn("Please don't record this call")
    assert outputs[0] == StopRecording() and len(r.provider.requests) == 2
    assert r.brain.stats[-1].fallback == "brain"


async def test_the_disclosure_is_said_once_when_the_receptionist_answers_the_turn(
        business: BusinessStore) -> None:
    profile = recorded_profile()
    r = rig(profile, business, [[ProviderError("HTTP 500", status=500, retryable=True)]])
    await anext(aiter(r.brain.greet()))
    spoken, _ = await r.turn("Where are you?")  # the greeting was never heard
    assert spoken.count(profile.recording.disclosure) == 1 and "1200 Main Street" in spoken


# -- a call that drops while the model arranges a booking ----------------------------------

async def leg(profile: Profile, business: BusinessStore,
              scripts: list[list[Step]]) -> tuple[Rig, Joined]:
    """A call from the caller that joins their session, as the runtime does."""
    record = business.create_call(CALLER, "+15125550100", started_at=NOW)
    joined = await join(business, call_id=record.id, caller=CALLER, now=NOW,
                        window=timedelta(hours=24))
    return rig(profile, business, scripts, session=joined.session, resumed=joined.resumed,
               call_id=record.id), joined


async def hang_up(profile: Profile, business: BusinessStore, r: Rig, joined: Joined) -> str:
    """The line goes dead: the session's state after the call left it."""
    await r.brain.settle()
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    left = await leave(business, profile, desk, joined.session, r.brain, call_id=r.call_id,
                       now=NOW)
    return left.status


async def test_a_drop_while_the_model_offers_times_is_resumed_by_the_receptionist(
        profile: Profile, business: BusinessStore) -> None:
    first, joined = await leg(profile, business, [
        calls(M, call("check_availability", service="oil-change", day="2026-11-26")),
        say(M, "Tomorrow I have 8 AM, 8:15 or 8:30. Which suits you?"),
    ])
    offered, _ = await first.turn("I need an oil change tomorrow")
    assert offered.startswith("Tomorrow I have 8 AM") and first.brain.violations == 0
    assert await hang_up(profile, business, first, joined) == SESSION_DROPPED
    assert business.get_session(joined.session.id).task == "booking"  # type: ignore[union-attr]

    again, rejoined = await leg(profile, business, [say(M, "You're welcome, Dana!")])
    assert rejoined.resumed and rejoined.session.id == joined.session.id
    welcome = await again.greet()
    assert welcome.startswith("Welcome back") and "your oil change: I had tomorrow at 8 AM" \
        in welcome  # the times the model's tool found
    said: list[tuple[str, list[BrainOutput]]] = []
    for answer in ["Yes", "8 AM please", "Dana Reyes", "Yes"]:
        said.append(await again.turn(answer))
    [row] = [b for b in again.bookings() if b.status == BOOKING_CONFIRMED]
    assert row.start_at == datetime(2026, 11, 26, 8, 0, tzinfo=CHICAGO)
    assert row.customer_name == "Dana Reyes"
    assert "booked" in said[-1][0] and again.provider.requests == []  # the receptionist's
    assert not any("Which service" in spoken for spoken, _ in said)  # known: not re-asked
    spoken, _ = await again.turn("Thanks!")  # the task is done: the model talks again
    assert spoken == "You're welcome, Dana! " and len(again.provider.requests) == 1
    assert await hang_up(profile, business, again, rejoined) == SESSION_FINISHED


async def test_see_you_then_while_the_booking_goes_on_is_no_goodbye(
        profile: Profile, business: BusinessStore) -> None:
    r, joined = await leg(profile, business, [
        calls(M, call("check_availability", service="oil-change", day="2026-11-26")),
        say(M, "I have 8 AM tomorrow. Can I get your name?")])
    await r.turn("Great, see you then. What's free tomorrow for an oil change?")
    assert await hang_up(profile, business, r, joined) == SESSION_DROPPED


async def test_a_goodbye_mid_booking_is_no_drop(profile: Profile,
                                                business: BusinessStore) -> None:
    r, joined = await leg(profile, business, [
        calls(M, call("check_availability", service="oil-change", day="2026-11-26")),
        say(M, "I have 8 AM tomorrow."), say(M, "Goodbye!")])
    await r.turn("Oil change tomorrow?")
    await r.turn("Never mind, bye")
    assert await hang_up(profile, business, r, joined) == SESSION_FINISHED
