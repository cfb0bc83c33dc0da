"""The business-scoped repository: the only query surface of the store.

Every statement filters on ``business_id``, including lookups by primary key, so a bug
elsewhere (a call id from another tenant, a guessed booking id) reads nothing instead of
another business's customers. Methods return frozen records, never ORM objects.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from frontdesk.store.ledger_repo import LedgerQueries
from frontdesk.store.models import Booking, Call, CallEventRow, Message, Turn
from frontdesk.store.records import (
    BOOKING_BUSY,
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    BOOKING_STATUSES,
    RECORDING_STATES,
    BookingRecord,
    CallEventRecord,
    CallRecord,
    MessageRecord,
    StoredTurn,
    TurnRecord,
)
from frontdesk.store.sessions_repo import SessionQueries
from frontdesk.store.types import utc

if TYPE_CHECKING:
    from frontdesk.store.engine import Store

__all__ = ["BookingConflict", "BusinessStore", "RecordNotFound"]


class RecordNotFound(LookupError):
    """No such row for this business (it may exist for another one; we do not say)."""


class BookingConflict(Exception):
    """Every candidate resource already has a confirmed or held booking overlapping the
    interval."""


def _new_id() -> str:
    return str(uuid.uuid4())


def _now(value: datetime | None) -> datetime:
    return datetime.now(UTC) if value is None else utc(value)


def _advisory_key(business_id: str, resource_id: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` per (business, resource)."""
    digest = hashlib.blake2b(f"{business_id}\0{resource_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _call(row: Call) -> CallRecord:
    return CallRecord(
        id=row.id,
        business_id=row.business_id,
        from_number=row.from_number,
        to_number=row.to_number,
        started_at=row.started_at,
        ended_at=row.ended_at,
        status=row.status,
        outcome=row.outcome,
        carrier=row.carrier,
        carrier_call_id=row.carrier_call_id,
        carrier_status=row.carrier_status,
        duration_s=row.duration_s,
        end_reason=row.end_reason,
        recording=row.recording,
        recording_path=row.recording_path,
        session_id=row.session_id,
    )


def _event(row: CallEventRow) -> CallEventRecord:
    return CallEventRecord(
        id=row.id,
        call_id=row.call_id,
        business_id=row.business_id,
        seq=row.seq,
        kind=row.kind,
        data=dict(row.data),
        at=row.at,
    )


def _turn(row: Turn) -> StoredTurn:
    return StoredTurn(
        id=row.id,
        call_id=row.call_id,
        business_id=row.business_id,
        created_at=row.created_at,
        index=row.index,
        caller_text=row.caller_text,
        agent_text=row.agent_text,
        agent_text_played=row.agent_text_played,
        interrupted=row.interrupted,
        caller_confidence=row.caller_confidence,
        spans={str(k): float(v) for k, v in row.spans.items()},
        latency_ms=row.latency_ms,
    )


def _booking(row: Booking) -> BookingRecord:
    return BookingRecord(
        id=row.id,
        business_id=row.business_id,
        call_id=row.call_id,
        service_id=row.service_id,
        resource_id=row.resource_id,
        start_at=row.start_at,
        end_at=row.end_at,
        customer_name=row.customer_name,
        customer_phone=row.customer_phone,
        status=row.status,
        created_at=row.created_at,
        idempotency_key=row.idempotency_key,
        external_id=row.external_id,
    )


def _message(row: Message) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        business_id=row.business_id,
        call_id=row.call_id,
        caller_name=row.caller_name,
        caller_phone=row.caller_phone,
        text=row.text,
        created_at=row.created_at,
        idempotency_key=row.idempotency_key,
    )


