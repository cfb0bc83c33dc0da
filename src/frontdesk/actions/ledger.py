"""The commitment ledger: the one module through which a side effect changes state.

Every side effect (book, reschedule, cancel, message, SMS) is a commitment row keyed by
an idempotency key derived from the session and the intent, so the same request made
twice (a retry, a reconnect, a caller who says "yes" twice, a restarted process) finds
the same row instead of acting twice.

States move along :data:`EDGES` only, each move a compare-and-set in one transaction
(the store refuses a move from a state the row is no longer in), with the attempt that
caused it appended to the row's history:

    proposed → pending → committed | failed | unknown
    unknown → pending | committed | failed        (the outbox resolves it)
    pending → unknown                             (an attempt abandoned by a crash)
    committed | failed → reconciled               (reconciliation checked the backend)

What the caller was told (confirmed / promised a text / declined) and whether they heard
it whole is kept beside the state: it decides which text message the outbox owes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from frontdesk.store import (
    C_COMMITTED,
    C_FAILED,
    C_PENDING,
    C_PROPOSED,
    C_RECONCILED,
    C_UNKNOWN,
    UNSET,
    AttemptOutcome,
    BusinessStore,
    CommitmentRecord,
    Unset,
)

__all__ = [
    "EDGES",
    "IllegalTransition",
    "Ledger",
    "idempotency_key",
]

EDGES: Final[Mapping[str, frozenset[str]]] = {
    C_PROPOSED: frozenset({C_PENDING}),
    C_PENDING: frozenset({C_COMMITTED, C_FAILED, C_UNKNOWN}),
    C_UNKNOWN: frozenset({C_PENDING, C_COMMITTED, C_FAILED}),
    C_COMMITTED: frozenset({C_RECONCILED}),
    C_FAILED: frozenset({C_RECONCILED}),
    C_RECONCILED: frozenset(),
}
TOLD_CONFIRMED: Final = "confirmed"
TOLD_TEXT_PROMISED: Final = "text_promised"
TOLD_DECLINED: Final = "declined"


class IllegalTransition(ValueError):
    """A move the state machine does not have (a bug in the caller, not a race)."""


def idempotency_key(session_id: str, kind: str, intent: Mapping[str, Any]) -> str:
    """A stable key for "this session asked for this side effect".

    ``intent`` holds only what defines the request (for a booking: service and start in
    UTC), canonicalised as sorted JSON, so the same request always maps to the same key
    and a different one never does. 32 hex digits (128 bits) fit every backend's id field.
    """
    canonical = json.dumps(intent, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{session_id}\0{kind}\0{canonical}".encode()).hexdigest()
    return digest[:32]


class Ledger:
    """State changes of one business's commitments. Synchronous: run it in a thread from
    async code (every method is one short transaction)."""

    def __init__(self, store: BusinessStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self._clock = clock

    def propose(
        self,
        *,
        kind: str,
        key: str,
        connector: str,
        payload: Mapping[str, Any],
        call_id: str | None = None,
        parent_id: str | None = None,
        start_after: timedelta = timedelta(0),
    ) -> tuple[CommitmentRecord, bool]:
        """The commitment for ``key``, created if new (``True``) or the existing one.

        ``start_after`` is when the outbox may pick a proposal up if nobody began it (an
        in-call write gets a grace so the outbox does not race the caller's own turn)."""
        now = self._clock()
        return self.store.propose_commitment(
            key=key, kind=kind, connector=connector, payload=dict(payload),
            call_id=call_id, parent_id=parent_id, now=now,
            next_attempt_at=now + start_after if start_after else None,
        )

    def move(
        self,
        record: CommitmentRecord,
        new: str,
        *,
        attempt: AttemptOutcome | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        retry_at: datetime | None | Unset = UNSET,
        owner: str | None = None,
        hold_until: datetime | None = None,
    ) -> CommitmentRecord:
        """Move ``record`` from the state it was read in to ``new``.

        Raises :class:`IllegalTransition` for an edge the machine lacks, and the store's
        ``StaleTransition`` when the row is no longer in ``record.state`` (another worker
        moved it) or is leased, live, to someone else. ``hold_until`` keeps the row
        leased to ``owner`` (an attempt in flight) so the outbox does not take it over."""
        if new not in EDGES.get(record.state, frozenset()):
            raise IllegalTransition(f"{record.kind} {record.id}: {record.state} → {new}")
        kwargs: dict[str, Any] = {"next_attempt_at": retry_at}
        if result is not None:
            kwargs["result"] = result
        if error is not None or new == C_COMMITTED:
            kwargs["error"] = error
        return self.store.transition_commitment(
            record.id, expected=(record.state,), new=new, now=self._clock(),
            attempt=attempt, owner=owner, lease_until=hold_until, **kwargs,
        )

    def begin(self, record: CommitmentRecord, *, owner: str,
              until: datetime) -> CommitmentRecord:
        """Take ``record`` into an attempt (``pending``), held by ``owner`` until ``until``.

        A ``pending`` row (its attempt died with its process, or its holder overran the
        lease) first becomes ``unknown``: what it wrote, if anything, is not known."""
        if record.state == C_PENDING:
            record = self.move(record, C_UNKNOWN, owner=owner, error="attempt abandoned")
        return self.move(record, C_PENDING, owner=owner, retry_at=until, hold_until=until)

    def told(self, record_id: str, told: str, *, heard: bool) -> CommitmentRecord:
        """Durably note what the caller was told; called before the words are spoken
        (``heard=False``) and again once playout shows they were heard whole."""
        return self.store.set_told(record_id, told=told, heard=heard, now=self._clock())

    def get(self, record_id: str) -> CommitmentRecord | None:
        return self.store.get_commitment(record_id)
