"""What a brain receives each turn and what it hands back to the Call.

A brain streams :data:`BrainOutput` items: text (any granularity; the Call cuts phrases),
facts it has already made durable (a booking, a message), and control (transfer, hang up,
stop recording).
Facts are yielded only after the store committed them, so the Call can speak about them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CallerTurn:
    text: str
    confidence: float
    dtmf: str | None = None
    no_input: bool = False


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Booked:
    booking_id: str
    service_id: str
    start: datetime
    customer_name: str


@dataclass(frozen=True)
class MessageSaved:
    message_id: str
    caller_name: str | None
    text: str


@dataclass(frozen=True)
class Transfer:
    number: str
    summary: str | None = None  # a warm transfer: what the person hears before the caller


@dataclass(frozen=True)
class Hangup:
    """End the call once what was said so far has been played."""


@dataclass(frozen=True)
class StopRecording:
    """The caller asked not to be recorded: stop at once, before anything else is said.

    Yielded ahead of the acknowledgement, so the recording has stopped (and its file is
    gone) by the time the caller hears "this call won't be recorded"."""


@dataclass(frozen=True)
class Escalated:
    """The escalation policy decided this turn (already in the call's audit log)."""

    category: str
    action: str
    rule: str


BrainOutput = Text | Booked | MessageSaved | Transfer | Hangup | StopRecording | Escalated


class Brain(Protocol):
    def greet(self) -> AsyncGenerator[BrainOutput, None]: ...

    def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]: ...

    def heard(self, played_text: str, interrupted: bool) -> None:
        """What the caller actually heard of the last reply (barge-in truncates it)."""
        ...
