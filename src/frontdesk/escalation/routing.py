"""Who can take a transfer right now: the on-call schedule, else the transfer numbers in
opening hours. Pure: the caller passes the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from frontdesk.profile import Profile
from frontdesk.profile.fields import WEEKDAYS

__all__ = ["Human", "reachable"]


@dataclass(frozen=True)
class Human:
    name: str
    number: str


def reachable(profile: Profile, now: datetime) -> Human | None:
    """The first person who takes calls at ``now`` (the business's local time decides), or
    None: nobody can, and an escalation becomes a message."""
    local = now.astimezone(profile.tz)
    day, clock = WEEKDAYS[local.weekday()], local.timetz().replace(tzinfo=None)
    opening = [(a.timetz().replace(tzinfo=None), b.timetz().replace(tzinfo=None))
               for a, b in profile.opening_intervals(local.date())]
    people = profile.escalation.on_call
    if not people:
        if any(start <= clock < end for start, end in opening):
            first = profile.transfer_numbers[0] if profile.transfer_numbers else None
            return None if first is None else Human(first.name, first.number)
        return None
    for person in people:
        if day not in person.days:
            continue
        hours = opening if person.hours is None else list(person.hours)
        if any(start <= clock < end for start, end in hours):
            return Human(person.name, person.number)
    return None
