"""ORM tables. Every row carries ``business_id`` so one database can serve many shops.

These classes never leave the store package: repositories return frozen records, so no
caller can hold a session or lazy-load across businesses. The Alembic migrations in
``migrations/versions`` must match this module (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from frontdesk.store.types import UTCDateTime

__all__ = [
    "Base",
    "Booking",
    "Call",
    "CallEventRow",
    "CallerSession",
    "Commitment",
    "CommitmentAttempt",
    "Finding",
    "Message",
    "Turn",
]

ID = String(36)


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_business_started", "business_id", "started_at"),
        # unique: a redelivered carrier webhook finds its call instead of making another
        Index("ix_calls_business_carrier_id", "business_id", "carrier", "carrier_call_id",
              unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64), index=True)
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    # The carrier leg (``twilio``, ``telnyx``, ...) and its own id for the call, so a
    # status webhook finds the row; null for calls that came in over the WebSocket.
    carrier: Mapped[str | None] = mapped_column(String(16))
    carrier_call_id: Mapped[str | None] = mapped_column(String(64))
    carrier_status: Mapped[str | None] = mapped_column(String(16))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    recording: Mapped[str | None] = mapped_column(String(24))
    recording_path: Mapped[str | None] = mapped_column(String(400))
    # The caller session this leg belongs to (several legs can share one). No ON DELETE
    # action: SQLite adds this column with ALTER TABLE (see migration 0004), and its
    # reflection cannot see options on a column-level key, so models and migrations
    # would disagree. Sessions are not deleted; one that is must be unlinked first.
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), index=True)


class CallerSession(Base):
    """One conversation across call legs; resumable after a drop, within a window.

    ``last_call_id`` has no foreign key on purpose: ``calls.session_id`` already points
    the other way, and a cycle of keys would make both tables awkward to create and drop.
    """

    __tablename__ = "sessions"
    __table_args__ = (
        # find_resumable: a caller's dropped sessions
        Index("ix_sessions_business_caller_status", "business_id", "caller_number", "status"),
        # the callback scheduler's scan: due callbacks of dropped sessions
        Index("ix_sessions_business_status_callback", "business_id", "status", "callback_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    task: Mapped[str | None] = mapped_column(String(24))
    # none_as_null: "no snapshot yet" is SQL NULL, not the JSON text 'null'
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    snapshot_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_call_id: Mapped[str | None] = mapped_column(String(36))
    legs: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resume_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_state: Mapped[str | None] = mapped_column(String(16))
    callback_owner: Mapped[str | None] = mapped_column(String(64))
    callback_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the carrier's id of our callback, so its no-answer/busy status finds the session
    callback_call_id: Mapped[str | None] = mapped_column(String(64))
    held_booking_id: Mapped[str | None] = mapped_column(String(36))  # the slot kept


class CallEventRow(Base):
    """One entry of a call's event log (consent, carrier callbacks, ...), in ``seq`` order."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    business_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(48))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "index", name="uq_turns_call_index"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    business_id: Mapped[str] = mapped_column(String(64), index=True)
    index: Mapped[int] = mapped_column(Integer)
    caller_text: Mapped[str] = mapped_column(Text)
    caller_confidence: Mapped[float | None] = mapped_column(Float)
    agent_text: Mapped[str] = mapped_column(Text)
    agent_text_played: Mapped[str] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean)
    spans: Mapped[dict[str, Any]] = mapped_column(JSON)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_business_resource_start", "business_id", "resource_id", "start_at"),
        # unique: a retried booking finds its row; NULL keys (no ledger) repeat freely
        Index("ix_bookings_business_idempotency_key", "business_id", "idempotency_key",
              unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    service_id: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_business_created", "business_id", "created_at"),
        # unique: a message taken twice (a retry, the outbox after a crash) is stored once
        Index("ix_messages_business_idempotency_key", "business_id", "idempotency_key",
              unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class Commitment(Base):
    """A side effect in the ledger. The key makes a retried request find its row; the
    lease (owner, until) lets one outbox worker at a time work on it."""

    __tablename__ = "commitments"
    __table_args__ = (
        # unique: a retried request finds its commitment instead of making another
        Index("ix_commitments_business_key", "business_id", "idempotency_key", unique=True),
        # the outbox's scan: due rows in some states, per business
        Index("ix_commitments_business_state_next", "business_id", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    connector: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # none_as_null: "no result yet" is SQL NULL, not the JSON text 'null'
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    told: Mapped[str | None] = mapped_column(String(16))
    told_heard: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("commitments.id", ondelete="SET NULL"), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CommitmentAttempt(Base):
    """One try at a commitment, in ``seq`` order (the unique index also serves lookups)."""

    __tablename__ = "commitment_attempts"
    __table_args__ = (
        UniqueConstraint("commitment_id", "seq", name="uq_commitment_attempts_commitment_seq"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE")
    )
    business_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)


class Finding(Base):
    """A reconciliation result; ``dedupe_key`` makes finding the same thing twice a no-op."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_business_dedupe", "business_id", "dedupe_key", unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64))
    commitment_id: Mapped[str | None] = mapped_column(
        ForeignKey("commitments.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
