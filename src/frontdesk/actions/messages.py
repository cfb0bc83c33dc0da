"""Taking a message as a commitment: stored exactly once, said only once stored.

A message is written to the store (the built-in backend), keyed by the session and the
message, so a caller who repeats it, or the outbox replaying a commitment a crash left
pending, never leaves two copies for the team.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from frontdesk.actions.ledger import Ledger, idempotency_key
from frontdesk.store import (
    C_COMMITTED,
    C_PENDING,
    AttemptOutcome,
    CommitmentRecord,
    MessageRecord,
)

__all__ = ["KIND_MESSAGE", "resolve_message", "take_message"]

KIND_MESSAGE = "message"
_GRACE = timedelta(seconds=30)  # the outbox leaves a message being taken alone this long


async def take_message(
    ledger: Ledger, *, session_id: str, call_id: str | None, name: str | None,
    phone: str | None, text: str,
) -> tuple[CommitmentRecord, MessageRecord]:
    """Store the message under the ledger; the committed commitment and the stored row."""
    key = idempotency_key(session_id, KIND_MESSAGE, {"name": name, "text": text})
    payload = {"caller_name": name, "caller_phone": phone, "text": text, "call_id": call_id}
    commitment, _ = await asyncio.to_thread(
        ledger.propose, kind=KIND_MESSAGE, key=key, connector="builtin", payload=payload,
        call_id=call_id, start_after=_GRACE)
    return await resolve_message(ledger, commitment)


async def resolve_message(
    ledger: Ledger, commitment: CommitmentRecord, *, owner: str | None = None,
) -> tuple[CommitmentRecord, MessageRecord]:
    """Bring a message commitment to committed (a no-op if it already is)."""
    store = ledger.store
    started = ledger.clock()
    if commitment.state != C_COMMITTED:
        commitment = await asyncio.to_thread(
            ledger.begin, commitment, owner=owner or f"msg:{commitment.id}",
            until=started + _GRACE)
    p = commitment.payload
    record = await asyncio.to_thread(
        store.add_message, p["text"], call_id=p.get("call_id"), caller_name=p.get("caller_name"),
        caller_phone=p.get("caller_phone"), created_at=started,
        idempotency_key=commitment.key)
    if commitment.state == C_PENDING:
        finished = ledger.clock()
        attempt = AttemptOutcome(started_at=started, finished_at=finished, outcome=C_COMMITTED,
                                 latency_ms=(finished - started).total_seconds() * 1000)
        commitment = await asyncio.to_thread(
            ledger.move, commitment, C_COMMITTED, attempt=attempt, owner=commitment.lease_owner,
            result={"message_id": record.id})
    return commitment, record
