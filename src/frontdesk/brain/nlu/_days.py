"""Calendar-day expressions, over text already passed through ``normalize``.

Rules (the reasons are in ``when``'s docstring): explicit dates ("December 3rd", "12/3",
"the 14th") outrank relative ones ("tomorrow", "Thursday"); within a rank the first
mention wins. Only explicit month-day dates can land in the past.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

MONTHS: dict[str, int] = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS: dict[str, int] = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WD = "|".join(WEEKDAYS)
_ORD = r"(\d{1,2})(?:st|nd|rd|th)"
_YEAR = r"(?:\s(20\d{2})\b)?"
# Nouns after "the 2nd"/"the first" that make it a rank, not a day of the month.
_NOT_A_DATE = (
    r"available|availability|time|times|one|ones|thing|appointment|slot|opening|option|"
    r"choice|step|visit|floor|car|vehicle|week|weekend|person|guy|lady|number|line|street|"
    r"month|year|day|half|quarter|shift|call|place|spot|tire|tires"
)
# How far back an explicit month-day may be before we assume next year's date was meant.
PAST_GRACE = dt.timedelta(days=30)


@dataclass(frozen=True)
class DayHit:
    """One day expression found in the text; ``day`` is None when it named no valid date
    (e.g. "February 30th") but its span must still not be read as a time."""

    start: int
    end: int
    day: dt.date | None
    explicit: bool


def _month_day(month: int, day: int, year: str | None, today: dt.date) -> dt.date | None:
    """A month-day without a year is this year's, unless that is more than
    :data:`PAST_GRACE` ago, in which case next year's is meant."""
    try:
        if year is not None:
            return dt.date(int(year), month, day)
        d = dt.date(today.year, month, day)
        if d < today - PAST_GRACE:
            d = dt.date(today.year + 1, month, day)
        return d
    except ValueError:
        return None


