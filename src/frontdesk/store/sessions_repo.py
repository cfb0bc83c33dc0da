"""Caller sessions: one conversation across the call legs it takes.

A call drops 80% through a booking; the caller rings back, or we call them: that second
leg joins the same session and continues from the saved dialogue state instead of "How
can I help you?". A mixin of :class:`~frontdesk.store.repository.BusinessStore`, so every
query is scoped to one business like the rest of the store.

The store enforces what a database must: a session's status moves only along
open → dropped → open (a new leg) ... → finished | expired, one leg at a time; a finished
or expired session takes no new leg; an outbound callback is leased to one worker at a
time. Whether a caller may resume (same number, a verified identity) is decided above the
store: :meth:`SessionQueries.find_resumable` offers only the exact number's sessions.

Race safety is the ledger's (see ``ledger_repo``): SQLite write transactions begin
``BEGIN IMMEDIATE``; PostgreSQL rows are taken ``FOR UPDATE`` (``SKIP LOCKED`` when
claiming or sweeping), and a lock on a session is always taken before one on a call.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from frontdesk.store.ledger_repo import _check_text, _missing
from frontdesk.store.models import Call, CallerSession
from frontdesk.store.records import (
    CALLBACK_ANSWERED,
    CALLBACK_CANCELLED,
    CALLBACK_FAILED,
    CALLBACK_PLACED,
    CALLBACK_SCHEDULED,
    CALLBACK_STATES,
    SESSION_DROPPED,
    SESSION_EXPIRED,
    SESSION_FINISHED,
    SESSION_OPEN,
    SessionRecord,
)
from frontdesk.store.types import utc

if TYPE_CHECKING:
    from frontdesk.store.engine import Store

__all__ = [
    "SessionClosed",
    "SessionInUse",
    "SessionLeaseLost",
    "SessionQueries",
    "SessionUnavailable",
]

# The callback's moves through set_callback_state (mark_dropped alone schedules one).
_CALLBACK_MOVES: Final[Mapping[str, frozenset[str]]] = {
    CALLBACK_SCHEDULED: frozenset({CALLBACK_PLACED, CALLBACK_CANCELLED, CALLBACK_FAILED}),
    CALLBACK_PLACED: frozenset({CALLBACK_ANSWERED, CALLBACK_CANCELLED, CALLBACK_FAILED}),
}


class SessionUnavailable(Exception):
    """This leg cannot take part in the session. Nobody's bug and not worth retrying:
    start a fresh conversation (or hang up the extra leg)."""

    def __init__(self, session_id: str, status: str, message: str) -> None:
        self.session_id = session_id
        self.status = status
        super().__init__(message)


class SessionClosed(SessionUnavailable):
    """The session is over (finished, expired, or past its resume window), so it cannot
    be resumed or written to."""

    def __init__(self, session_id: str, status: str, *, why: str = "") -> None:
        super().__init__(session_id, status,
                         f"session {session_id} is {status!r}{f', {why}' if why else ''}")


class SessionInUse(SessionUnavailable):
    """Another leg holds the session: e.g. the caller rang back while our callback was
    ringing, and that leg attached first; or a stale leg writes after a newer one
    joined."""

    def __init__(self, session_id: str, status: str, *, call_id: str | None) -> None:
        self.call_id = call_id
        super().__init__(session_id, status,
                         f"session {session_id} is {status!r} on call {call_id}")


class SessionLeaseLost(Exception):
    """The callback moved on without this worker: another owner holds (or took over) its
    lease, or its state no longer allows the move (the caller rang back first, the
    session finished). Retrying is pointless: someone else is handling it, or nobody
    needs to."""

    def __init__(
        self, session_id: str, callback_state: str | None, *, leased_by: str | None = None
    ) -> None:
        self.session_id = session_id
        self.callback_state = callback_state
        self.leased_by = leased_by
        why = f"leased by {leased_by!r}" if leased_by else "not in a state for this move"
        super().__init__(f"callback of session {session_id} is {callback_state!r}, {why}")


def _session(row: CallerSession) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        business_id=row.business_id,
        caller_number=row.caller_number,
        status=row.status,
        task=row.task,
        snapshot=None if row.snapshot is None else dict(row.snapshot),
        snapshot_seq=row.snapshot_seq,
        last_call_id=row.last_call_id,
        legs=row.legs,
        created_at=row.created_at,
        updated_at=row.updated_at,
        dropped_at=row.dropped_at,
        resume_until=row.resume_until,
        hold_until=row.hold_until,
        callback_at=row.callback_at,
        callback_state=row.callback_state,
        callback_owner=row.callback_owner,
        callback_lease_until=row.callback_lease_until,
        callback_call_id=row.callback_call_id,
        held_booking_id=row.held_booking_id,
    )


def _opt(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class SessionQueries:
    """The caller-session half of :class:`BusinessStore` (see the module docstring)."""

    _store: Store
    business_id: str

    # -- rows ----------------------------------------------------------------------------

    def _session_row(
        self, session: Session, session_id: str, *, lock: bool = False
    ) -> CallerSession:
        query = select(CallerSession).where(
            CallerSession.business_id == self.business_id, CallerSession.id == session_id
        )
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise _missing("session", session_id, self.business_id)
        return row

    def _leg_row(self, session: Session, call_id: str) -> Call:
        """The call, row-locked (after its session's lock, never before: no deadlock)."""
        row = session.scalar(
            select(Call)
            .where(Call.business_id == self.business_id, Call.id == call_id)
            .with_for_update()
        )
        if row is None:
            raise _missing("call", call_id, self.business_id)
        return row

    @staticmethod
    def _check_leg(row: CallerSession, call_id: str | None) -> None:
        """A move made on behalf of a leg needs that leg to be the session's current one."""
        if call_id is not None and row.last_call_id != call_id:
            raise SessionInUse(row.id, row.status, call_id=row.last_call_id)

    # -- the conversation ----------------------------------------------------------------

    def open_session(
        self, *, caller_number: str, call_id: str | None = None, now: datetime
    ) -> SessionRecord:
        """A new open session with one leg, ``call_id`` (its ``session_id`` is set in the
        same transaction; :class:`RecordNotFound` if the call is not this business's).

        A call that already belongs to a session gets that session back, unchanged: a
        retried open must not split one conversation in two.
        """
        _check_text("caller number", caller_number, 32)
        at = utc(now)
        with self._store._session(write=True) as session:
            call = None if call_id is None else self._leg_row(session, call_id)
            if call is not None and call.session_id is not None:
                return _session(self._session_row(session, call.session_id))
            row = CallerSession(
                id=str(uuid.uuid4()), business_id=self.business_id,
                caller_number=caller_number, status=SESSION_OPEN, task=None, snapshot=None,
                snapshot_seq=0, last_call_id=call_id, legs=1, created_at=at, updated_at=at,
                dropped_at=None, resume_until=None, hold_until=None, callback_at=None,
                callback_state=None, callback_owner=None, callback_lease_until=None,
                callback_call_id=None, held_booking_id=None,
            )
            session.add(row)
            session.flush()  # the session exists before the call points at it
            if call is not None:
                call.session_id = row.id
                session.flush()
            return _session(row)

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self._store._session() as session:
            row = session.scalar(
                select(CallerSession).where(
                    CallerSession.business_id == self.business_id,
                    CallerSession.id == session_id,
                )
            )
            return None if row is None else _session(row)

    def attach_call(
        self, session_id: str, *, call_id: str, now: datetime, take_over: bool = False
    ) -> SessionRecord:
        """Join a new leg (the caller ringing back, or our callback answered) to a dropped
        session: open again, one more leg, ``call_id`` the current one. A scheduled
        callback is cancelled (the caller came first); a placed one is left to its worker.
        ``hold_until`` is kept: the held slot is still what the conversation offered.

        Attaching the current leg again returns the session unchanged. Raises
        :class:`SessionClosed` once finished, expired or past ``resume_until`` (even
        before the sweep has marked it), and :class:`SessionInUse` while another leg has
        it open: of two legs racing for one session, exactly one joins. With
        ``take_over``, an open session with a task unfinished moves to the new leg
        instead: the caller rang back before their broken leg was noticed to be gone, and
        that leg's later snapshots and drop are refused as a stale leg's.
        """
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._session_row(session, session_id, lock=True)
            if row.status == SESSION_OPEN and not (take_over and row.task is not None
                                                   and row.last_call_id != call_id):
                self._check_leg(row, call_id)
                return _session(row)
            if row.status not in (SESSION_OPEN, SESSION_DROPPED):
                raise SessionClosed(session_id, row.status)
            if row.status == SESSION_DROPPED and (row.resume_until is None
                                                  or row.resume_until <= at):
                raise SessionClosed(session_id, row.status, why="its resume window is over")
            call = self._leg_row(session, call_id)
            row.status = SESSION_OPEN
            row.legs += 1
            row.last_call_id = call_id
            row.updated_at = at
            if row.callback_state == CALLBACK_SCHEDULED:
                row.callback_state = CALLBACK_CANCELLED
                row.callback_owner = None
                row.callback_lease_until = None
            call.session_id = row.id
            session.flush()
            return _session(row)

    def save_snapshot(
        self,
        session_id: str,
        *,
        snapshot: Mapping[str, Any],
        task: str | None,
        now: datetime,
        call_id: str | None = None,
    ) -> SessionRecord:
        """Store the dialogue state after a turn (``snapshot_seq`` + 1) and the unfinished
        ``task``. Open or dropped sessions only (:class:`SessionClosed` otherwise); with
        ``call_id``, only from the session's current leg (:class:`SessionInUse`), so a
        leg that lingers after a newer one joined cannot overwrite its state."""
        if task is not None:
            _check_text("task", task, 24)
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._session_row(session, session_id, lock=True)
            if row.status not in (SESSION_OPEN, SESSION_DROPPED):
                raise SessionClosed(session_id, row.status)
            self._check_leg(row, call_id)
            row.snapshot = dict(snapshot)
            row.task = task
            row.snapshot_seq += 1
            row.updated_at = at
            session.flush()
            session.refresh(row)  # the snapshot as stored (JSON), not as passed
            return _session(row)

    def mark_dropped(
        self,
        session_id: str,
        *,
        now: datetime,
        resume_until: datetime,
        hold_until: datetime | None = None,
        callback_at: datetime | None = None,
        call_id: str | None = None,
        held_booking_id: str | None = None,
    ) -> SessionRecord:
        """The line went without a goodbye: resumable until ``resume_until``, the offered
        slot held until ``hold_until``, and a callback scheduled at ``callback_at`` (if
        given). Already dropped: returned unchanged (the first report of the drop
        stands). With ``call_id``, only the current leg's drop counts
        (:class:`SessionInUse`): a stale leg hanging up must not drop a newer one.
        :class:`SessionClosed` once finished or expired."""
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._session_row(session, session_id, lock=True)
            if row.status not in (SESSION_OPEN, SESSION_DROPPED):
                raise SessionClosed(session_id, row.status)
            self._check_leg(row, call_id)
            if row.status == SESSION_DROPPED:
                return _session(row)
            row.status = SESSION_DROPPED
            row.updated_at = at
            row.dropped_at = at
            row.resume_until = utc(resume_until)
            row.hold_until = _opt(hold_until)
            row.held_booking_id = held_booking_id
            if callback_at is not None:  # otherwise an earlier callback's record stands
                row.callback_at = _opt(callback_at)
                row.callback_state = CALLBACK_SCHEDULED
                row.callback_owner = None
                row.callback_lease_until = None
            session.flush()
            return _session(row)

    def mark_finished(
        self, session_id: str, *, now: datetime, call_id: str | None = None
    ) -> SessionRecord:
        """The conversation ended properly; it is never resumed. A scheduled callback is
        cancelled (a placed one is left to its worker). Already finished: returned
        unchanged. :class:`SessionClosed` if expired; with ``call_id``, only the current
        leg may finish it (:class:`SessionInUse`)."""
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._session_row(session, session_id, lock=True)
            if row.status == SESSION_FINISHED:
                return _session(row)
            if row.status not in (SESSION_OPEN, SESSION_DROPPED):
                raise SessionClosed(session_id, row.status)
            self._check_leg(row, call_id)
            row.status = SESSION_FINISHED
            row.updated_at = at
            if row.callback_state == CALLBACK_SCHEDULED:
                row.callback_state = CALLBACK_CANCELLED
                row.callback_owner = None
                row.callback_lease_until = None
            session.flush()
            return _session(row)

    def find_resumable(
        self, caller_number: str, *, now: datetime, open_since: datetime | None = None
    ) -> SessionRecord | None:
        """The caller's most recently dropped session still inside its resume window, by
        the exact number (no normalising here: a near miss is another caller). With
        ``open_since``, an open session with a task unfinished, written to since then,
        counts too (its leg is most likely dead but not yet noticed): the newest wins."""
        at = utc(now)
        dropped = and_(CallerSession.status == SESSION_DROPPED,
                       CallerSession.resume_until > at)
        wanted = dropped if open_since is None else or_(dropped, and_(
            CallerSession.status == SESSION_OPEN, CallerSession.task.is_not(None),
            CallerSession.updated_at > utc(open_since)))
        with self._store._session() as session:
            row = session.scalar(
                select(CallerSession)
                .where(
                    CallerSession.business_id == self.business_id,
                    CallerSession.caller_number == caller_number,
                    wanted,
                )
                .order_by(CallerSession.updated_at.desc(), CallerSession.id)
                .limit(1)
            )
            return None if row is None else _session(row)

    def expire_sessions(self, *, now: datetime) -> list[SessionRecord]:
        """Mark expired every dropped session whose window has closed, and return them,
        so the caller releases what they held (slot holds) exactly once: two sweepers
        never both get a row (PostgreSQL skips rows locked by the other, or by a leg
        attaching right now; SQLite runs one writer at a time). A scheduled callback of
        an expired session is cancelled."""
        at = utc(now)
        query = (
            select(CallerSession)
            .where(
                CallerSession.business_id == self.business_id,
                CallerSession.status == SESSION_DROPPED,
                CallerSession.resume_until <= at,
            )
            .order_by(CallerSession.resume_until, CallerSession.id)
            .with_for_update(skip_locked=True)  # SQLite renders no FOR UPDATE
        )
        with self._store._session(write=True) as session:
            rows = list(session.scalars(query))
            for row in rows:
                row.status = SESSION_EXPIRED
                row.updated_at = at
                if row.callback_state == CALLBACK_SCHEDULED:
                    row.callback_state = CALLBACK_CANCELLED
                    row.callback_owner = None
                    row.callback_lease_until = None
            session.flush()
            return [_session(r) for r in rows]

    def stale_open_sessions(self, *, before: datetime, limit: int = 100) -> list[SessionRecord]:
        """Sessions still "open" with nothing written since ``before``: their process
        died before the call could leave the session (a SIGKILL, a crash)."""
        with self._store._session() as session:
            rows = session.scalars(
                select(CallerSession)
                .where(CallerSession.business_id == self.business_id,
                       CallerSession.status == SESSION_OPEN,
                       CallerSession.updated_at < utc(before))
                .order_by(CallerSession.updated_at, CallerSession.id)
                .limit(limit)
            )
            return [_session(r) for r in rows]

    def release_holds(self, *, now: datetime) -> list[SessionRecord]:
        """Sessions whose slot hold has run out, whatever became of them, each returned
        once (its ``hold_until`` cleared in the same transaction), so the caller cancels
        each held slot once. A hold the booking took is confirmed by then: cancelling
        only touches rows still held."""
        at = utc(now)
        query = (
            select(CallerSession)
            .where(
                CallerSession.business_id == self.business_id,
                CallerSession.hold_until.is_not(None),
                CallerSession.hold_until <= at,
            )
            .order_by(CallerSession.hold_until, CallerSession.id)
            .with_for_update(skip_locked=True)
        )
        with self._store._session(write=True) as session:
            rows = list(session.scalars(query))
            found = [_session(r) for r in rows]
            for row in rows:
                row.hold_until = None
                row.updated_at = at
            session.flush()
            return found

    def session_by_callback(self, carrier_call_id: str) -> SessionRecord | None:
        """The session whose placed callback the carrier knows as ``carrier_call_id``."""
        with self._store._session() as session:
            row = session.scalar(select(CallerSession).where(
                CallerSession.business_id == self.business_id,
                CallerSession.callback_call_id == carrier_call_id))
            return None if row is None else _session(row)

    def sessions_for(self, caller_number: str) -> list[SessionRecord]:
        """Every session of the caller at this exact number, newest first."""
        with self._store._session() as session:
            rows = session.scalars(
                select(CallerSession)
                .where(CallerSession.business_id == self.business_id,
                       CallerSession.caller_number == caller_number)
                .order_by(CallerSession.created_at.desc(), CallerSession.id)
            )
            return [_session(r) for r in rows]

    # -- the outbound callback -----------------------------------------------------------

    def claim_callbacks(
        self, *, now: datetime, owner: str, lease_s: float, limit: int
    ) -> list[SessionRecord]:
        """Lease up to ``limit`` due callbacks to ``owner`` for ``lease_s``, earliest due
        first: dropped sessions still inside their window, callback scheduled at or
        before ``now``, no live lease. PostgreSQL skips rows another claimer has locked
        (``FOR UPDATE SKIP LOCKED``); SQLite's write transaction keeps other claimers out.
        Either way no callback is leased to two owners at once, and a lease that lapses
        (its worker died) lets the next claimer take the row. ``updated_at`` is left
        alone: a lease is not news about the conversation."""
        _check_text("owner", owner, 64)
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        if limit <= 0:
            return []
        at = utc(now)
        query = (
            select(CallerSession)
            .where(
                CallerSession.business_id == self.business_id,
                CallerSession.status == SESSION_DROPPED,
                CallerSession.callback_state == CALLBACK_SCHEDULED,
                CallerSession.callback_at <= at,
                CallerSession.resume_until > at,
                or_(CallerSession.callback_lease_until.is_(None),
                    CallerSession.callback_lease_until <= at),
            )
            .order_by(CallerSession.callback_at, CallerSession.created_at, CallerSession.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        until = at + timedelta(seconds=lease_s)
        with self._store._session(write=True) as session:
            rows = list(session.scalars(query))
            for row in rows:
                row.callback_owner = owner
                row.callback_lease_until = until
            session.flush()
            return [_session(r) for r in rows]

    def set_callback_state(
        self, session_id: str, *, state: str, now: datetime, owner: str | None = None,
        carrier_call_id: str | None = None,
    ) -> SessionRecord:
        """Move the callback: scheduled → placed | cancelled | failed, placed → answered |
        cancelled | failed. "placed" keeps the lease (the worker still owns the ringing
        call); every other state ends it.

        With ``owner``, the move is that worker's and needs its lease (lapsed is fine if
        nobody took it since): :class:`SessionLeaseLost` otherwise. ``owner=None`` is a
        move on the carrier's word (the answer webhook may reach another instance).
        Repeating the current state returns the session unchanged (a redelivered
        webhook); any other move from where the callback is raises
        :class:`SessionLeaseLost` (e.g. the caller rang back and cancelled it).
        """
        if state not in CALLBACK_STATES:
            raise ValueError(f"unknown callback state {state!r} "
                             f"(one of {', '.join(sorted(CALLBACK_STATES))})")
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._session_row(session, session_id, lock=True)
            if owner is not None and row.callback_owner != owner:
                live = row.callback_lease_until is not None and row.callback_lease_until > at
                raise SessionLeaseLost(session_id, row.callback_state,
                                       leased_by=row.callback_owner if live else None)
            if row.callback_state == state:
                return _session(row)
            if state not in _CALLBACK_MOVES.get(row.callback_state or "", frozenset()):
                raise SessionLeaseLost(session_id, row.callback_state)
            row.callback_state = state
            row.updated_at = at
            if carrier_call_id is not None:
                _check_text("carrier call id", carrier_call_id, 64)
                row.callback_call_id = carrier_call_id
            if state != CALLBACK_PLACED:
                row.callback_owner = None
                row.callback_lease_until = None
            session.flush()
            return _session(row)
