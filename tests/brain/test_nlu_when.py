"""parse_when against a fixed clock: Wednesday 2026-11-25 10:15 in Chicago."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from frontdesk.brain.nlu import When, parse_when

NOW = dt.datetime(2026, 11, 25, 10, 15, tzinfo=ZoneInfo("America/Chicago"))
TODAY = dt.date(2026, 11, 25)
THU = dt.date(2026, 11, 26)
FRI = dt.date(2026, 11, 27)


def d(month: int, day: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


def t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


# text, day, time, earliest, latest
CASES: list[tuple[str, dt.date | None, dt.time | None, dt.time | None, dt.time | None]] = [
    # exact times with a day
    ("Thursday at 3.", THU, t(15), None, None),
    ("thursday at three", THU, t(15), None, None),
    ("Uh, yeah, Thursday at 3 p.m.", THU, t(15), None, None),
    ("Thursday 3", THU, t(15), None, None),
    ("3 on Friday", FRI, t(15), None, None),
    ("can I get in at 3:30 tomorrow", THU, t(15, 30), None, None),
    ("Saturday at 12:30", d(11, 28), t(12, 30), None, None),
    ("tomorrow at 10 am", THU, t(10), None, None),
    ("tonight at 7", TODAY, t(19), None, None),
    ("Friday afternoon at 3", FRI, t(15), None, None),
    ("Friday at 9", FRI, t(9), None, None),
    ("the 5th at 2", d(12, 5), t(14), None, None),
    ("At quarter to four on the 3rd.", d(12, 3), t(15, 45), None, None),
    ("3 p.m. on December 3rd 2027", d(12, 3, 2027), t(15), None, None),
    ("the day after tomorrow at ten past ten", FRI, t(10, 10), None, None),
    # bare answers to "what time?"
    ("3", None, t(15), None, None),
    ("Three.", None, t(15), None, None),
    ("three thirty", None, t(15, 30), None, None),
    ("3.30", None, t(15, 30), None, None),
    ("half past two", None, t(14, 30), None, None),
    ("quarter past 10", None, t(10, 15), None, None),
    ("quarter to four", None, t(15, 45), None, None),
    ("quarter after 3", None, t(15, 15), None, None),
    ("twenty five past three", None, t(15, 25), None, None),
    ("twelve thirty", None, t(12, 30), None, None),
    ("Noon.", None, t(12), None, None),
    ("midday", None, t(12), None, None),
    ("3pm", None, t(15), None, None),
    ("15:00", None, t(15), None, None),
    ("10 in the morning", None, t(10), None, None),
    ("2 in the afternoon", None, t(14), None, None),
    ("around 2", None, t(14), None, None),
    ("3ish", None, t(15), None, None),
    ("three o'clock", None, t(15), None, None),
    ("seven", None, t(7), None, None),
    ("uh how about eleven", None, t(11), None, None),
    ("5:30 in the evening", None, t(17, 30), None, None),
    # part-of-day windows and bounds
    ("tomorrow morning", THU, None, t(8), t(12)),
    ("first thing tomorrow", THU, None, t(7), t(9)),
    ("early morning", None, None, t(7), t(9)),
    ("late morning", None, None, t(10), t(12)),
    ("after lunch", None, None, t(13), None),
    ("Thursday afternoon", THU, None, t(12), t(17)),
    ("late afternoon on Friday", FRI, None, t(15), t(17)),
    ("this evening", TODAY, None, t(17), None),
    ("before noon", None, None, None, t(12)),
    ("before 11", None, None, None, t(11)),
    ("after 3", None, None, t(15), None),
    ("end of the day", None, None, t(15), None),
    ("lunchtime", None, None, t(12), t(13)),
    ("tomorrow morning before 10", THU, None, t(8), t(10)),
    ("between 2 and 4", None, None, t(14), t(16)),
    ("sometime Friday between 10 and 2", FRI, None, t(10), t(14)),
    # days
    ("today", TODAY, None, None, None),
    ("tomorrow", THU, None, None, None),
    ("day after tomorrow", FRI, None, None, None),
    ("Wednesday", d(12, 2), None, None, None),
    ("this Wednesday", TODAY, None, None, None),
    ("next Thursday", THU, None, None, None),
    ("next week", d(11, 30), None, None, None),
    ("next week Tuesday", d(12, 1), None, None, None),
    ("in two days", FRI, None, None, None),
    ("in 3 days", d(11, 28), None, None, None),
    ("in a week", d(12, 2), None, None, None),
    ("this weekend", d(11, 28), None, None, None),
    ("the 14th", d(12, 14), None, None, None),
    ("the fourteenth", d(12, 14), None, None, None),
    ("the 3rd", d(12, 3), None, None, None),
    ("the twenty fifth", TODAY, None, None, None),
    ("on the 30th", d(11, 30), None, None, None),
    ("the 31st", d(12, 31), None, None, None),
    ("December 3rd", d(12, 3), None, None, None),
    ("Dec 3", d(12, 3), None, None, None),
    ("3rd of December", d(12, 3), None, None, None),
    ("12/3", d(12, 3), None, None, None),
    ("Monday the 14th", d(12, 14), None, None, None),
    ("Friday the 13th", d(12, 13), None, None, None),
    ("November 2nd", d(11, 2), None, None, None),
    ("January 5th", d(1, 5, 2027), None, None, None),
    ("October 20th", d(10, 20, 2027), None, None, None),
    ("the 3rd may work", d(12, 3), None, None, None),
    ("what about thursday or friday", THU, None, None, None),
]

NEGATIVES = [
    "I need 2 tires",
    "my 2015 Honda",
    "call me at 555 0123",
    "call me back at 512 555 0100",
    "is it $49",
    "I have 2 cars",
    "I'm calling about 2 things",
    "the first available",
    "on the 2nd floor",
    "yeah that works",
    "my number is 5 5 5 0 1 2 3",
    "",
]


@pytest.mark.parametrize(("text", "day", "time", "earliest", "latest"), CASES)
def test_parse_when(
    text: str,
    day: dt.date | None,
    time: dt.time | None,
    earliest: dt.time | None,
    latest: dt.time | None,
) -> None:
    got = parse_when(text, NOW)
    assert got is not None
    assert (got.day, got.time, got.earliest, got.latest) == (day, time, earliest, latest)


@pytest.mark.parametrize("text", NEGATIVES)
def test_nothing_date_like(text: str) -> None:
    assert parse_when(text, NOW) is None


@pytest.mark.parametrize(
    ("text", "time"),
    [("4 tires at 3", t(15)), ("I need 2 tires, Thursday at 9", t(9))],
)
def test_quantities_are_not_times(text: str, time: dt.time) -> None:
    got = parse_when(text, NOW)
    assert got is not None
    assert got.time == time


def test_month_rollover_for_a_passed_day_of_month() -> None:
    """On December 28th "the 3rd" is next year's January 3rd."""
    late = dt.datetime(2026, 12, 28, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    got = parse_when("the 3rd", late)
    assert got is not None
    assert got.day == dt.date(2027, 1, 3)


def test_phrase_is_the_understood_span() -> None:
    assert parse_when("Uh, yeah, Thursday at 3 p.m. if that works", NOW) == When(
        day=THU, time=t(15), earliest=None, latest=None, phrase="thursday at 3 pm"
    )
