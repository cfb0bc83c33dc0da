"""Frozen records the store hands out, so callers never hold ORM objects or sessions.

All datetimes are aware UTC; convert to the business zone at the edge that speaks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "BOOKING_BUSY",
    "BOOKING_CANCELLED",
    "BOOKING_CONFIRMED",
    "BOOKING_HELD",
    "BOOKING_STATUSES",
    "CALLBACK_ANSWERED",
    "CALLBACK_CANCELLED",
    "CALLBACK_FAILED",
    "CALLBACK_PLACED",
    "CALLBACK_SCHEDULED",
    "CALLBACK_STATES",
    "COMMITMENT_KINDS",
    "COMMITMENT_STATES",
    "C_COMMITTED",
    "C_FAILED",
    "C_PENDING",
    "C_PROPOSED",
    "C_RECONCILED",
    "C_UNKNOWN",
    "RECORDING_OFF",
    "RECORDING_PENDING",
    "RECORDING_RECORDING",
    "RECORDING_SAVED",
    "RECORDING_STATES",
    "RECORDING_STOPPED_BY_CALLER",
    "SESSION_DROPPED",
    "SESSION_EXPIRED",
    "SESSION_FINISHED",
    "SESSION_OPEN",
    "SESSION_STATES",
    "TOLD_VALUES",
    "AttemptOutcome",
    "AttemptRecord",
    "BookingRecord",
    "CallEventRecord",
    "CallRecord",
    "CommitmentRecord",
    "FindingRecord",
    "MessageRecord",
    "SessionRecord",
    "StoredTurn",
    "TurnRecord",
]

BOOKING_CONFIRMED: Final = "confirmed"
BOOKING_CANCELLED: Final = "cancelled"
# A local reservation while the write to an external calendar is in flight: the slot is
# taken (nobody else may book it) but the booking is not yet true anywhere else.
BOOKING_HELD: Final = "held"
BOOKING_STATUSES: Final = frozenset({BOOKING_CONFIRMED, BOOKING_HELD, BOOKING_CANCELLED})
# The statuses that occupy a slot.
BOOKING_BUSY: Final = frozenset({BOOKING_CONFIRMED, BOOKING_HELD})

# A commitment's life (the allowed moves are the ledger's business, not the store's):
C_PROPOSED: Final = "proposed"  # recorded, nothing sent yet
C_PENDING: Final = "pending"  # an attempt is (or was, before a crash) in flight
C_COMMITTED: Final = "committed"  # the backend holds it, verified
C_FAILED: Final = "failed"  # the backend refused it, or we gave up
C_UNKNOWN: Final = "unknown"  # the write may or may not have landed; the outbox finds out
C_RECONCILED: Final = "reconciled"  # checked against the backend after the fact
COMMITMENT_STATES: Final = frozenset({
    C_PROPOSED, C_PENDING, C_COMMITTED, C_FAILED, C_UNKNOWN, C_RECONCILED,
})
COMMITMENT_KINDS: Final = frozenset({"book", "reschedule", "cancel", "message", "sms"})
# What the caller was told about a commitment.
TOLD_VALUES: Final = frozenset({"confirmed", "text_promised", "declined"})

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

# A caller session (one conversation across call legs):
SESSION_OPEN: Final = "open"  # a leg is on the line
SESSION_DROPPED: Final = "dropped"  # the line went without a goodbye; resumable in its window
SESSION_FINISHED: Final = "finished"  # the conversation ended properly; never resumed
SESSION_EXPIRED: Final = "expired"  # dropped and not resumed within the window
SESSION_STATES: Final = frozenset({
    SESSION_OPEN, SESSION_DROPPED, SESSION_FINISHED, SESSION_EXPIRED,
})

# The outbound callback of a dropped session:
CALLBACK_SCHEDULED: Final = "scheduled"  # due at callback_at, unless the caller rings first
CALLBACK_PLACED: Final = "placed"  # a worker has dialled; it keeps its lease until the answer
CALLBACK_ANSWERED: Final = "answered"  # the caller picked up: the outbound leg is on
CALLBACK_CANCELLED: Final = "cancelled"  # not needed any more (rang back, finished, expired)
CALLBACK_FAILED: Final = "failed"  # no answer, busy, or the carrier refused
CALLBACK_STATES: Final = frozenset({
    CALLBACK_SCHEDULED, CALLBACK_PLACED, CALLBACK_ANSWERED, CALLBACK_CANCELLED, CALLBACK_FAILED,
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
    session_id: str | None = None  # the caller session this leg belongs to


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
    status: str  # one of BOOKING_STATUSES
    created_at: datetime
    idempotency_key: str | None = None  # the commitment's key, so a retry finds this row
    external_id: str | None = None  # the id an external calendar gave the booking


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    business_id: str
    call_id: str | None
    caller_name: str | None
    caller_phone: str | None
    text: str
    created_at: datetime
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CommitmentRecord:
    """One side effect the agent undertook, as the ledger holds it.

    ``told``/``told_heard`` record what the caller was told and whether they heard it
    whole, beside ``state`` (what is true): reconciliation compares the two.
    """

    id: str
    business_id: str
    call_id: str | None
    kind: str  # one of COMMITMENT_KINDS
    idempotency_key: str
    connector: str
    state: str  # one of COMMITMENT_STATES
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    told: str | None  # one of TOLD_VALUES, None before anything was said
    told_heard: bool
    parent_id: str | None  # e.g. the booking an SMS is about
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        """The idempotency key, by the name ``propose_commitment(key=...)`` gives it."""
        return self.idempotency_key


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """One try at a commitment's side effect; the input that ``transition_commitment``
    appends to the row's history."""

    started_at: datetime
    finished_at: datetime
    outcome: str  # short, e.g. "ok", "rejected", "unavailable", "uncertain", "timeout"
    error: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """A stored attempt. ``seq`` counts from 0 per commitment, with no gaps."""

    id: str
    commitment_id: str
    business_id: str
    seq: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str | None
    latency_ms: float | None


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A reconciliation result: something the caller was told that the backend does not
    bear out (or the reverse), and what was done about it."""

    id: str
    business_id: str
    commitment_id: str | None
    kind: str
    detail: dict[str, Any]
    action: str
    dedupe_key: str  # the same discrepancy found twice is one finding
    found_at: datetime
    resolved_at: datetime | None
    resolution: str | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One conversation with a caller, across the call legs it took (a dropped call, the
    caller ringing back, our callback). ``snapshot`` is the dialogue state as of the
    last turn, ``snapshot_seq`` counts its saves; ``task`` names the unfinished job.

    ``resume_until`` ends the window in which a new leg may continue the conversation;
    ``hold_until`` is how long an offered slot stays held after the drop; ``callback_*``
    describe the outbound callback and the worker leasing it.
    """

    id: str
    business_id: str
    caller_number: str
    status: str  # one of SESSION_STATES
    task: str | None  # e.g. "booking"; None when nothing is unfinished
    snapshot: dict[str, Any] | None
    snapshot_seq: int
    last_call_id: str | None  # the leg most recently on the line
    legs: int
    created_at: datetime
    updated_at: datetime
    dropped_at: datetime | None
    resume_until: datetime | None
    hold_until: datetime | None
    callback_at: datetime | None
    callback_state: str | None  # one of CALLBACK_STATES; None when no callback was planned
    callback_owner: str | None
    callback_lease_until: datetime | None
    callback_call_id: str | None = None  # the carrier's id of the placed callback
    held_booking_id: str | None = None  # the booking row holding the offered slot