class BusinessStore(LedgerQueries, SessionQueries):
    """Reads and writes for one business. Obtain it with ``Store.for_business(id)``.

    The commitment ledger's queries come from :class:`LedgerQueries`, the caller
    sessions' from :class:`SessionQueries`."""

    def __init__(self, store: Store, business_id: str) -> None:
        self._store = store
        self.business_id = business_id

    # -- calls -------------------------------------------------------------------------

    def _call_row(self, session: Session, call_id: str, *, lock: bool = False) -> Call:
        """The call row of this business; ``lock`` takes its row lock (PostgreSQL ``FOR
        UPDATE``; SQLite's write transaction already holds the database lock)."""
        query = select(Call).where(Call.business_id == self.business_id, Call.id == call_id)
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise RecordNotFound(f"no call {call_id!r} for business {self.business_id!r}")
        return row

    def create_call(
        self,
        from_number: str,
        to_number: str,
        *,
        started_at: datetime | None = None,
        call_id: str | None = None,
        carrier: str | None = None,
        carrier_call_id: str | None = None,
        status: str = "active",
        session_id: str | None = None,
    ) -> CallRecord:
        """Record a new call. A carrier webhook creates it ``status="ringing"`` with the
        carrier's id, and the media stream that answers it claims it (:meth:`claim_call`).
        ``session_id`` makes it a leg of that caller session (e.g. our outbound callback);
        :class:`RecordNotFound` if the session is not this business's."""
        row = Call(
            id=call_id or _new_id(),
            business_id=self.business_id,
            from_number=from_number,
            to_number=to_number,
            started_at=_now(started_at),
            ended_at=None,
            status=status,
            outcome=None,
            carrier=carrier,
            carrier_call_id=carrier_call_id,
            session_id=session_id,
        )
        with self._store._session(write=True) as session:
            if session_id is not None:
                self._session_row(session, session_id)
            session.add(row)
            session.flush()
            return _call(row)

    def open_carrier_call(
        self,
        from_number: str,
        to_number: str,
        *,
        carrier: str,
        carrier_call_id: str,
        session_id: str | None = None,
    ) -> tuple[CallRecord, bool]:
        """The ringing call for a carrier's id: created now (True), or the one an earlier
        delivery of the same webhook created (False). Carriers redeliver webhooks; the
        unique index on the carrier id settles two deliveries racing each other.
        ``session_id`` is stored on a call created now; a found call keeps its own."""
        existing = self.find_call_by_carrier_id(carrier, carrier_call_id)
        if existing is not None:
            return existing, False
        try:
            return self.create_call(from_number, to_number, carrier=carrier,
                                    carrier_call_id=carrier_call_id, status="ringing",
                                    session_id=session_id), True
        except IntegrityError:
            found = self.find_call_by_carrier_id(carrier, carrier_call_id)
            if found is None:
                raise
            return found, False

    def claim_call(self, call_id: str, *, expected: str = "ringing", new: str = "active") -> bool:
        """Move the call from ``expected`` to ``new`` if nobody else has; True if we did.

        One conditional UPDATE, so of two requests racing for the same call (a replayed
        one-time media-stream token) exactly one wins, on SQLite and PostgreSQL alike. False
        also when the call is not this business's: a claim never says whose call it is.
        """
        with self._store._session(write=True) as session:
            result = session.execute(
                update(Call)
                .where(Call.business_id == self.business_id, Call.id == call_id,
                       Call.status == expected)
                .values(status=new)
            )
            assert isinstance(result, CursorResult)
            return result.rowcount == 1

    def find_call_by_carrier_id(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        """The call a carrier knows by ``carrier_call_id`` (the newest, should it repeat)."""
        with self._store._session() as session:
            row = session.scalar(
                select(Call)
                .where(Call.business_id == self.business_id, Call.carrier == carrier,
                       Call.carrier_call_id == carrier_call_id)
                .order_by(Call.started_at.desc(), Call.id)
                .limit(1)
            )
            return None if row is None else _call(row)

    def set_carrier_status(
        self, call_id: str, *, carrier_status: str, duration_s: int | None = None
    ) -> CallRecord:
        """The carrier's latest word on the call; a ``None`` duration keeps a known one
        (status callbacks without a duration may arrive after the one that had it)."""
        with self._store._session(write=True) as session:
            row = self._call_row(session, call_id)
            row.carrier_status = carrier_status
            if duration_s is not None:
                row.duration_s = duration_s
            session.flush()
            return _call(row)

    def end_call(
        self,
        call_id: str,
        *,
        status: str = "completed",
        outcome: str | None = None,
        ended_at: datetime | None = None,
        end_reason: str | None = None,
    ) -> CallRecord:
        with self._store._session(write=True) as session:
            row = self._call_row(session, call_id)
            row.status = status
            row.outcome = outcome
            row.ended_at = _now(ended_at)
            row.end_reason = end_reason
            session.flush()
            return _call(row)

    def set_recording(self, call_id: str, *, state: str, path: str | None = None) -> CallRecord:
        """Set the call's recording state and file. The path always follows the state:
        ``None`` clears it, because a recording the caller stopped has no file any more."""
        if state not in RECORDING_STATES:
            raise ValueError(f"unknown recording state {state!r} "
                             f"(one of {', '.join(sorted(RECORDING_STATES))})")
        with self._store._session(write=True) as session:
            row = self._call_row(session, call_id)
            row.recording = state
            row.recording_path = path
            session.flush()
            return _call(row)

    def get_call(self, call_id: str) -> CallRecord | None:
        with self._store._session() as session:
            row = session.scalar(
                select(Call).where(Call.business_id == self.business_id, Call.id == call_id)
            )
            return None if row is None else _call(row)

    def list_calls(self, *, limit: int = 100) -> list[CallRecord]:
        """Most recent calls first."""
        with self._store._session() as session:
            rows = session.scalars(
                select(Call)
                .where(Call.business_id == self.business_id)
                .order_by(Call.started_at.desc(), Call.id)
                .limit(limit)
            )
            return [_call(r) for r in rows]

    # -- call events -------------------------------------------------------------------

    def add_call_event(
        self,
        call_id: str,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> CallEventRecord:
        """Append to the call's event log; ``RecordNotFound`` if the call is not ours.

        ``seq`` is max + 1 read in the same transaction, with the call row locked first
        (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``), so concurrent appends to
        one call queue up instead of colliding on (call_id, seq).
        """
        with self._store._session(write=True) as session:
            self._call_row(session, call_id, lock=True)
            last = session.scalar(
                select(func.max(CallEventRow.seq)).where(CallEventRow.call_id == call_id)
            )
            row = CallEventRow(
                id=_new_id(),
                call_id=call_id,
                business_id=self.business_id,
                seq=0 if last is None else last + 1,
                kind=kind,
                data=dict(data or {}),
                at=_now(at),
            )
            session.add(row)
            session.flush()
            session.refresh(row)
            return _event(row)

    def list_call_events(self, call_id: str, *, kind: str | None = None) -> list[CallEventRecord]:
        """The call's log in ``seq`` order, optionally one kind only."""
        query = select(CallEventRow).where(
            CallEventRow.business_id == self.business_id, CallEventRow.call_id == call_id
        )
        if kind is not None:
            query = query.where(CallEventRow.kind == kind)
        with self._store._session() as session:
            return [_event(r) for r in session.scalars(query.order_by(CallEventRow.seq))]

    # -- turns -------------------------------------------------------------------------

    def add_turn(
        self, call_id: str, turn: TurnRecord, *, created_at: datetime | None = None
    ) -> StoredTurn:
        """Append a turn; ``RecordNotFound`` if the call is not this business's."""
        with self._store._session(write=True) as session:
            self._call_row(session, call_id)
            row = Turn(
                id=_new_id(),
                call_id=call_id,
                business_id=self.business_id,
                index=turn.index,
                caller_text=turn.caller_text,
                caller_confidence=turn.caller_confidence,
                agent_text=turn.agent_text,
                agent_text_played=turn.agent_text_played,
                interrupted=turn.interrupted,
                spans=dict(turn.spans),
                latency_ms=turn.latency_ms,
                created_at=_now(created_at),
            )
            session.add(row)
            session.flush()
            return _turn(row)

    def list_turns(self, call_id: str) -> list[StoredTurn]:
        with self._store._session() as session:
            rows = session.scalars(
                select(Turn)
                .where(Turn.business_id == self.business_id, Turn.call_id == call_id)
                .order_by(Turn.index)
            )
            return [_turn(r) for r in rows]

    # -- bookings ----------------------------------------------------------------------

    def _booking_row(self, session: Session, booking_id: str, *, lock: bool = False) -> Booking:
        query = select(Booking).where(
            Booking.business_id == self.business_id, Booking.id == booking_id
        )
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise RecordNotFound(f"no booking {booking_id!r} for {self.business_id!r}")
        return row

    def _lock_resources(self, session: Session, resource_ids: Sequence[str]) -> None:
        """PostgreSQL: advisory locks per resource, in sorted order so two transactions
        never deadlock. (SQLite's write transaction already excludes other writers.)"""
        if self._store.dialect == "postgresql":
            for resource_id in sorted(set(resource_ids)):
                session.execute(
                    sql_text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _advisory_key(self.business_id, resource_id)},
                )

    def _taken(
        self,
        session: Session,
        resource_ids: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        exclude: str | None = None,
    ) -> set[str]:
        """The resources with a confirmed or held booking overlapping [start, end)."""
        query = select(Booking.resource_id).where(
            Booking.business_id == self.business_id,
            Booking.resource_id.in_(list(resource_ids)),
            Booking.status.in_(BOOKING_BUSY),
            Booking.start_at < end,
            Booking.end_at > start,
        )
        if exclude is not None:
            query = query.where(Booking.id != exclude)
        return set(session.scalars(query))

    def create_booking(
        self,
        *,
        service_id: str,
        resource_ids: Sequence[str],
        start_at: datetime,
        end_at: datetime,
        customer_name: str,
        customer_phone: str | None = None,
        call_id: str | None = None,
        created_at: datetime | None = None,
        idempotency_key: str | None = None,
        status: str = BOOKING_CONFIRMED,
    ) -> BookingRecord:
        """Insert a booking on the first resource free for [start_at, end_at).

        The overlap check and the insert run in one locked transaction (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: advisory locks per resource, taken in sorted order so two
        bookings never deadlock), so two callers cannot both get the last slot.
        Raises :class:`BookingConflict` when no candidate resource is free.

        ``status`` is confirmed, or held while an external calendar's write is in flight;
        both occupy the slot. With an ``idempotency_key``, a booking already made under
        that key is returned as it is, without a conflict check or a second row: the
        retry of a booking that went through must find it, not collide with it. Two
        racing inserts of one key are settled by the unique index.
        """
        start, end = utc(start_at), utc(end_at)
        if end <= start:
            raise ValueError("a booking must end after it starts")
        if not resource_ids:
            raise ValueError("at least one candidate resource is required")
        if status not in BOOKING_BUSY:
            raise ValueError(f"a new booking is {BOOKING_CONFIRMED!r} or {BOOKING_HELD!r}, "
                             f"not {status!r}")
        if idempotency_key is not None:
            if not 0 < len(idempotency_key) <= 64:
                raise ValueError("idempotency_key must be 1 to 64 characters")
            existing = self.get_booking_by_key(idempotency_key)
            if existing is not None:
                return existing
        try:
            return self._insert_booking(
                service_id=service_id, resource_ids=resource_ids, start=start, end=end,
                customer_name=customer_name, customer_phone=customer_phone, call_id=call_id,
                created_at=_now(created_at), idempotency_key=idempotency_key, status=status,
            )
        except IntegrityError:
            found = None if idempotency_key is None else self.get_booking_by_key(idempotency_key)
            if found is None:  # not a lost race on the key: some other constraint
                raise
            return found

    def _insert_booking(
        self,
        *,
        service_id: str,
        resource_ids: Sequence[str],
        start: datetime,
        end: datetime,
        customer_name: str,
        customer_phone: str | None,
        call_id: str | None,
        created_at: datetime,
        idempotency_key: str | None,
        status: str,
    ) -> BookingRecord:
        with self._store._session(write=True) as session:
            self._lock_resources(session, resource_ids)
            if idempotency_key is not None:
                # Re-read under the locks: a racer with the same resources has committed.
                existing = session.scalar(
                    select(Booking).where(Booking.business_id == self.business_id,
                                          Booking.idempotency_key == idempotency_key)
                )
                if existing is not None:
                    return _booking(existing)
            if call_id is not None:
                self._call_row(session, call_id)
            taken = self._taken(session, resource_ids, start, end)
            free = [r for r in resource_ids if r not in taken]
            if not free:
                raise BookingConflict(
                    f"{', '.join(resource_ids)} already booked between "
                    f"{start.isoformat()} and {end.isoformat()}"
                )
            row = Booking(
                id=_new_id(),
                business_id=self.business_id,
                call_id=call_id,
                service_id=service_id,
                resource_id=free[0],
                start_at=start,
                end_at=end,
                customer_name=customer_name,
                customer_phone=customer_phone,
                status=status,
                created_at=created_at,
                idempotency_key=idempotency_key,
                external_id=None,
            )
            session.add(row)
            session.flush()
            # Read back what the database holds (normalised UTC), not what we sent.
            session.refresh(row)
            return _booking(row)

    def cancel_booking(self, booking_id: str) -> BookingRecord:
        with self._store._session(write=True) as session:
            row = self._booking_row(session, booking_id)
            row.status = BOOKING_CANCELLED
            session.flush()
            return _booking(row)

    def set_booking_status(
        self, booking_id: str, status: str, *, external_id: str | None = None
    ) -> BookingRecord:
        """Move a booking to ``status`` (a held one to confirmed once the external write is
        verified, or to cancelled if it failed); ``external_id`` is stored when given.

        Bringing a cancelled booking back re-checks its slot under the resource lock and
        raises :class:`BookingConflict` if someone has taken it since.
        """
        if status not in BOOKING_STATUSES:
            raise ValueError(f"unknown booking status {status!r} "
                             f"(one of {', '.join(sorted(BOOKING_STATUSES))})")
        if external_id is not None and not 0 < len(external_id) <= 200:
            raise ValueError("external_id must be 1 to 200 characters")
        with self._store._session(write=True) as session:
            row = self._booking_row(session, booking_id, lock=True)
            if status in BOOKING_BUSY and row.status not in BOOKING_BUSY:
                self._lock_resources(session, [row.resource_id])
                if self._taken(session, [row.resource_id], row.start_at, row.end_at,
                               exclude=row.id):
                    raise BookingConflict(
                        f"{row.resource_id} was booked between {row.start_at.isoformat()} "
                        f"and {row.end_at.isoformat()} after this booking was cancelled"
                    )
            row.status = status
            if external_id is not None:
                row.external_id = external_id
            session.flush()
            return _booking(row)

    def get_booking(self, booking_id: str) -> BookingRecord | None:
        with self._store._session() as session:
            row = session.scalar(
                select(Booking).where(
                    Booking.business_id == self.business_id, Booking.id == booking_id
                )
            )
            return None if row is None else _booking(row)

    def get_booking_by_key(self, idempotency_key: str) -> BookingRecord | None:
        """The booking made under this idempotency key, whatever its status."""
        with self._store._session() as session:
            row = session.scalar(
                select(Booking).where(
                    Booking.business_id == self.business_id,
                    Booking.idempotency_key == idempotency_key,
                )
            )
            return None if row is None else _booking(row)

    def bookings_for_call(self, call_id: str) -> list[BookingRecord]:
        """Confirmed bookings made during one call (the call's true outcome; a held one
        is not true yet)."""
        with self._store._session() as session:
            rows = session.scalars(
                select(Booking)
                .where(
                    Booking.business_id == self.business_id,
                    Booking.call_id == call_id,
                    Booking.status == BOOKING_CONFIRMED,
                )
                .order_by(Booking.start_at, Booking.id)
            )
            return [_booking(r) for r in rows]

    def upcoming_bookings_for(self, phone: str, after: datetime) -> list[BookingRecord]:
        """Confirmed bookings of the caller at ``phone`` starting after ``after``, soonest
        first: what "cancel my appointment" can mean."""
        with self._store._session() as session:
            rows = session.scalars(
                select(Booking)
                .where(
                    Booking.business_id == self.business_id,
                    Booking.customer_phone == phone,
                    Booking.status == BOOKING_CONFIRMED,
                    Booking.start_at > utc(after),
                )
                .order_by(Booking.start_at, Booking.id)
            )
            return [_booking(r) for r in rows]

    def list_bookings(
        self,
        day_from: datetime,
        day_to: datetime,
        *,
        resource_ids: Sequence[str] | None = None,
        include_cancelled: bool = False,
    ) -> list[BookingRecord]:
        """Bookings overlapping [day_from, day_to) (aware datetimes), by start time: the
        ones occupying their slot (confirmed and held), plus cancelled ones if asked."""
        start, end = utc(day_from), utc(day_to)
        query = select(Booking).where(
            Booking.business_id == self.business_id,
            Booking.start_at < end,
            Booking.end_at > start,
        )
        if resource_ids is not None:
            query = query.where(Booking.resource_id.in_(list(resource_ids)))
        if not include_cancelled:
            query = query.where(Booking.status.in_(BOOKING_BUSY))
        with self._store._session() as session:
            rows = session.scalars(
                query.order_by(Booking.start_at, Booking.resource_id, Booking.id)
            )
            return [_booking(r) for r in rows]

    # -- messages ----------------------------------------------------------------------

    def add_message(
        self,
        text: str,
        *,
        caller_name: str | None = None,
        caller_phone: str | None = None,
        call_id: str | None = None,
        created_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> MessageRecord:
        """Store a message; with ``idempotency_key``, one already stored under that key is
        returned instead (a retried or replayed message is kept once)."""
        if idempotency_key is not None:
            existing = self.get_message_by_key(idempotency_key)
            if existing is not None:
                return existing
        try:
            with self._store._session(write=True) as session:
                if call_id is not None:
                    self._call_row(session, call_id)
                row = Message(
                    id=_new_id(),
                    business_id=self.business_id,
                    call_id=call_id,
                    caller_name=caller_name,
                    caller_phone=caller_phone,
                    text=text,
                    created_at=_now(created_at),
                    idempotency_key=idempotency_key,
                )
                session.add(row)
                session.flush()
                return _message(row)
        except IntegrityError:
            found = None if idempotency_key is None else self.get_message_by_key(idempotency_key)
            if found is None:
                raise
            return found

    def get_message_by_key(self, idempotency_key: str) -> MessageRecord | None:
        with self._store._session() as session:
            row = session.scalar(select(Message).where(
                Message.business_id == self.business_id,
                Message.idempotency_key == idempotency_key))
            return None if row is None else _message(row)

    def list_messages(self, *, call_id: str | None = None) -> list[MessageRecord]:
        """Messages oldest first, optionally only those left during one call."""
        query = select(Message).where(Message.business_id == self.business_id)
        if call_id is not None:
            query = query.where(Message.call_id == call_id)
        with self._store._session() as session:
            rows = session.scalars(query.order_by(Message.created_at, Message.id))
            return [_message(r) for r in rows]
