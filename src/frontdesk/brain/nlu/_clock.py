"""Clock times and part-of-day windows, over text already passed through ``normalize``.

A bare number is only a time when something says so (see :data:`CUED`, :data:`SELF_CUED`
and the adjacency/whole-utterance rules in ``when``); this module supplies the pieces:
the regex for one time expression, its interpretation, and the window table.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

Meridiem = Literal["am", "pm"]

# Words after a number that make it a quantity, not a clock time ("2 tires", "30 dollars").
_UNITS = (
    r"dollars?|bucks|cents?|percent|miles?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?"
    r"|years?|tires?|cars?|trucks?|vehicles?|people|persons?|times|quarts?|of|money|k"
)

# One time expression. No capture groups so it can be embedded several times; the matched
# text is re-parsed by :func:`parse_clock`. Guards: not part of a longer digit run (phone
# numbers, "2015"), not followed by another number or by a unit word.
TIME = (
    r"(?<![\d:/])(?<!\d\s)\b"
    r"(?:(?:12\s)?(?:noon|midday)"
    r"|(?:quarter|half|5|10|20|25)\s(?:minutes\s)?(?:past|after)\s\d{1,2}"
    r"|quarter\s(?:to|till|til|of)\s\d{1,2}"
    r"|\d{1,2}(?::\d{2}|\s[0-5]\d)?(?:\s(?:am|pm))?(?:\soclock)?)"
    rf"(?![\d:/])(?!\s\d)(?!\s(?:{_UNITS})\b)"
)
TIME_RE = re.compile(TIME)

# A time written so that it cannot be anything else.
SELF_CUED = re.compile(r":|\b(?:am|pm|oclock|noon|midday|quarter|half|past)\b")

# Suffixes that both cue a number as a time and fix its half of the day.
SUFFIX_HINT = re.compile(
    r"\s(?:in\sthe\s(?P<am>morning)|in\sthe\s(?P<pm>afternoon|evening)|(?P<pm2>at\snight|tonight))"
)

_CLOCK = re.compile(
    r"(?:(?P<twelve>12\s)?(?P<noon>noon|midday))"
    r"|(?P<qh>quarter|half|5|10|20|25)\s(?:minutes\s)?(?:past|after)\s(?P<h1>\d{1,2})"
    r"|quarter\s(?:to|till|til|of)\s(?P<h2>\d{1,2})"
    r"|(?P<h>\d{1,2})(?::(?P<m>\d{2})|\s(?P<m2>\d{2}))?(?:\s(?P<ap>am|pm))?(?:\soclock)?"
)


def _hour24(hour: int, meridiem: Meridiem | None, hint: Meridiem | None) -> int | None:
    """Resolve a 1-12 hour. Explicit am/pm wins, then the part-of-day hint, then the
    receptionist default: 1-6 are afternoon, 7-11 morning, 12 noon (businesses are
    rarely open at 3 a.m. and rarely take 9 p.m. bookings)."""
    if not 1 <= hour <= 12:
        return None
    side = meridiem or hint
    if side == "am":
        return 0 if hour == 12 and meridiem == "am" else hour
    if side == "pm":
        return hour if hour == 12 else hour + 12
    return hour + 12 if hour <= 6 else hour


def parse_clock(text: str, hint: Meridiem | None = None) -> dt.time | None:
    """Interpret one :data:`TIME` match; None when it is not a valid clock time."""
    m = _CLOCK.fullmatch(text)
    if m is None:
        return None
    if m["noon"]:
        return dt.time(12, 0)
    if m["h1"]:
        hour = _hour24(int(m["h1"]), None, hint)
        minute = {"quarter": 15, "half": 30}.get(m["qh"]) or int(m["qh"])
        return None if hour is None else dt.time(hour, minute)
    if m["h2"]:
        hour = _hour24(int(m["h2"]), None, hint)
        return None if hour is None else dt.time((hour - 1) % 24, 45)
    hour_raw = int(m["h"])
    minute = int(m["m"] or m["m2"] or 0)
    if minute > 59:
        return None
    if m["m"] and m["ap"] is None and (hour_raw == 0 or 13 <= hour_raw <= 23):
        return dt.time(hour_raw, minute)  # 24-hour clock: "15:00", "0:30"
    ap: Meridiem | None = "am" if m["ap"] == "am" else "pm" if m["ap"] == "pm" else None
    hour = _hour24(hour_raw, ap, hint)
    return None if hour is None else dt.time(hour, minute)


def suffix_hint(after: str) -> Meridiem | None:
    """The half of the day fixed by "in the morning"/"in the afternoon"/"at night" when it
    directly follows a time; ``after`` is the text after the time."""
    m = SUFFIX_HINT.match(after)
    if m is None:
        return None
    return "am" if m["am"] else "pm"


@dataclass(frozen=True)
class Window:
    """A part-of-day range; either bound may be open (None)."""

    earliest: dt.time | None
    latest: dt.time | None

    @property
    def hint(self) -> Meridiem | None:
        """Which half of the day a bare hour said with this window belongs to."""
        if self.earliest is not None and self.earliest >= dt.time(12):
            return "pm"
        if self.latest is not None and self.latest <= dt.time(12):
            return "am"
        return None


def _w(lo: int | None, hi: int | None) -> Window:
    return Window(None if lo is None else dt.time(lo), None if hi is None else dt.time(hi))


# Longest phrases first: the first pattern that matches a span claims it.
WINDOWS: tuple[tuple[re.Pattern[str], Window], ...] = tuple(
    (re.compile(rf"\b(?:{pattern})\b"), window)
    for pattern, window in (
        (r"(?:first|1st)\sthing(?:\sin\sthe\smorning)?|early\s(?:in\sthe\s)?morning", _w(7, 9)),
        (r"late\s(?:in\sthe\s)?morning", _w(10, 12)),
        (r"early\s(?:in\sthe\s)?afternoon", _w(12, 14)),
        (r"late\s(?:in\sthe\s)?afternoon", _w(15, 17)),
        (r"after\slunch(?:\s?time)?", _w(13, None)),
        (r"before\slunch(?:\s?time)?", _w(None, 12)),
        (r"(?:the\s)?end\sof\s(?:the\s)?(?:day|business\sday)|close\sof\sbusiness", _w(15, None)),
        (r"lunch\s?time|(?:around|at|over|during)\slunch", _w(12, 13)),
        (r"morning", _w(8, 12)),
        (r"afternoon", _w(12, 17)),
        (r"evening|tonight|night", _w(17, None)),
    )
)

# "between 2 and 4", "from 9 to 11".
RANGE = re.compile(rf"\b(?:between|from)\s({TIME})\s(?:and|to|till|til|until)\s({TIME})")
# "after 3" opens a window at 3; "before 11", "by 5", "until 4" close one.
LOWER = re.compile(rf"\b(?:after|from|since)\s(?:like\s|about\s|around\s)?({TIME})")
UPPER = re.compile(rf"\b(?:before|by|until|till|til)\s(?:like\s|about\s|around\s)?({TIME})")
# Cue words that make the following number a time ("at 3", "around 2").
CUED = re.compile(rf"\b(?:at|around|round|approximately|say)\s(?:like\s|about\s|around\s)?({TIME})")
