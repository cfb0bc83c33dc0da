"""The closed union of everything a Call reports while it runs.

Transports turn these into wire messages (JSON control on the generic WebSocket, marks
and clears for carriers), the store persists the ones that matter, tests assert on them.
Subscribers register by type with :class:`EventBus`, never by string name.
"""

from __future__ import annotations

import enum
from collections import defaultdict
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


@dataclass(frozen=True)
class ClearAudio:
    """The transport must drop any agent audio it still buffers (barge-in)."""

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
    | ClearAudio
    | CallEnded
)

E = TypeVar("E", bound=CallEvent)


class EventBus:
    """Synchronous fan-out by event type; handlers must be quick and must not raise."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)
        self._all: list[Callable[[CallEvent], None]] = []

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[kind].append(handler)

    def subscribe_all(self, handler: Callable[[CallEvent], None]) -> None:
        self._all.append(handler)

    def publish(self, event: CallEvent) -> None:
        for handler in self._handlers.get(type(event), ()):
            handler(event)
        for any_handler in self._all:
            any_handler(event)
