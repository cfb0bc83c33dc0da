"""Pure helpers of the receptionist dialogue: its state record and the small judgements
about one utterance that the NLU does not make (which offer was picked, whether a
service we don't do was asked for, where a name hides in a longer message).

Nothing here touches the store or the clock; ``receptionist`` does the I/O.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from frontdesk.actions.calendar import Slot
from frontdesk.brain.nlu import When, extract_name
from frontdesk.brain.say import say_on, say_time, say_when, sentence
from frontdesk.profile import Profile, Service
from frontdesk.store import BookingRecord

__all__ = [
    "Dialogue",
    "article",
    "asks_other_service",
    "find_name",
    "is_filler",
    "pick",
    "said_bye",
    "why_not",
]


class Task(enum.Enum):
    """What the caller is doing with us."""

    BOOKING = "booking"
    MESSAGE = "message"
    CANCEL = "cancel"


class Ask(enum.Enum):
    """What the agent's last question asked for; the next answer is read in its light."""

    SERVICE = "service"
    WHEN = "when"
    CHOICE = "choice"
    NAME = "name"
    CONFIRM = "confirm"
    CONFIRM_CANCEL = "confirm_cancel"
    MESSAGE = "message"
    ANYTHING_ELSE = "anything_else"
    RESUME = "resume"  # "Welcome back ... Shall I go ahead?"


@dataclass
class Dialogue:
    """What the conversation knows so far; a later issue snapshots this per turn."""

    task: Task | None = None
    service_id: str | None = None
    when: When | None = None
    offers: list[Slot] = field(default_factory=list)  # in the order they were spoken
    chosen: Slot | None = None
    name: str | None = None
    name_is_new: bool = False  # thank the caller by name once, not on every re-prompt
    # The day the conversation is about, so a bare "3:30" after offers for Monday means
    # Monday, not today.
    day: date | None = None
    expecting: Ask | None = None  # what the agent's last question asked for
    booking_id: str | None = None
    target: BookingRecord | None = None  # the booking to cancel, once found
    replacing: BookingRecord | None = None  # the booking a new one replaces (reschedule)
    misses: int = 0
    no_inputs: int = 0


def article(name: str) -> str:
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


_BYE = re.compile(r"\b(?:bye|goodbye|good bye|see (?:ya|you))\b")


def said_bye(text: str) -> bool:
    """An explicit farewell, as opposed to a soft "no thanks" that may just decline."""
    return bool(_BYE.search(text.lower()))


_FILLER_WORDS = frozenset({"uh", "um", "umm", "uhh", "er", "erm", "ah", "hmm", "mm", "so",
                           "well", "like", "oh", "okay", "ok"})


def is_filler(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return all(w in _FILLER_WORDS for w in words)


# "I need a haircut": the caller named a thing to book that matched none of our services.
_WANTS = re.compile(
    r"\b(?:need|want|like|get|book|schedule|looking for|do you do|do you offer)\s+"
    r"(?:a|an|my|some|the|to get an?|to book an?)\s+([a-z]+)"
)
_GENERIC = frozenset({
    "appointment", "appt", "time", "slot", "booking", "spot", "service", "opening", "visit",
    "day", "car", "vehicle", "truck", "van", "suv", "quote", "estimate", "person", "human",
    "message", "call", "price", "minute", "second", "moment", "new", "few", "couple",
})  # fmt: skip


def asks_other_service(text: str) -> bool:
    return any(m[1] not in _GENERIC for m in _WANTS.finditer(text.lower()))


_CLAUSE = re.compile(r"[.,;!?]+\s*|\s+(?:and|but)\s+")


def find_name(text: str, *, expecting: bool, bare_first_clause: bool = False) -> str | None:
    """``extract_name`` on the whole text, then clause by clause.

    Works around an NLU slip: "call me back" reads as the introduction "call me <name>",
    and a failed strong introduction hides a good weak one in the same text ("This is Tom
    Baker, please call me back"). ``bare_first_clause`` also accepts a bare name as the
    first clause ("Tom Baker. Please call me back"), which fits a message prompt that
    asked for the name first.
    """
    name = extract_name(text, expecting=expecting)
    if name is not None:
        return name
    clauses = [c for c in _CLAUSE.split(text) if c.strip()]
    for index, clause in enumerate(clauses):
        name = extract_name(clause, expecting=expecting or (bare_first_clause and index == 0))
        if name is not None:
            return name
    return None


_POSITION = re.compile(
    r"\b(first|1st|second|2nd|third|3rd|last|earliest|earlier|latest|later)\b"
    r"(?!\s+(?:thing|of|week|available))"
)
_INDEX = {"first": 0, "1st": 0, "earliest": 0, "earlier": 0, "second": 1, "2nd": 1,
          "third": 2, "3rd": 2, "last": -1, "latest": -1, "later": -1}
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\b")


def pick(offers: list[Slot], text: str, when: When | None, yes: bool | None) -> Slot | None:
    """Which of the offered slots (in spoken order) the caller chose: by position ("the
    second one"), by time ("3:30"), or by a plain yes when only one was offered."""
    lowered = text.lower()
    position = _POSITION.search(lowered)
    if position is not None:
        index = _INDEX[position[1]]
        if index < len(offers):
            return offers[index]
    if when is not None and (when.time is not None or when.day is not None):
        for slot in offers:
            if (when.time is None or slot.start.time() == when.time) and (
                when.day is None or slot.start.date() == when.day
            ):
                return slot
        return None
    if when is None:
        # The NLU misses some clock forms ("the 3:30 one"); match them against the offers.
        for m in _CLOCK.finditer(lowered):
            hour, minute = int(m[1]), int(m[2] or 0)
            hits = [s for s in offers
                    if s.start.hour % 12 == hour % 12 and s.start.minute == minute]
            if len(hits) == 1:
                return hits[0]
    if yes is True and len(offers) == 1:
        return offers[0]
    return None


def why_not(profile: Profile, service: Service, when: When, day: date | None,
            today: date) -> str:
    """The sentence that leads alternatives: why what the caller named is not on offer."""
    if day is None:
        return f"I don't have {say_time(when.time)} free. " if when.time else ""
    holiday = profile.holiday(day)
    if holiday is not None:
        return f"We're closed {say_on(day, today)} for {holiday.name or 'a holiday'}. "
    intervals = profile.opening_intervals(day)
    if not intervals:
        return f"We're closed {say_on(day, today)}. "
    if when.time is None:
        return ""
    at = datetime.combine(day, when.time, profile.tz)
    around = [(opens, closes) for opens, closes in intervals if opens <= at < closes]
    if not around:
        return f"We're not open at {say_time(when.time)} {say_on(day, today)}. "
    if at + timedelta(minutes=service.duration_minutes) > around[0][1]:
        return (f"{sentence(article(service.name))} at {say_time(when.time)} would run past "
                "closing. ")
    return f"I don't have {say_when(at, today)} free. "
