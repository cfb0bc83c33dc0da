"""Frozen records the store hands out, so callers never hold ORM objects or sessions.

All datetimes are aware UTC; convert to the business zone at the edge that speaks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "BOOKING_CANCELLED",
    "BOOKING_CONFIRMED",
    "RECORDING_OFF",
    "RECORDING_PENDING",
    "RECORDING_RECORDING",
    "RECORDING_SAVED",
    "RECORDING_STATES",
    "RECORDING_STOPPED_BY_CALLER",
    "BookingRecord",
    "CallEventRecord",
    "CallRecord",
    "MessageRecord",
    "StoredTurn",
    "TurnRecord",
]

BOOKING_CONFIRMED: Final = "confirmed"
BOOKING_CANCELLED: Final = "cancelled"

# The call's recording, as the consent rules left it:
RECORDING_OFF: Final = "off"  # the profile does not record
RECORDING_PENDING: Final = "pending"  # on, but the disclosure has not been heard in full yet
RECORDING_RECORDING: Final = "recording"  # disclosed, audio is being written
RECORDING_STOPPED_BY_CALLER: Final = "stopped_by_caller"  # opted out; the file was deleted
RECORDING_SAVED: Final = "saved"  # the call ended with the file complete
RECORDING_STATES: Final = frozenset({
    RECORDING_OFF, RECORDING_PENDING, RECORDING_RECORDING, RECORDING_STOPPED_BY_CALLER,
    RECORDING_SAVED,
})


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
    carrier: str | None = None  # "twilio", "telnyx", ...; None for WebSocket calls
    carrier_call_id: str | None = None  # the carrier's id (Twilio CallSid, Telnyx id)
    carrier_status: str | None = None  # the carrier's last reported status
    duration_s: int | None = None  # the carrier's billed duration
    end_reason: str | None = None  # EndReason value: "caller_hangup", "dropped", ...
    recording: str | None = None  # one of RECORDING_STATES; None before the call decided
    recording_path: str | None = None  # the WAV file while recording or once saved


@dataclass(frozen=True, slots=True)
class CallEventRecord:
    """One entry of a call's event log. ``seq`` counts from 0 per call, with no gaps."""

    id: str
    call_id: str
    business_id: str
    seq: int
    kind: str  # dotted, e.g. "recording.disclosed"
    data: dict[str, Any]
    at: datetime


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
