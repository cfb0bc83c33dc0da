"""Availability: hours, holidays, notice, fitting before close, resources, horizon."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from calendar_helpers import MONDAY, NOW, ProfileFactory, at, book, starts

from frontdesk.actions.calendar import Calendar, UnknownService
from frontdesk.store import Store


def test_slots_follow_hours_grid_and_fit_before_close(calendar: Calendar) -> None:
    slots = calendar.free_slots("brake-inspection", MONDAY, NOW)
    assert slots[0].start == at(MONDAY, 8)
    # 60 minutes must fit before 17:00, so 16:00 is the last start; 15-minute grid.
    assert slots[-1].start == at(MONDAY, 16)
    assert len(slots) == 33
    assert all(s.start.utcoffset() == timedelta(hours=-6) for s in slots)
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)
    assert {s.start.minute for s in slots} == {0, 15, 30, 45}


def test_saturday_short_hours_and_sunday_closed(calendar: Calendar) -> None:
    saturday, sunday = date(2026, 12, 5), date(2026, 12, 6)
    slots = calendar.free_slots("oil-change", saturday, NOW)
    assert (slots[0].start, slots[-1].start) == (at(saturday, 9), at(saturday, 12, 30))
    assert calendar.free_slots("oil-change", sunday, NOW) == []


def test_holiday_has_no_slots(calendar: Calendar) -> None:
    christmas = date(2026, 12, 25)  # a Friday
    assert calendar.free_slots("oil-change", christmas, NOW) == []
    assert calendar.free_slots("oil-change", christmas - timedelta(days=1), NOW) != []


def test_min_notice_and_past_days(calendar: Calendar) -> None:
    now = at(MONDAY, 10, 5)
    slots = calendar.free_slots("oil-change", MONDAY, now)
    assert slots[0].start == at(MONDAY, 11, 15)  # 10:05 + 60 min, next grid point
    assert calendar.free_slots("oil-change", MONDAY - timedelta(days=7), now) == []


def test_horizon_in_calendar_days(calendar: Calendar) -> None:
    last = MONDAY + timedelta(days=60)  # Friday 29 January 2027
    assert calendar.free_slots("oil-change", last, NOW) != []
    assert calendar.free_slots("oil-change", last + timedelta(days=3), NOW) == []


def test_two_bays_take_two_concurrent_bookings_then_refuse(calendar: Calendar) -> None:
    start = at(MONDAY, 10)
    book(calendar, "oil-change", start, "Ann")
    book(calendar, "oil-change", start, "Bob")
    free = starts(calendar.free_slots("oil-change", MONDAY, NOW))
    assert "Mon 10:00" not in free
    # A 60-minute job starting at 9:30 would overlap both 10:00 bookings.
    assert "Mon 09:30" not in starts(calendar.free_slots("brake-inspection", MONDAY, NOW))
    assert "Mon 09:00" in starts(calendar.free_slots("brake-inspection", MONDAY, NOW))
    assert "Mon 10:30" in free  # back-to-back is fine: [10:00, 10:30) ends as 10:30 starts


def test_one_slot_per_start_time_uses_first_free_resource(calendar: Calendar) -> None:
    book(calendar, "oil-change", at(MONDAY, 8))
    slots = calendar.free_slots("oil-change", MONDAY, NOW)
    slot = next(s for s in slots if s.start == at(MONDAY, 8))
    assert slot.resource_id == "bay-2"
    starts_ = [s.start for s in calendar.free_slots("oil-change", MONDAY, NOW)]
    assert len(starts_) == len(set(starts_))


def test_resources_are_per_kind(make_profile: ProfileFactory, store: Store) -> None:
    profile = make_profile(
        resources=[
            {"id": "bay-1", "kind": "bay", "name": "Bay 1"},
            {"id": "lift-1", "kind": "lift", "name": "Lift"},
        ],
        services=[
            {"id": "oil-change", "name": "oil", "duration_minutes": 30, "resource_kind": "bay"},
            {"id": "alignment", "name": "align", "duration_minutes": 60, "resource_kind": "lift"},
        ],
    )
    calendar = Calendar(profile, store.for_business(profile.business.id))
    book(calendar, "oil-change", at(MONDAY, 8))
    assert calendar.free_slots("alignment", MONDAY, NOW)[0].start == at(MONDAY, 8)
    assert calendar.free_slots("oil-change", MONDAY, NOW)[0].start == at(MONDAY, 8, 30)


def test_split_shift_lunch_break(make_profile: ProfileFactory, store: Store) -> None:
    profile = make_profile(hours={"monday": [["13:00", "17:00"], ["08:00", "12:00"]]})
    calendar = Calendar(profile, store.for_business(profile.business.id))
    found = starts(calendar.free_slots("brake-inspection", MONDAY, NOW))
    assert "Mon 11:00" in found and "Mon 11:15" not in found and "Mon 13:00" in found


def test_unknown_service(calendar: Calendar) -> None:
    with pytest.raises(UnknownService, match="detailing"):
        calendar.free_slots("detailing", MONDAY, NOW)


def test_calendar_refuses_store_of_other_business(calendar: Calendar, store: Store) -> None:
    with pytest.raises(ValueError, match="scoped"):
        Calendar(calendar.profile, store.for_business("someone-else"))
