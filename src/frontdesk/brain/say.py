"""How days, times and prices are spoken. Pure functions; the text goes to TTS as is.

Relative days ("today", "tomorrow") take no preposition while dated ones do ("on
Friday, November 27th"), so phrases that need one use :func:`say_on` rather than
prefixing "on" themselves: "closed on tomorrow" is the classic slip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def say_day(day: date, today: date) -> str:
    """ "today", "tomorrow", else "Friday, November 27th" (plus the year if not this one)."""
    if day == today:
        return "today"
    if (day - today).days == 1:
        return "tomorrow"
    spoken = f"{day:%A}, {day:%B} {ordinal(day.day)}"
    return spoken if day.year == today.year else f"{spoken}, {day.year}"


def say_on(day: date, today: date) -> str:
    """:func:`say_day` as an adverbial: "tomorrow" but "on Friday, November 27th"."""
    spoken = say_day(day, today)
    return spoken if spoken in ("today", "tomorrow") else f"on {spoken}"


def say_time(t: time) -> str:
    if t.minute == 0 and t.hour in (0, 12):
        return "noon" if t.hour == 12 else "midnight"
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def say_when(start: datetime, today: date) -> str:
    return f"{say_day(start.date(), today)} at {say_time(start.time())}"


def say_starts(starts: Sequence[datetime], today: date, conjunction: str = "or") -> str:
    """Several start times in the given order, naming each day once:
    "tomorrow at 2:45 PM, 3 PM, or 3:15 PM, or Friday, November 27th at 9 AM"."""
    groups: list[tuple[date, list[str]]] = []
    for start in starts:
        if groups and groups[-1][0] == start.date():
            groups[-1][1].append(say_time(start.time()))
        else:
            groups.append((start.date(), [say_time(start.time())]))
    phrases = [f"{say_day(day, today)} at {say_list(times, conjunction)}" for day, times in groups]
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + f", {conjunction} " + phrases[-1]


def say_price(price: Decimal) -> str:
    cents_total = int(price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)
    dollars, cents = divmod(cents_total, 100)
    parts = []
    if dollars or not cents:
        parts.append(f"{dollars} dollar" + ("" if dollars == 1 else "s"))
    if cents:
        parts.append(f"{cents} cent" + ("" if cents == 1 else "s"))
    return " and ".join(parts)


def say_list(items: Sequence[str], conjunction: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return ", ".join(items[:-1]) + f", {conjunction} " + items[-1]


def sentence(text: str) -> str:
    """Capitalise the first letter only; ``str.capitalize`` would lowercase "November"."""
    return text[:1].upper() + text[1:]
