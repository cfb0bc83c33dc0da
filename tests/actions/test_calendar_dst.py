"""Time zone correctness on the 2027 America/Chicago DST changes.

Spring forward: 14 March 2027, 02:00 CST -> 03:00 CDT. Fall back: 7 November 2027,
02:00 CDT -> 01:00 CST. Slots must be real instants, durations real minutes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from calendar_helpers import CHICAGO, ProfileFactory

from frontdesk.actions.calendar import Calendar
from frontdesk.store import Store

SPRING = date(2027, 3, 14)  # a Sunday
FALL = date(2027, 11, 7)  # a Sunday


def night_shop(make_profile: ProfileFactory, store: Store) -> Calendar:
    profile = make_profile(
        hours={"sunday": [["00:00", "06:00"]]},
        policies={"booking_horizon_days": 400, "min_notice_minutes": 0},
    )
    return Calendar(profile, store.for_business(profile.business.id))


def test_spring_forward_skips_the_missing_hour(make_profile: ProfileFactory, store: Store) -> None:
    calendar = night_shop(make_profile, store)
    now = datetime(2027, 3, 1, tzinfo=CHICAGO)
    slots = calendar.free_slots("brake-inspection", SPRING, now)
    walls = [s.start.strftime("%H:%M") for s in slots]
    assert not any(w.startswith("02:") for w in walls)
    # 00:00-06:00 that night lasts 5 real hours: starts every 15 min until 05:00 CDT.
    assert walls[0] == "00:00" and walls[-1] == "05:00" and len(slots) == 17
    for s in slots:
        assert s.end.astimezone(UTC) - s.start.astimezone(UTC) == timedelta(minutes=60)
    assert (walls[7], slots[7].start.utcoffset()) == ("01:45", timedelta(hours=-6))
    assert (walls[8], slots[8].start.utcoffset()) == ("03:00", timedelta(hours=-5))
    crossing = next(s for s in slots if s.start.strftime("%H:%M") == "01:30")
    assert crossing.end.strftime("%H:%M %Z") == "03:30 CDT"


def test_fall_back_has_seven_real_hours(make_profile: ProfileFactory, store: Store) -> None:
    calendar = night_shop(make_profile, store)
    now = datetime(2027, 11, 1, tzinfo=CHICAGO)
    slots = calendar.free_slots("oil-change", FALL, now)
    # 00:00 CDT to 06:00 CST is 7 hours: 28 quarter-hour starts minus the last half hour.
    assert len(slots) == 27
    instants = [s.start.astimezone(UTC) for s in slots]
    assert instants == sorted(set(instants))
    ones = [s for s in slots if s.start.hour == 1 and s.start.minute == 0]
    assert [s.start.utcoffset() for s in ones] == [timedelta(hours=-5), timedelta(hours=-6)]


def test_business_hours_on_spring_forward_monday(calendar: Calendar) -> None:
    monday = SPRING + timedelta(days=1)
    now = datetime(2027, 3, 10, 12, tzinfo=CHICAGO)
    slot = calendar.check("oil-change", datetime.combine(monday, time(8), CHICAGO), now)
    assert slot.start.astimezone(UTC) == datetime(2027, 3, 15, 13, tzinfo=UTC)  # CDT = UTC-5
    friday = SPRING - timedelta(days=2)
    before = calendar.free_slots("oil-change", friday, now)[0]
    assert before.start.astimezone(UTC) == datetime(2027, 3, 12, 14, tzinfo=UTC)  # CST = UTC-6


def test_booking_round_trips_across_dst(calendar: Calendar) -> None:
    now = datetime(2027, 3, 10, 12, tzinfo=CHICAGO)
    start = datetime.combine(SPRING + timedelta(days=1), time(9), CHICAGO)
    slot = calendar.check("brake-inspection", start, now)
    record = calendar.book(slot, customer_name="Eve", customer_phone=None, call_id=None, now=now)
    assert record.start_at == start and record.start_at.strftime("%H:%M %Z") == "09:00 CDT"
    stored = calendar.store.get_booking(record.id)
    assert stored is not None and stored.start_at == datetime(2027, 3, 15, 14, tzinfo=UTC)
    again = calendar.check("brake-inspection", start, now)
    assert again.resource_id == "bay-2"  # bay-1 is held by the stored booking
