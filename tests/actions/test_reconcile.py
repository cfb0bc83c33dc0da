"""Reconciliation: what callers were told against what the backend holds.

Each test makes one kind of mismatch happen to real ledger rows (SQLite) and a scripted
backend, runs the reconciler, and checks the finding, its corrective action, and that a
second run adds nothing.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ledger_helpers import Backend, Clock, make_desk, slot_at

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.connectors.base import BookingRequest
from frontdesk.actions.ledger import TOLD_CONFIRMED
from frontdesk.profile import Profile
from frontdesk.quality.reconcile import Reconciler
from frontdesk.store import (
    C_COMMITTED,
    C_FAILED,
    C_RECONCILED,
    BusinessStore,
    Store,
    TurnRecord,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)
START = datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)
CALLER = "+15125551234"


@pytest.fixture
def business(store: Store, profile: Profile) -> BusinessStore:
    return store.for_business(profile.business.id)


async def booked(desk: BookingDesk, business: BusinessStore, clock: Clock, hour: int = 10,
                 *, heard: bool = True) -> str:
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    outcome = await desk.book(session_id=call.id, call_id=call.id,
                              slot=slot_at(desk, START.replace(hour=hour), clock()),
                              name="Ann Lee", phone=CALLER)
    assert outcome.state == C_COMMITTED
    desk.ledger.told(outcome.commitment.id, TOLD_CONFIRMED, heard=heard)
    business.end_call(call.id, status="completed", outcome="booked", ended_at=clock())
    return outcome.commitment.id


async def test_a_heard_booking_the_backend_holds_is_reconciled_once(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    cid = await booked(desk, business, clock)
    reconciler = Reconciler(desk, clock=clock)
    report = await reconciler.run()
    assert (report.checked, report.reconciled, report.findings) == (1, 1, [])
    commitment = business.get_commitment(cid)
    assert commitment is not None and commitment.state == C_RECONCILED
    again = await reconciler.run()  # upcoming: checked again, nothing to report
    assert (again.checked, again.reconciled, again.findings) == (1, 0, [])
    clock.advance(days=2)  # the appointment has begun: no longer checked
    assert (await reconciler.run()).checked == 0


async def test_a_reconciled_booking_lost_before_its_day_is_found(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    cid = await booked(desk, business, clock)
    reconciler = Reconciler(desk, clock=clock)
    assert (await reconciler.run()).reconciled == 1
    backend.held.clear()
    [finding] = (await reconciler.run()).findings
    assert (finding.kind, finding.commitment_id, finding.action) == ("missing", cid, "callback")


async def test_a_dropped_booking_raises_one_callback_and_is_not_put_back(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    cid = await booked(desk, business, clock)
    backend.held.clear()  # lost by the backend, or removed by the business: unknowable
    creates = backend.creates
    report = await Reconciler(desk, clock=clock).run()
    [finding] = report.findings
    assert (finding.kind, finding.action, finding.commitment_id) == ("missing", "callback", cid)
    assert finding.detail["told"] == TOLD_CONFIRMED and finding.detail["heard"] is True
    assert backend.held == {} and backend.creates == creates  # nothing written
    assert [f.id for f in business.list_findings(open_only=True)] == [finding.id]
    assert (await Reconciler(desk, clock=clock).run()).findings == []  # raised once


async def test_a_caller_nobody_can_text_gets_a_callback_task(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    cid = await booked(desk, business, clock, heard=False)  # hung up before hearing it
    desk.can_text = False  # no carrier configured
    [finding] = (await Reconciler(desk, clock=clock).run()).findings
    assert (finding.kind, finding.action, finding.commitment_id) == ("uninformed", "callback",
                                                                      cid)
    assert finding.detail["why"] == "no carrier configured to text through"
    desk.can_text = True  # with a carrier the outbox owes the text: nothing to raise yet
    other = await booked(desk, business, clock, hour=11, heard=False)
    report = await Reconciler(desk, clock=clock).run()
    assert other not in [f.commitment_id for f in report.findings]


async def test_a_late_landing_after_we_gave_up_is_cancelled(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend(down=True)
    desk = make_desk(profile, business, backend, clock)
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    outcome = await desk.book(session_id=call.id, call_id=call.id,
                              slot=slot_at(desk, START, clock()), name="Ann Lee", phone=CALLER)
    commitment = desk.ledger.move(outcome.commitment, C_FAILED, error="gave up")
    backend.down = False
    late = await backend.create(desk_request(desk, commitment.key))  # the late landing
    report = await Reconciler(desk, clock=clock).run()
    [finding] = report.findings
    assert (finding.kind, finding.action) == ("orphan", "cancelled")
    assert finding.detail["held"] == late.external_id and backend.held == {}


def desk_request(desk: BookingDesk, key: str) -> BookingRequest:
    from frontdesk.actions.booking import request_from

    commitment = desk.store.get_commitment_by_key(key)
    assert commitment is not None
    return request_from(commitment)


async def test_two_copies_and_a_wrong_time_need_a_person(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    twice = await booked(desk, business, clock, hour=9)
    moved = await booked(desk, business, clock, hour=11)
    key_twice = business.get_commitment(twice).key  # type: ignore[union-attr]
    key_moved = business.get_commitment(moved).key  # type: ignore[union-attr]
    backend.extra.append(dataclasses.replace(backend.held[key_twice], external_id="copy"))
    held = backend.held[key_moved]
    backend.held[key_moved] = dataclasses.replace(held, start=held.start + timedelta(hours=1),
                                                  end=held.end + timedelta(hours=1))
    report = await Reconciler(desk, clock=clock).run()
    kinds = sorted((f.kind, f.action, f.commitment_id) for f in report.findings)
    assert ("duplicate", "callback", twice) in kinds
    assert ("wrong_time", "callback", moved) in kinds
    assert all(f.action == "callback" for f in report.findings)
    assert (await Reconciler(desk, clock=clock).run()).findings == []


async def test_a_booking_nobody_asked_for_and_a_false_confirmation_are_flagged(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    await booked(desk, business, clock)
    stray = next(iter(backend.held.values()))
    backend.extra.append(dataclasses.replace(stray, key="f" * 32, external_id="stray"))
    # a call whose transcript says "booked" though no commitment was ever committed
    call = business.create_call(CALLER, "+15125550100", started_at=clock())
    business.add_turn(call.id, TurnRecord(0, "yes", "Your oil change is booked for Monday.",
                                          "Your oil change is booked for Monday."))
    down = Backend(down=True)
    desk_down = make_desk(profile, business, down, clock)
    outcome = await desk_down.book(session_id=call.id, call_id=call.id,
                                   slot=slot_at(desk, START.replace(hour=14), clock()),
                                   name="Cy", phone=CALLER)
    desk.ledger.move(outcome.commitment, C_FAILED, error="gave up")
    report = await Reconciler(desk, clock=clock).run()
    kinds = {f.kind for f in report.findings}
    assert {"untracked", "false_confirmation"} <= kinds
    [false] = [f for f in report.findings if f.kind == "false_confirmation"]
    assert false.detail["call_id"] == call.id and false.detail["turns"] == [0]


async def test_an_unreachable_backend_is_counted_not_judged(
    profile: Profile, business: BusinessStore
) -> None:
    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    cid = await booked(desk, business, clock)
    backend.down = True
    report = await Reconciler(desk, clock=clock).run()
    assert (report.unreachable, report.findings) == (1, [])
    assert business.get_commitment(cid).state == C_COMMITTED  # type: ignore[union-attr]


async def test_a_cancelled_booking_is_not_restored_and_must_stay_gone(
    profile: Profile, business: BusinessStore
) -> None:
    from frontdesk.actions.cancelling import cancel_booking

    clock, backend = Clock(NOW), Backend()
    desk = make_desk(profile, business, backend, clock)
    cid = await booked(desk, business, clock)
    key = business.get_commitment(cid).key  # type: ignore[union-attr]
    booking = business.get_booking_by_key(key)
    assert booking is not None
    outcome = await cancel_booking(desk, session_id="s", call_id=None, booking=booking)
    assert outcome.state == C_COMMITTED and backend.held == {}
    desk.ledger.told(outcome.commitment.id, TOLD_CONFIRMED, heard=True)
    reconciler = Reconciler(desk, clock=clock)
    report = await reconciler.run()
    assert report.findings == [] and backend.held == {}  # gone, as the caller was told
    # the backend brings it back (a sync from another system): deleted again
    await backend.create(desk_request(desk, key))
    [finding] = (await reconciler.run()).findings
    assert (finding.kind, finding.action) == ("still_booked", "cancelled")
    assert backend.held == {}
