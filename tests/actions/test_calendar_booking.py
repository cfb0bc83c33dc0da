"""check() and book(): typed refusals, read-back records, and the last-slot race."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from calendar_helpers import MONDAY, NOW, ProfileFactory, at, book

from frontdesk.actions.calendar import (
    BeyondHorizon,
    Calendar,
    CalendarError,
    InPast,
    OutsideHours,
    Slot,
    SlotUnavailable,
    TooSoon,
    UnknownService,
)
from frontdesk.store import Store


def test_book_returns_stored_record_in_business_zone(calendar: Calendar, store: Store) -> None:
    business = store.for_business("main-street-auto")
    call = business.create_call("+15125550111", "+15125550100", started_at=NOW)
    slot = calendar.check("brake-inspection", at(MONDAY, 9), NOW)
    record = calendar.book(
        slot, customer_name=" Dana ", customer_phone="+15125550111", call_id=call.id, now=NOW
    )
    assert record.start_at == at(MONDAY, 9) and record.start_at.tzinfo == calendar.profile.tz
    assert record.end_at == at(MONDAY, 10)
    assert (record.customer_name, record.status, record.resource_id) == (
        "Dana",
        "confirmed",
        "bay-1",
    )
    stored = business.get_booking(record.id)
    assert stored is not None and stored.start_at == record.start_at
    assert stored.start_at.tzinfo == UTC and stored.call_id == call.id


@pytest.mark.parametrize(
    ("service", "start", "error", "words"),
    [
        ("detailing", at(MONDAY, 9), UnknownService, "detailing"),
        ("oil-change", at(MONDAY, 6), InPast, "passed"),
        ("oil-change", at(MONDAY, 7, 30), TooSoon, "60 minutes' notice"),
        ("oil-change", at(MONDAY + timedelta(days=70), 9), BeyondHorizon, "60 days"),
        ("oil-change", at(date(2026, 12, 25), 9), OutsideHours, "Christmas Day"),
        ("oil-change", at(date(2026, 12, 6), 10), OutsideHours, "closed at Sunday 10 AM"),
        ("oil-change", at(MONDAY, 18), OutsideHours, "closed"),
        ("brake-inspection", at(MONDAY, 16, 30), OutsideHours, "past closing at Monday 5 PM"),
        ("oil-change", at(MONDAY, 9, 10), SlotUnavailable, "every 15 minutes"),
    ],
)
def test_check_refusals_are_typed_and_explained(
    calendar: Calendar, service: str, start: datetime, error: type[CalendarError], words: str
) -> None:
    with pytest.raises(error, match=words):
        calendar.check(service, start, NOW)


def test_in_past_family(calendar: Calendar) -> None:
    assert issubclass(TooSoon, InPast) and issubclass(BeyondHorizon, OutsideHours)
    with pytest.raises(ValueError, match="naive"):
        calendar.check("oil-change", at(MONDAY, 9).replace(tzinfo=None), NOW)


def test_third_concurrent_booking_refused(calendar: Calendar) -> None:
    start = at(MONDAY, 11)
    first = calendar.check("oil-change", start, NOW)
    book(calendar, "oil-change", start, "Ann")
    book(calendar, "oil-change", start, "Bob")
    with pytest.raises(SlotUnavailable, match="taken"):
        calendar.check("oil-change", start, NOW)
    with pytest.raises(SlotUnavailable, match="just taken"):
        calendar.book(first, customer_name="Cy", customer_phone=None, call_id=None, now=NOW)
    assert len(calendar.store.list_bookings(start, start + timedelta(minutes=30))) == 2


def test_stale_slot_falls_back_to_other_free_bay(calendar: Calendar) -> None:
    start = at(MONDAY, 11)
    offered = calendar.check("oil-change", start, NOW)  # bay-1
    book(calendar, "oil-change", start, "Ann")  # takes bay-1
    record = calendar.book(offered, customer_name="Bob", customer_phone=None, call_id=None, now=NOW)
    assert record.resource_id == "bay-2"


def test_book_revalidates_hours_and_resource(calendar: Calendar) -> None:
    bogus = Slot("oil-change", "bay-1", at(MONDAY, 20), at(MONDAY, 20, 30))
    with pytest.raises(OutsideHours):
        calendar.book(bogus, customer_name="Ann", customer_phone=None, call_id=None, now=NOW)
    wrong = Slot("oil-change", "lift-9", at(MONDAY, 9), at(MONDAY, 9, 30))
    with pytest.raises(SlotUnavailable):
        calendar.book(wrong, customer_name="Ann", customer_phone=None, call_id=None, now=NOW)
    with pytest.raises(ValueError, match="customer_name"):
        slot = calendar.check("oil-change", at(MONDAY, 9), NOW)
        calendar.book(slot, customer_name="  ", customer_phone=None, call_id=None, now=NOW)


def test_cancelled_booking_frees_the_slot(calendar: Calendar) -> None:
    start = at(MONDAY, 11)
    slot = calendar.check("oil-change", start, NOW)
    ann = calendar.book(slot, customer_name="Ann", customer_phone=None, call_id=None, now=NOW)
    book(calendar, "oil-change", start, "Bob")
    calendar.store.cancel_booking(ann.id)
    assert calendar.check("oil-change", start, NOW).resource_id == ann.resource_id


def test_eight_threads_race_for_the_last_slot(calendar: Calendar) -> None:
    start = at(MONDAY, 16, 30)
    book(calendar, "oil-change", start, "Early bird")  # bay-1 gone; bay-2 is the last one
    slot = calendar.check("oil-change", start, NOW)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            calendar.book(
                slot, customer_name=f"caller {n}", customer_phone=None, call_id=None, now=NOW
            )
            result = "booked"
        except SlotUnavailable:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["booked"] + ["refused"] * 7
    bookings = calendar.store.list_bookings(start, start + timedelta(minutes=30))
    assert sorted(b.resource_id for b in bookings) == ["bay-1", "bay-2"]


def test_one_bay_profile(make_profile: ProfileFactory, store: Store) -> None:
    profile = make_profile(resources=[{"id": "bay-1", "kind": "bay", "name": "Bay 1"}])
    calendar = Calendar(profile, store.for_business(profile.business.id))
    book(calendar, "oil-change", at(MONDAY, 8))
    with pytest.raises(SlotUnavailable):
        calendar.check("oil-change", at(MONDAY, 8), NOW)
