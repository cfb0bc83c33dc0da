"""nearest(): what the caller asked for first, then the closest alternatives."""

from __future__ import annotations

import time as clock
from datetime import date, time, timedelta

from calendar_helpers import MONDAY, NOW, at, book, starts

from frontdesk.actions.calendar import Calendar

TUESDAY = MONDAY + timedelta(days=1)


def test_exact_time_first_when_free(calendar: Calendar) -> None:
    slots = calendar.nearest("oil-change", now=NOW, day=TUESDAY, at=time(14), limit=3)
    assert starts(slots) == ["Tue 14:00", "Tue 13:45", "Tue 14:15"]


def test_taken_time_offers_nearest_on_same_day(calendar: Calendar) -> None:
    for _ in range(2):
        book(calendar, "brake-inspection", at(TUESDAY, 14))
    slots = calendar.nearest("oil-change", now=NOW, day=TUESDAY, at=time(14), limit=5)
    # 13:30 ends exactly at 14:00 and 15:00 starts as the brake jobs end; equal distances
    # (13:00 and 15:00) prefer the earlier time.
    assert starts(slots) == ["Tue 13:30", "Tue 13:15", "Tue 13:00", "Tue 15:00", "Tue 12:45"]


def test_window_then_following_days(calendar: Calendar) -> None:
    slots = calendar.nearest(
        "brake-inspection", now=NOW, day=TUESDAY, earliest=time(15, 30), latest=time(16), limit=5
    )
    assert starts(slots) == ["Tue 15:30", "Tue 15:45", "Tue 16:00", "Wed 15:30", "Wed 15:45"]


def test_window_orders_by_distance_to_at(calendar: Calendar) -> None:
    slots = calendar.nearest(
        "oil-change", now=NOW, day=TUESDAY, at=time(10), earliest=time(9), latest=time(12)
    )
    assert starts(slots) == ["Tue 10:00", "Tue 09:45", "Tue 10:15"]


def test_closed_day_moves_to_next_open_day(calendar: Calendar) -> None:
    sunday = date(2026, 12, 6)
    slots = calendar.nearest("oil-change", now=NOW, day=sunday, at=time(10), limit=2)
    assert starts(slots) == ["Mon 10:00", "Mon 09:45"]
    assert slots[0].start.date() == date(2026, 12, 7)


def test_window_in_later_days_before_other_times(calendar: Calendar) -> None:
    saturday = date(2026, 12, 5)  # open 9-13: the 15:00-16:00 window lands on Monday
    slots = calendar.nearest(
        "oil-change", now=NOW, day=saturday, earliest=time(15), latest=time(16), limit=2
    )
    assert starts(slots) == ["Mon 15:00", "Mon 15:15"]


def test_unsatisfiable_window_falls_back_to_closest_times(calendar: Calendar) -> None:
    saturday = date(2026, 12, 5)
    slots = calendar.nearest(
        "oil-change", now=NOW, day=saturday, earliest=time(20), latest=time(21), limit=2
    )
    assert starts(slots) == ["Sat 12:30", "Sat 12:15"]
    assert slots[0].start.date() == saturday


def test_defaults_today_and_offer_count(calendar: Calendar) -> None:
    slots = calendar.nearest("oil-change", now=at(MONDAY, 16, 0))
    assert len(slots) == calendar.profile.policies.offer_count
    assert starts(slots) == ["Tue 08:00", "Tue 08:15", "Tue 08:30"]  # Monday is too late


def test_nothing_beyond_horizon(calendar: Calendar) -> None:
    assert calendar.nearest("oil-change", now=NOW, day=MONDAY + timedelta(days=61)) == []


def test_fast_with_a_busy_calendar(calendar: Calendar) -> None:
    store = calendar.store
    start = at(MONDAY, 8)
    for n in range(300):
        day = MONDAY + timedelta(days=n // 5)
        begin = at(day, 8 + (n % 5) * 2)
        store.create_booking(
            service_id="oil-change",
            resource_ids=["bay-1", "bay-2"][n % 2 :],
            start_at=begin,
            end_at=begin + timedelta(minutes=90),
            customer_name=f"c{n}",
            created_at=start,
        )
    best = float("inf")
    for _ in range(3):
        t0 = clock.perf_counter()
        # A window nobody can satisfy forces the full 60-day scan twice.
        calendar.nearest("oil-change", now=NOW, earliest=time(20), latest=time(21), limit=50)
        best = min(best, clock.perf_counter() - t0)
    assert best < 0.05
