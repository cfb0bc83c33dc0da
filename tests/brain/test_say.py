"""Spoken forms of days, times and prices (what TTS reads verbatim)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from frontdesk.brain.say import (
    ordinal,
    say_day,
    say_list,
    say_on,
    say_price,
    say_starts,
    say_time,
    say_when,
    sentence,
)

CHICAGO = ZoneInfo("America/Chicago")
WEDNESDAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("n", "spoken"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (31, "31st"), (111, "111th")],
)
def test_ordinal(n: int, spoken: str) -> None:
    assert ordinal(n) == spoken


@pytest.mark.parametrize(
    ("t", "spoken"),
    [(time(12, 0), "noon"), (time(15, 0), "3 PM"), (time(15, 30), "3:30 PM"),
     (time(12, 15), "12:15 PM"), (time(9, 0), "9 AM"), (time(9, 5), "9:05 AM"),
     (time(0, 0), "midnight"), (time(0, 30), "12:30 AM")],
)
def test_say_time(t: time, spoken: str) -> None:
    assert say_time(t) == spoken


def test_say_day_relative_and_weekday_forms() -> None:
    assert say_day(WEDNESDAY, WEDNESDAY) == "today"
    assert say_day(date(2026, 11, 26), WEDNESDAY) == "tomorrow"
    assert say_day(date(2026, 11, 27), WEDNESDAY) == "Friday, November 27th"
    assert say_day(date(2026, 12, 2), WEDNESDAY) == "Wednesday, December 2nd"
    assert say_day(date(2027, 1, 1), WEDNESDAY) == "Friday, January 1st, 2027"


def test_say_on_never_puts_on_before_a_relative_day() -> None:
    assert say_on(WEDNESDAY, WEDNESDAY) == "today"
    assert say_on(date(2026, 11, 26), WEDNESDAY) == "tomorrow"
    assert say_on(date(2026, 11, 29), WEDNESDAY) == "on Sunday, November 29th"


def test_say_when() -> None:
    start = datetime(2026, 11, 26, 15, 0, tzinfo=CHICAGO)
    assert say_when(start, WEDNESDAY) == "tomorrow at 3 PM"


def test_say_starts_names_each_day_once() -> None:
    starts = [datetime(2026, 11, 26, h, m, tzinfo=CHICAGO) for h, m in ((14, 45), (15, 0))]
    starts.append(datetime(2026, 11, 27, 9, 0, tzinfo=CHICAGO))
    assert say_starts(starts, WEDNESDAY) == (
        "tomorrow at 2:45 PM or 3 PM, or Friday, November 27th at 9 AM"
    )
    assert say_starts(starts[:1], WEDNESDAY) == "tomorrow at 2:45 PM"


@pytest.mark.parametrize(
    ("price", "spoken"),
    [("49.95", "49 dollars and 95 cents"), ("89", "89 dollars"),
     ("25.50", "25 dollars and 50 cents"), ("1", "1 dollar"),
     ("1.01", "1 dollar and 1 cent"), ("0.50", "50 cents"), ("0", "0 dollars"),
     ("19.999", "20 dollars")],
)
def test_say_price(price: str, spoken: str) -> None:
    assert say_price(Decimal(price)) == spoken


def test_say_list_and_sentence() -> None:
    assert say_list([]) == ""
    assert say_list(["a"]) == "a"
    assert say_list(["a", "b"]) == "a or b"
    assert say_list(["a", "b", "c"], "and") == "a, b, and c"
    assert sentence("monday, November 2nd") == "Monday, November 2nd"
