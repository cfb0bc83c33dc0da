"""The closed union of everything a Call reports while it runs.

Transports turn these into wire messages (JSON control on the generic WebSocket, marks
and clears for carriers), the store persists the ones that matter, tests assert on them.
Subscribers register by type with :class:`EventBus`, never by string name.
"""

from __future__ import annotations

import enum
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from frontdesk.call.turns import TurnState


@dataclass(frozen=True)
class StateChanged:
    state: TurnState
    at: float


@dataclass(frozen=True)
class CallerTranscript:
    turn: int
    text: str
    confidence: float
    at: float


@dataclass(frozen=True)
class AgentPhraseStarted:
    """The first frame of this phrase has left for the caller."""

    turn: int
    text: str
    at: float


@dataclass(frozen=True)
class BargeIn:
    turn: int
    played_text: str
    at: float


@dataclass(frozen=True)
class AgentTurnDone:
    turn: int
    planned_text: str
    played_text: str
    interrupted: bool
    at: float


@dataclass(frozen=True)
class TurnMetrics:
    turn: int
    spans_ms: dict[str, float]
    latency_ms: float | None
    budget_ms: float
    at: float

    @property
    def over_budget(self) -> bool:
        return self.latency_ms is not None and self.latency_ms > self.budget_ms


@dataclass(frozen=True)
class BookingCommitted:
    booking_id: str
    service_id: str
    start_iso: str
    customer_name: str
    at: float


@dataclass(frozen=True)
class MessageTaken:
    message_id: str
    caller_name: str | None
    text: str
    at: float


@dataclass(frozen=True)
class TransferRequested:
    number: str
    at: float
    summary: str | None = None  # a warm transfer's words for the person who answers


@dataclass(frozen=True)
class EscalationDecided:
    """The escalation policy took this turn over (its audit is in the call's events)."""

    category: str
    action: str
    rule: str
    at: float


@dataclass(frozen=True)
class ClearAudio:
    """The transport must drop any agent audio it still buffers (barge-in)."""

    at: float


@dataclass(frozen=True)
class RecordingOptOut:
    """The caller asked not to be recorded (the brain's ``StopRecording``), in ``turn``."""

    turn: int
    at: float


@dataclass(frozen=True)
class RecordingDisclosed:
    """The caller heard the whole recording disclosure, in ``turn``'s reply."""

    turn: int
    at: float


@dataclass(frozen=True)
class RecordingStarted:
    """Audio from here on is written to ``path`` (after the disclosure, never before)."""

    path: str
    at: float


@dataclass(frozen=True)
class RecordingStopped:
    """No more audio is written. ``by_caller``: the caller opted out and the partial file
    was deleted; otherwise the call ended and the file was kept."""

    by_caller: bool
    at: float


class EndReason(enum.StrEnum):
    CALLER_HANGUP = "caller_hangup"
    AGENT_HANGUP = "agent_hangup"
    DROPPED = "dropped"  # the line broke: no hang-up from either side
    ERROR = "error"  # a bug or a failed dependency ended the call


class Outcome(enum.StrEnum):
    NONE = "none"
    BOOKED = "booked"
    MESSAGE = "message"
    TRANSFERRED = "transferred"


@dataclass(frozen=True)
class CallEnded:
    reason: EndReason
    outcome: Outcome
    at: float
    details: dict[str, Any] = field(default_factory=dict)


CallEvent = (
    StateChanged
    | CallerTranscript
    | AgentPhraseStarted
    | BargeIn
    | AgentTurnDone
    | TurnMetrics
    | BookingCommitted
    | MessageTaken
    | TransferRequested
    | EscalationDecided
    | ClearAudio
    | RecordingOptOut
    | RecordingDisclosed
    | RecordingStarted
    | RecordingStopped
    | CallEnded
)

E = TypeVar("E", bound=CallEvent)


class EventBus:
    """Synchronous fan-out by event type; handlers must be quick and must not raise.

    An event published by a handler (the recording tap answers ``AgentTurnDone`` with
    ``RecordingStarted``) is delivered once the current event has reached every handler,
    still before the outer ``publish`` returns, so every subscriber sees events in causal
    order.
    """

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)
        self._all: list[Callable[[CallEvent], None]] = []
        self._pending: deque[CallEvent] = deque()
        self._delivering = False

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[kind].append(handler)

    def subscribe_all(self, handler: Callable[[CallEvent], None]) -> None:
        self._all.append(handler)

    def publish(self, event: CallEvent) -> None:
        self._pending.append(event)
        if self._delivering:
            return  # a handler published: delivered after the current event
        self._delivering = True
        try:
            while self._pending:
                current = self._pending.popleft()
                for handler in self._handlers.get(type(current), ()):
                    handler(current)
                for any_handler in self._all:
                    any_handler(current)
        except BaseException:
            self._pending.clear()  # a handler raised (a bug): drop what it left behind
            raise
        finally:
            self._delivering = False