def _day_of_month(day: int, today: dt.date) -> dt.date | None:
    """The 14th (say) is the next such date on or after today: this month if not passed,
    else the first following month that has that day (the 31st skips short months)."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            d = dt.date(year, month, day)
        except ValueError:
            d = None
        if d is not None and d >= today:
            return d
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _weekday(today: dt.date, weekday: int, include_today: bool) -> dt.date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + dt.timedelta(days=ahead)


def _next_week(today: dt.date, weekday: int = 0) -> dt.date:
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7 + weekday)


_COUNTS = {"a": 1, "an": 1, "a couple": 2, "a couple of": 2, "a few": 3}

Rule = tuple[re.Pattern[str], bool, Callable[[re.Match[str], dt.date], dt.date | None]]


def _rule(
    pattern: str, explicit: bool
) -> Callable[[Callable[[re.Match[str], dt.date], dt.date | None]], Rule]:
    def wrap(fn: Callable[[re.Match[str], dt.date], dt.date | None]) -> Rule:
        return re.compile(pattern), explicit, fn

    return wrap


@_rule(rf"\b({_MONTH})\s(?:the\s)?(\d{{1,2}})(?:st|nd|rd|th)?(?![\d:/]){_YEAR}", True)
def _month_first(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _month_day(MONTHS[m[1]], int(m[2]), m[3], today)


@_rule(rf"\b(?:the\s)?(\d{{1,2}})(?:(?:st|nd|rd|th)\s(of\s)?|\s(of\s))({_MONTH})\b{_YEAR}", True)
def _day_first(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _month_day(MONTHS[m[4]], int(m[1]), m[5], today)


@_rule(r"(?<![\d/:])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/:])", True)
def _numeric(m: re.Match[str], today: dt.date) -> dt.date | None:
    year = m[3] if m[3] is None or len(m[3]) == 4 else f"20{m[3]}"
    return _month_day(int(m[1]), int(m[2]), year, today)


@_rule(rf"\b(?:(?:the|on)\s|(?:{_WD})\s(?:the\s)?){_ORD}\b(?!\s(?:{_NOT_A_DATE})\b)", True)
def _nth(m: re.Match[str], today: dt.date) -> dt.date | None:
    n = int(m[1])
    return _day_of_month(n, today) if 1 <= n <= 31 else None


@_rule(r"\bday\safter\stomorrow\b", False)
def _overmorrow(m: re.Match[str], today: dt.date) -> dt.date | None:
    return today + dt.timedelta(days=2)


@_rule(r"\btomorrow\b", False)
def _tomorrow(m: re.Match[str], today: dt.date) -> dt.date | None:
    return today + dt.timedelta(days=1)


@_rule(r"\b(?:today|tonight|this\s(?:morning|afternoon|evening))\b", False)
def _today(m: re.Match[str], today: dt.date) -> dt.date | None:
    return today


@_rule(r"\bin\s(\d{1,2}|an?|a\scouple(?:\sof)?|a\sfew)\s(days?|weeks?)\b", False)
def _in_n(m: re.Match[str], today: dt.date) -> dt.date | None:
    n = int(m[1]) if m[1].isdigit() else _COUNTS[m[1]]
    return today + dt.timedelta(days=n * (7 if m[2].startswith("week") else 1))


@_rule(rf"\b(?:next|the\sfollowing)\sweek\s(?:on\s)?({_WD})s?\b", False)
def _next_week_wd(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _next_week(today, WEEKDAYS[m[1]])


@_rule(rf"\b({_WD})s?\s(?:of\s)?(?:next|the\sfollowing)\sweek\b", False)
def _wd_next_week(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _next_week(today, WEEKDAYS[m[1]])


@_rule(r"\b(?:next|the\sfollowing)\sweek\b", False)
def _next_week_bare(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _next_week(today)


@_rule(rf"\blast\s(?:{_WD}|week)\b", False)
def _last(m: re.Match[str], today: dt.date) -> dt.date | None:
    return None  # a past relative day is never a booking request; claim it, resolve nothing


@_rule(rf"\b(?:(this|next|coming|the\scoming|this\scoming|on)\s)?({_WD})s?\b", False)
def _weekday_rule(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _weekday(today, WEEKDAYS[m[2]], include_today=m[1] == "this")


@_rule(r"\b(?:this\s|next\s|the\s)?weekend\b", False)
def _weekend(m: re.Match[str], today: dt.date) -> dt.date | None:
    if today.weekday() == 6:
        return today
    return _weekday(today, 5, include_today=True)


RULES: tuple[Rule, ...] = (
    _month_first, _day_first, _numeric, _nth, _overmorrow, _tomorrow, _today, _in_n,
    _next_week_wd, _wd_next_week, _next_week_bare, _last, _weekday_rule, _weekend,
)  # fmt: skip


def find_days(s: str, today: dt.date) -> list[DayHit]:
    """Every day expression in ``s``, non-overlapping, earlier rules claiming first."""
    hits: list[DayHit] = []
    for pattern, explicit, resolve in RULES:
        for m in _matches(pattern, s, hits):
            if pattern is _day_first[0] and m[4] == "may" and not (m[2] or m[3]):
                continue  # "the 3rd may work": "may" is only a month after "of"
            hits.append(DayHit(m.start(), m.end(), resolve(m, today), explicit))
    return sorted(hits, key=lambda h: h.start)


def _matches(pattern: re.Pattern[str], s: str, taken: list[DayHit]) -> Iterator[re.Match[str]]:
    for m in pattern.finditer(s):
        if not any(m.start() < h.end and h.start < m.end() for h in taken):
            yield m


def best_day(hits: list[DayHit]) -> DayHit | None:
    """Explicit dates outrank relative days; otherwise the first mention wins."""
    resolved = [h for h in hits if h.day is not None]
    explicit = [h for h in resolved if h.explicit]
    ranked = explicit or resolved
    return ranked[0] if ranked else None
