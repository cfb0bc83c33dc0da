"""Ledger queries: commitments, their attempts, and reconciliation findings.

A mixin of :class:`~frontdesk.store.repository.BusinessStore`, so every query here is
scoped to one business like the rest of the store. The store enforces only what a
database must: one row per idempotency key, compare-and-set state moves, attempts in
sequence, and leases that two workers never share. Which moves are legal is the ledger's
business (``frontdesk.actions.ledger``), not the store's.

Race safety rests on each database's locks: SQLite write transactions begin ``BEGIN
IMMEDIATE`` (one writer at a time); PostgreSQL rows are taken ``FOR UPDATE`` (``SKIP
LOCKED`` when claiming), and a unique index settles two inserts of the same key.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from frontdesk.store.models import Call, Commitment, CommitmentAttempt, Finding
from frontdesk.store.records import (
    C_PROPOSED,
    COMMITMENT_KINDS,
    COMMITMENT_STATES,
    TOLD_VALUES,
    AttemptOutcome,
    AttemptRecord,
    CommitmentRecord,
    FindingRecord,
)
from frontdesk.store.types import utc

if TYPE_CHECKING:
    from frontdesk.store.engine import Store
    from frontdesk.store.repository import RecordNotFound

__all__ = ["UNSET", "LedgerQueries", "StaleTransition", "Unset"]

R = TypeVar("R")


class Unset(enum.Enum):
    """The type of :data:`UNSET`, "leave this column as it is" (``None`` writes NULL)."""

    TOKEN = "UNSET"


UNSET: Final = Unset.TOKEN


class StaleTransition(Exception):
    """The row moved on since the caller read it: its state is not one the caller
    expected, or another worker holds its lease. Nobody's bug, and retrying the same
    move is pointless: re-read the commitment (someone else is handling it)."""

    def __init__(
        self, commitment_id: str, current_state: str, *, leased_by: str | None = None
    ) -> None:
        self.commitment_id = commitment_id
        self.current_state = current_state
        self.leased_by = leased_by
        why = f"leased by {leased_by!r}" if leased_by else "not in an expected state"
        super().__init__(f"commitment {commitment_id} is {current_state!r}, {why}")


def _missing(what: str, ident: str, business_id: str) -> RecordNotFound:
    # repository.py imports this module (BusinessStore inherits the mixin), so the error
    # class is fetched when needed instead of at import time.
    from frontdesk.store.repository import RecordNotFound

    return RecordNotFound(f"no {what} {ident!r} for business {business_id!r}")


def _check_text(name: str, value: str, limit: int) -> None:
    """Refuse what PostgreSQL would refuse, on SQLite too (it does not check lengths)."""
    if not value or len(value) > limit:
        raise ValueError(f"{name} must be 1 to {limit} characters, got {len(value)}")


def _check_states(states: Collection[str]) -> None:
    unknown = set(states) - COMMITMENT_STATES
    if unknown:
        raise ValueError(f"unknown commitment states {sorted(unknown)} "
                         f"(known: {', '.join(sorted(COMMITMENT_STATES))})")


def _commitment(row: Commitment) -> CommitmentRecord:
    return CommitmentRecord(
        id=row.id,
        business_id=row.business_id,
        call_id=row.call_id,
        kind=row.kind,
        idempotency_key=row.idempotency_key,
        connector=row.connector,
        state=row.state,
        payload=dict(row.payload),
        result=None if row.result is None else dict(row.result),
        error=row.error,
        told=row.told,
        told_heard=row.told_heard,
        parent_id=row.parent_id,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _attempt(row: CommitmentAttempt) -> AttemptRecord:
    return AttemptRecord(
        id=row.id,
        commitment_id=row.commitment_id,
        business_id=row.business_id,
        seq=row.seq,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=row.outcome,
        error=row.error,
        latency_ms=row.latency_ms,
    )


def _finding(row: Finding) -> FindingRecord:
    return FindingRecord(
        id=row.id,
        business_id=row.business_id,
        commitment_id=row.commitment_id,
        kind=row.kind,
        detail=dict(row.detail),
        action=row.action,
        dedupe_key=row.dedupe_key,
        found_at=row.found_at,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
    )


def _once(
    find: Callable[[], R | None], insert: Callable[[], tuple[R, bool]]
) -> tuple[R, bool]:
    """Insert-if-absent on a unique key: the existing row (False) or the new one (True).

    ``insert`` re-checks inside its write transaction, which settles it on SQLite; on
    PostgreSQL a concurrent insert of the same key can still win, and the unique index
    turns ours into an IntegrityError, after which the winner's row is read afresh.
    """
    existing = find()
    if existing is not None:
        return existing, False
    try:
        return insert()
    except IntegrityError:
        found = find()
        if found is None:  # a different constraint failed
            raise
        return found, False


class LedgerQueries:
    """The ledger half of :class:`BusinessStore` (see the module docstring)."""

    _store: Store
    business_id: str

    # -- rows ----------------------------------------------------------------------------

    def _row(self, session: Session, commitment_id: str, *, lock: bool = False) -> Commitment:
        query = select(Commitment).where(
            Commitment.business_id == self.business_id, Commitment.id == commitment_id
        )
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise _missing("commitment", commitment_id, self.business_id)
        return row

    def _row_by_key(self, session: Session, key: str) -> Commitment | None:
        return session.scalar(
            select(Commitment).where(
                Commitment.business_id == self.business_id, Commitment.idempotency_key == key
            )
        )

    def _check_call(self, session: Session, call_id: str) -> None:
        found = session.scalar(
            select(Call.id).where(Call.business_id == self.business_id, Call.id == call_id)
        )
        if found is None:
            raise _missing("call", call_id, self.business_id)

    # -- commitments ---------------------------------------------------------------------

    def propose_commitment(
        self,
        *,
        key: str,
        kind: str,
        connector: str,
        payload: Mapping[str, Any],
        call_id: str | None = None,
        parent_id: str | None = None,
        now: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> tuple[CommitmentRecord, bool]:
        """The commitment for ``key``: created now in state "proposed" (True), or the one
        an earlier request with the same key created (False), returned unchanged even if
        this request's other arguments differ. ``call_id`` and ``parent_id`` must be this
        business's (:class:`RecordNotFound` otherwise). ``next_attempt_at`` is when the
        outbox may first claim it (None: at once)."""
        _check_text("idempotency key", key, 64)
        _check_text("connector", connector, 32)
        if kind not in COMMITMENT_KINDS:
            raise ValueError(f"unknown commitment kind {kind!r} "
                             f"(one of {', '.join(sorted(COMMITMENT_KINDS))})")
        at = datetime.now(UTC) if now is None else utc(now)

        def insert() -> tuple[CommitmentRecord, bool]:
            with self._store._session(write=True) as session:
                existing = self._row_by_key(session, key)
                if existing is not None:
                    return _commitment(existing), False
                if call_id is not None:
                    self._check_call(session, call_id)
                if parent_id is not None:
                    self._row(session, parent_id)
                row = Commitment(
                    id=str(uuid.uuid4()), business_id=self.business_id, call_id=call_id,
                    kind=kind, idempotency_key=key, connector=connector, state=C_PROPOSED,
                    payload=dict(payload), result=None, error=None, told=None,
                    told_heard=False, parent_id=parent_id, attempts=0,
                    next_attempt_at=None if next_attempt_at is None else utc(next_attempt_at),
                    lease_owner=None, lease_until=None, created_at=at, updated_at=at,
                )
                session.add(row)
                session.flush()
                session.refresh(row)  # the payload as stored (JSON), not as passed
                return _commitment(row), True

        return _once(lambda: self.get_commitment_by_key(key), insert)

    def get_commitment(self, commitment_id: str) -> CommitmentRecord | None:
        with self._store._session() as session:
            row = session.scalar(
                select(Commitment).where(
                    Commitment.business_id == self.business_id, Commitment.id == commitment_id
                )
            )
            return None if row is None else _commitment(row)

    def get_commitment_by_key(self, key: str) -> CommitmentRecord | None:
        with self._store._session() as session:
            row = self._row_by_key(session, key)
            return None if row is None else _commitment(row)

    def list_commitments(
        self,
        *,
        call_id: str | None = None,
        states: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        parent_id: str | None = None,
        limit: int | None = None,
    ) -> list[CommitmentRecord]:
        """Commitments oldest first, filtered by whichever arguments are given."""
        query = select(Commitment).where(Commitment.business_id == self.business_id)
        if call_id is not None:
            query = query.where(Commitment.call_id == call_id)
        if states is not None:
            query = query.where(Commitment.state.in_(list(states)))
        if kinds is not None:
            query = query.where(Commitment.kind.in_(list(kinds)))
        if parent_id is not None:
            query = query.where(Commitment.parent_id == parent_id)
        query = query.order_by(Commitment.created_at, Commitment.id)
        if limit is not None:
            query = query.limit(limit)
        with self._store._session() as session:
            return [_commitment(r) for r in session.scalars(query)]

    def transition_commitment(
        self,
        commitment_id: str,
        *,
        expected: Collection[str],
        new: str,
        now: datetime,
        result: dict[str, Any] | None | Unset = UNSET,
        error: str | None | Unset = UNSET,
        next_attempt_at: datetime | None | Unset = UNSET,
        attempt: AttemptOutcome | None = None,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> CommitmentRecord:
        """Compare-and-set: move the row to ``new`` if its state is in ``expected``.

        One write transaction with the row locked, so of two workers racing to move the
        same commitment exactly one succeeds and the other gets :class:`StaleTransition`
        (also raised when the row is leased, live, to anyone but ``owner``). The move ends
        any lease, unless ``lease_until`` is given: then ``owner`` holds the row until
        then (an attempt in flight). ``attempt``, if given, is appended with the next
        ``seq``. :data:`UNSET` arguments leave their column alone; ``None`` clears it.
        """
        if lease_until is not None and owner is None:
            raise ValueError("a lease needs an owner")
        _check_states([new])
        _check_states(expected)
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._row(session, commitment_id, lock=True)
            if row.state not in expected:
                raise StaleTransition(commitment_id, row.state)
            if (row.lease_owner not in (None, owner)
                    and row.lease_until is not None and row.lease_until > at):
                raise StaleTransition(commitment_id, row.state, leased_by=row.lease_owner)
            row.state = new
            row.updated_at = at
            row.lease_owner = owner if lease_until is not None else None
            row.lease_until = None if lease_until is None else utc(lease_until)
            if not isinstance(result, Unset):
                row.result = None if result is None else dict(result)
            if not isinstance(error, Unset):
                row.error = error
            if not isinstance(next_attempt_at, Unset):
                row.next_attempt_at = None if next_attempt_at is None else utc(next_attempt_at)
            if attempt is not None:
                session.add(CommitmentAttempt(
                    id=str(uuid.uuid4()), commitment_id=row.id, business_id=self.business_id,
                    seq=row.attempts, started_at=utc(attempt.started_at),
                    finished_at=utc(attempt.finished_at), outcome=attempt.outcome,
                    error=attempt.error, latency_ms=attempt.latency_ms,
                ))
                row.attempts += 1
            session.flush()
            session.refresh(row)
            return _commitment(row)

    def set_told(
        self, commitment_id: str, *, told: str, heard: bool, now: datetime
    ) -> CommitmentRecord:
        """Record what the caller was told and whether they heard it whole; any state."""
        if told not in TOLD_VALUES:
            raise ValueError(f"unknown told value {told!r} "
                             f"(one of {', '.join(sorted(TOLD_VALUES))})")
        at = utc(now)
        with self._store._session(write=True) as session:
            row = self._row(session, commitment_id, lock=True)
            row.told = told
            row.told_heard = heard
            row.updated_at = at
            session.flush()
            return _commitment(row)

    # -- leases --------------------------------------------------------------------------

    def claim_commitments(
        self,
        *,
        now: datetime,
        owner: str,
        lease_s: float,
        limit: int,
        states: Collection[str],
        kinds: Collection[str] | None = None,
    ) -> list[CommitmentRecord]:
        """Lease up to ``limit`` due commitments in ``states`` to ``owner`` for ``lease_s``.

        Due: ``next_attempt_at`` unset or reached, and no live lease. Oldest due first.
        PostgreSQL skips rows another claimer has locked (``FOR UPDATE SKIP LOCKED``) and
        re-checks the lease of rows it waited for; SQLite's write transaction keeps other
        claimers out altogether. Either way no row is leased to two owners at once.
        ``updated_at`` is left alone: it dates what the commitment says, not who works on it.
        """
        _check_text("owner", owner, 64)
        _check_states(states)
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        if limit <= 0:
            return []
        at = utc(now)
        query = select(Commitment).where(
            Commitment.business_id == self.business_id,
            Commitment.state.in_(list(states)),
            or_(Commitment.next_attempt_at.is_(None), Commitment.next_attempt_at <= at),
            or_(Commitment.lease_until.is_(None), Commitment.lease_until < at),
        )
        if kinds is not None:
            query = query.where(Commitment.kind.in_(list(kinds)))
        query = (
            query.order_by(func.coalesce(Commitment.next_attempt_at, Commitment.created_at),
                           Commitment.created_at, Commitment.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # SQLite renders no FOR UPDATE
        )
        until = at + timedelta(seconds=lease_s)
        with self._store._session(write=True) as session:
            rows = list(session.scalars(query))
            for row in rows:
                row.lease_owner = owner
                row.lease_until = until
            session.flush()
            return [_commitment(r) for r in rows]

    def release_commitment(
        self,
        commitment_id: str,
        *,
        owner: str | None,
        next_attempt_at: datetime | None,
        now: datetime,
    ) -> CommitmentRecord:
        """End ``owner``'s lease and set when the row is next due; the state is kept.

        ``owner=None`` reschedules a row nobody holds a live lease on (a fresh proposal).
        :class:`StaleTransition` if the lease is not the caller's: another owner has it,
        or it lapsed and the row was taken and let go since.
        """
        at = utc(now)
        due = None if next_attempt_at is None else utc(next_attempt_at)
        with self._store._session(write=True) as session:
            row = self._row(session, commitment_id, lock=True)
            live = row.lease_until is not None and row.lease_until > at
            holder = row.lease_owner if live else None
            if (row.lease_owner != owner) if owner is not None else (holder is not None):
                raise StaleTransition(commitment_id, row.state, leased_by=holder)
            row.lease_owner = None
            row.lease_until = None
            row.next_attempt_at = due
            session.flush()
            return _commitment(row)

    def list_attempts(self, commitment_id: str) -> list[AttemptRecord]:
        with self._store._session() as session:
            rows = session.scalars(
                select(CommitmentAttempt)
                .where(CommitmentAttempt.business_id == self.business_id,
                       CommitmentAttempt.commitment_id == commitment_id)
                .order_by(CommitmentAttempt.seq)
            )
            return [_attempt(r) for r in rows]

    # -- findings ------------------------------------------------------------------------

    def add_finding(
        self,
        *,
        dedupe_key: str,
        kind: str,
        detail: Mapping[str, Any],
        action: str,
        commitment_id: str | None = None,
        now: datetime,
    ) -> tuple[FindingRecord, bool]:
        """Record a reconciliation finding once: a second report with the same
        ``dedupe_key`` returns the first (False), however its details differ."""
        _check_text("dedupe key", dedupe_key, 128)
        _check_text("finding kind", kind, 24)
        _check_text("finding action", action, 16)
        at = utc(now)

        def find() -> FindingRecord | None:
            with self._store._session() as session:
                row = self._finding_by_key(session, dedupe_key)
                return None if row is None else _finding(row)

        def insert() -> tuple[FindingRecord, bool]:
            with self._store._session(write=True) as session:
                existing = self._finding_by_key(session, dedupe_key)
                if existing is not None:
                    return _finding(existing), False
                if commitment_id is not None:
                    self._row(session, commitment_id)
                row = Finding(
                    id=str(uuid.uuid4()), business_id=self.business_id,
                    commitment_id=commitment_id, kind=kind, detail=dict(detail),
                    action=action, dedupe_key=dedupe_key, found_at=at, resolved_at=None,
                    resolution=None,
                )
                session.add(row)
                session.flush()
                session.refresh(row)
                return _finding(row), True

        return _once(find, insert)

    def _finding_by_key(self, session: Session, dedupe_key: str) -> Finding | None:
        return session.scalar(
            select(Finding).where(
                Finding.business_id == self.business_id, Finding.dedupe_key == dedupe_key
            )
        )

    def list_findings(self, *, open_only: bool = False) -> list[FindingRecord]:
        """Findings oldest first; ``open_only`` leaves out the resolved ones."""
        query = select(Finding).where(Finding.business_id == self.business_id)
        if open_only:
            query = query.where(Finding.resolved_at.is_(None))
        with self._store._session() as session:
            rows = session.scalars(query.order_by(Finding.found_at, Finding.id))
            return [_finding(r) for r in rows]

    def resolve_finding(self, finding_id: str, *, resolution: str, now: datetime) -> FindingRecord:
        """Close a finding. Already closed: returned unchanged (the first resolution and
        its time stand, so a retried resolve does not rewrite history)."""
        at = utc(now)
        with self._store._session(write=True) as session:
            row = session.scalar(
                select(Finding)
                .where(Finding.business_id == self.business_id, Finding.id == finding_id)
                .with_for_update()
            )
            if row is None:
                raise _missing("finding", finding_id, self.business_id)
            if row.resolved_at is None:
                row.resolved_at = at
                row.resolution = resolution
                session.flush()
            return _finding(row)
