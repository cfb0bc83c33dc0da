"""Frozen records the store hands out, so callers never hold ORM objects or sessions.

All datetimes are aware UTC; convert to the business zone at the edge that speaks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

__all__ = [
    "BOOKING_CANCELLED",
    "BOOKING_CONFIRMED",
    "BookingRecord",
    "CallRecord",
    "MessageRecord",
    "StoredTurn",
    "TurnRecord",
]

BOOKING_CONFIRMED: Final = "confirmed"
BOOKING_CANCELLED: Final = "cancelled"


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    business_id: str
    from_number: str
    to_number: str
    started_at: datetime
    ended_at: datetime | None
    status: str  # "active", "completed", "failed", ...
    outcome: str | None  # "booked", "message", "transferred", "none", ...


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One exchange as the call engine saw it; the input to ``BusinessStore.add_turn``.

    ``agent_text`` is what the agent planned to say, ``agent_text_played`` what the caller
    actually heard before any barge-in; the difference matters for "never lie".
    """

    index: int
    caller_text: str
    agent_text: str
    agent_text_played: str
    interrupted: bool = False
    caller_confidence: float | None = None
    spans: dict[str, float] = field(default_factory=dict)  # stage -> milliseconds
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class StoredTurn:
    id: str
    call_id: str
    business_id: str
    created_at: datetime
    index: int
    caller_text: str
    agent_text: str
    agent_text_played: str
    interrupted: bool
    caller_confidence: float | None
    spans: dict[str, float]
    latency_ms: float | None


@dataclass(frozen=True, slots=True)
class BookingRecord:
    id: str
    business_id: str
    call_id: str | None
    service_id: str
    resource_id: str
    start_at: datetime
    end_at: datetime
    customer_name: str
    customer_phone: str | None
    status: str  # BOOKING_CONFIRMED or BOOKING_CANCELLED
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    business_id: str
    call_id: str | None
    caller_name: str | None
    caller_phone: str | None
    text: str
    created_at: datetime
