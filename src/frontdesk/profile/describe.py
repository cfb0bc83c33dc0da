"""Opening hours as one sentence the agent can say out loud.

Text-to-speech reads "08:00-17:00" badly, so times become "8 AM" / "5:30 PM" and runs of
weekdays with the same hours collapse to "Monday to Friday".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import time

__all__ = ["describe_hours", "speak_time"]

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Intervals = Sequence[tuple[time, time]]


def speak_time(t: time) -> str:
    """``time(17, 30)`` -> ``"5:30 PM"``; whole hours drop the minutes."""
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _days(first: int, last: int) -> str:
    if first == last:
        return _DAY_NAMES[first]
    if last == first + 1:
        return f"{_DAY_NAMES[first]} and {_DAY_NAMES[last]}"
    return f"{_DAY_NAMES[first]} to {_DAY_NAMES[last]}"


def _runs(keys: Sequence[tuple[tuple[time, time], ...]]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive weekdays (Monday first) with identical hours."""
    runs: list[tuple[int, int]] = []
    start = 0
    for day in range(1, 8):
        if day == 7 or keys[day] != keys[start]:
            runs.append((start, day - 1))
            start = day
    return runs


def describe_hours(intervals_for: Callable[[int], Intervals]) -> str:
    """Describe the week given ``intervals_for(weekday)`` (0 = Monday)."""
    keys = [tuple(intervals_for(day)) for day in range(7)]
    open_parts: list[str] = []
    closed_parts: list[str] = []
    for first, last in _runs(keys):
        hours = keys[first]
        if not hours:
            closed_parts.append(_days(first, last))
            continue
        spans = _join([f"{speak_time(a)} to {speak_time(b)}" for a, b in hours])
        open_parts.append(f"{_days(first, last)} {spans}")
    if not open_parts:
        return "We don't have regular opening hours."
    # Split shifts already say "and" inside a group; a comma keeps the groups apart.
    split_shift = any(len(hours) > 1 for hours in keys)
    sentence = "We're open " + (", ".join(open_parts) if split_shift else _join(open_parts))
    if closed_parts:
        sentence += "; closed " + _join(closed_parts)
    return sentence + "."
