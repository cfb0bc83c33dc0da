"""How days, times and prices are spoken. Pure functions; the text goes to TTS as is."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def say_day(day: date, today: date) -> str:
    if day == today:
        return "today"
    if (day - today).days == 1:
        return "tomorrow"
    return f"{day:%A}, {day:%B} {ordinal(day.day)}"


def say_time(t: time) -> str:
    if t.hour == 12 and t.minute == 0:
        return "noon"
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def say_when(start: datetime, today: date) -> str:
    return f"{say_day(start.date(), today)} at {say_time(start.time())}"


def say_price(price: Decimal) -> str:
    dollars = int(price)
    cents = int((price - dollars) * 100)
    if cents == 0:
        return f"{dollars} dollars"
    return f"{dollars} dollars and {cents} cents"


def say_list(items: list[str], conjunction: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f", {conjunction} " + items[-1]
