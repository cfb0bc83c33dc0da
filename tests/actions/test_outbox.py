"""The outbox: finishes bookings a call left unknown, then texts each caller the truth.

A real SQLite store, a scripted backend (see ledger_helpers) and a virtual business clock
that the test advances between passes.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ledger_helpers import Backend, Clock, Texts, make_desk, slot_at

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.ledger import TOLD_CONFIRMED, TOLD_TEXT_PROMISED
from frontdesk.actions.outbox import Outbox
from frontdesk.profile import Profile
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    C_COMMITTED,
    C_FAILED,
    C_PENDING,
    C_UNKNOWN,
    BusinessStore,
    Store,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)
START = datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)
CALLER = "+15125551234"


@pytest.fixture
def business(store: Store, profile: Profile) -> BusinessStore:
    return store.for_business(profile.business.id)


async def book_in_call(desk: BookingDesk, business: BusinessStore, clock: Clock,
                       *, end_call: bool = True) -> str:
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    outcome = await desk.book(session_id=call.id, call_id=call.id,
                              slot=slot_at(desk, START, clock()), name="Ann Lee", phone=CALLER)
    if end_call:
        business.end_call(call.id, status="completed", outcome="none", ended_at=clock())
    return outcome.commitment.id


def outbox(desk: BookingDesk, texts: Texts | None, clock: Clock, owner: str = "w1") -> Outbox:
    return Outbox(desk, sms=texts, owner=owner, clock=clock)


async def test_unknown_booking_is_finished_and_texted_once(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(down=True), Texts()
    desk = make_desk(profile, business, backend, clock)
    cid = await book_in_call(desk, business, clock)
    commitment = business.get_commitment(cid)
    assert commitment is not None and commitment.state == C_UNKNOWN
    desk.ledger.told(cid, TOLD_TEXT_PROMISED, heard=True)

    worker = outbox(desk, texts, clock)
    assert (await worker.run_once()).bookings == {}  # not due yet: its retry time is ahead
    backend.down = False
    clock.advance(minutes=10)
    report = await worker.run_once()
    assert report.bookings == {C_COMMITTED: 1} and report.texts_sent == 1
    assert backend.creates == 1
    [(to, text)] = texts.sent
    assert to == CALLER and "confirmed for Tuesday, December 1 at 10 AM" in text
    [row] = business.list_bookings(NOW, NOW + timedelta(days=3))
    assert row.status == BOOKING_CONFIRMED and row.external_id == "ext-1"
    clock.advance(minutes=10)
    assert (await worker.run_once()).idle and len(texts.sent) == 1


async def test_a_write_that_landed_is_found_not_repeated(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(landing=True, find_down=True), Texts()
    desk = make_desk(profile, business, backend, clock)
    # the in-call write lands but answers with a reset, and no lookup gets through
    cid = await book_in_call(desk, business, clock)
    commitment = business.get_commitment(cid)
    assert commitment is not None and commitment.state == C_UNKNOWN
    assert len(backend.held) == 1
    sent = backend.creates
    backend.landing = backend.find_down = False
    clock.advance(minutes=10)
    await outbox(desk, texts, clock).run_once()
    commitment = business.get_commitment(cid)
    assert commitment is not None and commitment.state == C_COMMITTED
    assert backend.creates == sent  # found by key: not written again
    assert commitment.result is not None and commitment.result["external_id"] == "ext-1"


async def test_a_booking_that_never_goes_through_is_given_up_and_texted(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(down=True), Texts()
    desk = make_desk(profile, business, backend, clock)
    cid = await book_in_call(desk, business, clock)
    worker = outbox(desk, texts, clock)
    for _ in range(4):
        clock.advance(hours=1)
        await worker.run_once()
    commitment = business.get_commitment(cid)
    assert commitment is not None and commitment.state == C_FAILED
    assert commitment.attempts == 3
    [row] = business.list_bookings(NOW, NOW + timedelta(days=3), include_cancelled=True)
    assert row.status == BOOKING_CANCELLED  # the hold is released
    [(_, text)] = texts.sent
    assert "could not book your oil change" in text


async def test_heard_confirmation_needs_no_text_but_an_unheard_one_does(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(), Texts()
    desk = make_desk(profile, business, backend, clock)
    heard = await book_in_call(desk, business, clock)
    desk.ledger.told(heard, TOLD_CONFIRMED, heard=True)
    other = Clock(NOW)
    unheard_call = business.create_call(CALLER, "+15125550100", started_at=other())
    outcome = await desk.book(session_id="s2", call_id=unheard_call.id,
                              slot=slot_at(desk, START + timedelta(hours=2), other()),
                              name="Bo Ray", phone="+15125559999")
    desk.ledger.told(outcome.commitment.id, TOLD_CONFIRMED, heard=False)
    worker = outbox(desk, texts, clock)
    await worker.run_once()
    assert texts.sent == []  # the second call is still live: the agent may still say it
    business.end_call(unheard_call.id, status="completed", outcome="booked", ended_at=clock())
    await worker.run_once()
    assert [to for to, _ in texts.sent] == ["+15125559999"]


async def test_an_attempt_abandoned_by_a_crash_is_resolved_after_its_grace(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(), Texts()
    desk = make_desk(profile, business, backend, clock)
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    # what a process killed mid-write leaves behind: proposed, begun, nothing settled
    request_slot = slot_at(desk, START, clock())
    from frontdesk.actions.ledger import idempotency_key

    key = idempotency_key(call.id, "book", {"start": request_slot.start.isoformat()})
    commitment, _ = desk.ledger.propose(kind="book", key=key, connector=backend.name,
                                        call_id=call.id, payload={
        "service_id": "oil-change", "service_name": "oil change",
        "start": request_slot.start.isoformat(), "end": request_slot.end.isoformat(),
        "customer_name": "Ann Lee", "customer_phone": CALLER, "call_id": call.id,
        "resource_id": request_slot.resource_id})
    desk.ledger.move(commitment, C_PENDING, retry_at=clock() + timedelta(seconds=30))
    worker = outbox(desk, texts, clock)
    assert (await worker.run_once()).bookings == {}  # still inside the in-call grace
    clock.advance(minutes=1)
    assert (await worker.run_once()).bookings == {C_COMMITTED: 1}
    # the dead call row is still "active": texts wait until it is stale
    assert texts.sent == []
    clock.advance(hours=3)
    await worker.run_once()
    assert len(texts.sent) == 1 and "confirmed" in texts.sent[0][1]


async def test_a_failed_text_is_retried_later_and_sent_once(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(), Texts(fail_next=1)
    desk = make_desk(profile, business, backend, clock)
    await book_in_call(desk, business, clock)
    worker = outbox(desk, texts, clock)
    report = await worker.run_once()
    assert report.texts_proposed == 1 and report.texts_sent == 0
    report = await worker.run_once()
    assert report.texts_sent == 0  # its retry time is ahead
    clock.advance(minutes=15)
    assert (await worker.run_once()).texts_sent == 1
    clock.advance(minutes=15)
    assert (await worker.run_once()).idle and len(texts.sent) == 1


async def test_two_workers_never_act_on_the_same_commitment(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(down=True), Texts()
    desk = make_desk(profile, business, backend, clock)
    for hour in (9, 10, 11, 13):
        call = business.create_call(CALLER, "+15125550100", started_at=clock())
        await desk.book(session_id=call.id, call_id=call.id,
                        slot=slot_at(desk, START.replace(hour=hour), clock()), name="Ann Lee",
                        phone=CALLER)
        business.end_call(call.id, status="completed", outcome="none", ended_at=clock())
    backend.down = False
    clock.advance(minutes=10)
    a, b = outbox(desk, texts, clock, "a"), outbox(desk, texts, clock, "b")
    import asyncio

    first, second = await asyncio.gather(a.run_once(), b.run_once())
    assert first.bookings.get(C_COMMITTED, 0) + second.bookings.get(C_COMMITTED, 0) == 4
    assert backend.creates == 4
    clock.advance(minutes=1)
    await asyncio.gather(a.run_once(), b.run_once())
    assert len(texts.sent) == 4


async def test_an_open_circuit_spends_no_attempts(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(down=True), Texts()
    desk = make_desk(profile, business, backend, clock)
    cid = await book_in_call(desk, business, clock)
    before = business.get_commitment(cid)
    assert before is not None
    desk.executor.breaker.opened_at = time.monotonic()  # the circuit opened just now
    clock.advance(hours=1)
    assert (await outbox(desk, texts, clock).run_once()).bookings == {}
    after = business.get_commitment(cid)
    assert after is not None and after.attempts == before.attempts
    assert after.state == C_UNKNOWN and after.next_attempt_at is not None
    assert after.next_attempt_at > clock()  # released until the cool-down is over


async def test_a_message_is_stored_once_and_a_crashed_one_is_finished(
    profile: Profile, business: BusinessStore
) -> None:
    from frontdesk.actions.messages import KIND_MESSAGE, take_message

    clock, texts = Clock(NOW), Texts()
    desk = make_desk(profile, business, Backend(), clock)
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    said = {"session_id": call.id, "call_id": call.id, "name": "Ann Lee", "phone": CALLER,
            "text": "Please call me about my brakes."}
    first, stored = await take_message(desk.ledger, **said)
    again, stored_again = await take_message(desk.ledger, **said)  # said twice: kept once
    assert first.state == again.state == C_COMMITTED and stored_again.id == stored.id
    assert [m.id for m in business.list_messages()] == [stored.id]
    # a process that died after proposing a message, before storing it
    from frontdesk.actions.ledger import idempotency_key

    key = idempotency_key("other-session", KIND_MESSAGE, {"text": "x"})
    lost, _ = desk.ledger.propose(kind=KIND_MESSAGE, key=key, connector="builtin", payload={
        "text": "Call me back", "caller_name": "Bo", "caller_phone": CALLER, "call_id": None})
    report = await outbox(desk, texts, clock).run_once()
    assert report.messages == 1
    done = business.get_commitment(lost.id)
    assert done is not None and done.state == C_COMMITTED
    assert sorted(m.text for m in business.list_messages()) == [
        "Call me back", "Please call me about my brakes."]
    assert (await outbox(desk, texts, clock).run_once()).messages == 0


async def test_an_unknown_cancellation_is_finished_and_texted(
    profile: Profile, business: BusinessStore
) -> None:
    from frontdesk.actions.cancelling import cancel_booking

    clock, backend, texts = Clock(NOW), Backend(), Texts()
    desk = make_desk(profile, business, backend, clock)
    cid = await book_in_call(desk, business, clock)
    desk.ledger.told(cid, TOLD_CONFIRMED, heard=True)
    booking = business.get_booking_by_key(business.get_commitment(cid).key)  # type: ignore[union-attr]
    assert booking is not None
    backend.down = True
    outcome = await cancel_booking(desk, session_id="s2", call_id=None, booking=booking)
    assert outcome.state == C_UNKNOWN
    assert business.get_booking(booking.id).status == BOOKING_CONFIRMED  # type: ignore[union-attr]
    backend.down = False
    clock.advance(minutes=10)
    await outbox(desk, texts, clock).run_once()
    assert business.get_booking(booking.id).status == BOOKING_CANCELLED  # type: ignore[union-attr]
    assert backend.held == {}
    [(to, text)] = texts.sent
    assert to == CALLER and "your oil change on Tuesday, December 1 at 10 AM is cancelled" in text


async def test_an_in_call_write_overrunning_its_lease_is_taken_over_once(
    profile: Profile, business: BusinessStore
) -> None:
    import asyncio

    from frontdesk.actions.booking import DeskSettings

    clock, texts = Clock(NOW), Texts()
    backend = Backend(gate=asyncio.Event())
    desk = make_desk(profile, business, backend, clock)
    desk.settings = DeskSettings(in_call_budget_s=30, request_s=30, outbox_budget_s=5,
                                 outbox_request_s=5, grace_s=30)
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    in_call = asyncio.create_task(desk.book(
        session_id=call.id, call_id=call.id, slot=slot_at(desk, START, clock()),
        name="Ann Lee", phone=CALLER))
    await backend.entered.get()  # the in-call write is out (held at the backend)
    clock.advance(minutes=2)  # the process stalls past its lease: the outbox takes over
    worker = outbox(desk, texts, clock)
    taking_over = asyncio.create_task(worker.run_once())
    await backend.entered.get()  # the outbox's write of the same key
    assert backend.gate is not None
    backend.gate.set()  # both writes (one key) reach the backend
    report, outcome = await asyncio.gather(taking_over, in_call)
    assert report.bookings == {C_COMMITTED: 1}
    assert len(backend.held) == 1  # one booking: the key made the second write a replay
    # the stalled call speaks from the ledger as the outbox holds it (still writing, or
    # done), never from its own attempt, which is not recorded: the outbox's is the one
    assert outcome.state in (C_PENDING, C_COMMITTED)
    final = business.get_commitment(outcome.commitment.id)
    assert final is not None and final.state == C_COMMITTED and final.attempts == 1


async def test_a_reschedule_finished_by_the_outbox_cancels_the_old_booking(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend, texts = Clock(NOW), Backend(), Texts()
    desk = make_desk(profile, business, backend, clock)
    first = await book_in_call(desk, business, clock)
    desk.ledger.told(first, TOLD_CONFIRMED, heard=True)
    old = business.get_booking_by_key(business.get_commitment(first).key)  # type: ignore[union-attr]
    assert old is not None
    # a later call moves it to 2 PM; the backend does not answer in time
    backend.down = True
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    moved = await desk.book(session_id=call.id, call_id=call.id,
                            slot=slot_at(desk, START.replace(hour=14), clock()),
                            name="Ann Lee", phone=CALLER, replaces=old)
    assert moved.state == C_UNKNOWN
    business.end_call(call.id, status="completed", outcome="none", ended_at=clock())
    assert business.get_booking(old.id).status == BOOKING_CONFIRMED  # type: ignore[union-attr]
    backend.down = False
    clock.advance(minutes=10)
    worker = outbox(desk, texts, clock)
    await worker.run_once()
    assert business.get_booking(old.id).status == BOOKING_CANCELLED  # type: ignore[union-attr]
    assert [b.start.astimezone(CHICAGO).hour for b in backend.held.values()] == [14]
    await worker.run_once()  # the cancellation's own text
    confirmed, cancelled = sorted((text for _, text in texts.sent),
                                  key=lambda text: "cancelled" in text)
    assert "confirmed for Tuesday, December 1 at 2 PM" in confirmed
    assert "on Tuesday, December 1 at 10 AM is cancelled" in cancelled
