"""Shared constants and helpers for the calendar tests (a unique module name on purpose:
test directories have no ``__init__.py``, so a second ``conftest`` import would clash)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from frontdesk.actions.calendar import Calendar, Slot
from frontdesk.profile import Profile

CHICAGO = ZoneInfo("America/Chicago")
# Monday 30 November 2026, 07:00 in Chicago: before opening, far from holidays and DST.
MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)

ProfileFactory = Callable[..., Profile]


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CHICAGO)


def book(calendar: Calendar, service: str, start: datetime, name: str = "Ann") -> Slot:
    slot = calendar.check(service, start, NOW)
    calendar.book(slot, customer_name=name, customer_phone=None, call_id=None, now=NOW)
    return slot


def starts(slots: list[Slot]) -> list[str]:
    return [f"{s.start:%a %H:%M}" for s in slots]
