"""Cancelling a booking as a commitment: said cancelled only once the backend lost it.

The cancel commitment is keyed by the session and the booking, so "yes, cancel it" said
twice cancels once. The backend delete is verified by a read-back by key; the local row
is marked cancelled only after that. Unknown (no clear answer in time) is finished by the
outbox like a booking, and the caller is promised a text.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, timedelta

from frontdesk.actions.booking import BookingDesk, BookingOutcome
from frontdesk.actions.executor import WriteResult
from frontdesk.actions.ledger import idempotency_key
from frontdesk.store import (
    BOOKING_CANCELLED,
    C_COMMITTED,
    C_FAILED,
    C_UNKNOWN,
    AttemptOutcome,
    BookingRecord,
    CommitmentRecord,
    StaleTransition,
)

__all__ = ["KIND_CANCEL", "cancel_booking", "resolve_cancel"]

KIND_CANCEL = "cancel"


async def cancel_booking(desk: BookingDesk, *, session_id: str, call_id: str | None,
                         booking: BookingRecord) -> BookingOutcome:
    """Cancel ``booking`` exactly once for this session, within the in-call budget."""
    key = idempotency_key(session_id, KIND_CANCEL, {"booking": booking.id})
    service = desk.profile.service(booking.service_id)
    payload = {
        "booking_id": booking.id, "booking_key": booking.idempotency_key,
        "service_id": booking.service_id, "service_name": service.name,
        "start": booking.start_at.astimezone(UTC).isoformat(),
        "end": booking.end_at.astimezone(UTC).isoformat(),
        "customer_name": booking.customer_name, "customer_phone": booking.customer_phone,
        "call_id": call_id,
    }
    grace = timedelta(seconds=desk.settings.grace_s)
    commitment, created = await asyncio.to_thread(
        desk.ledger.propose, kind=KIND_CANCEL, key=key, connector=desk.executor.name,
        payload=payload, call_id=call_id, start_after=grace)
    if not created:
        return await desk.outcome_of(commitment)
    owner = f"call:{session_id}"[:64]
    try:
        commitment = await asyncio.to_thread(desk.ledger.begin, commitment, owner=owner,
                                             until=desk.clock() + grace)
    except StaleTransition:
        return await desk.outcome_of(commitment)
    return await _attempt(desk, commitment, owner=owner,
                          budget_s=desk.settings.in_call_budget_s,
                          request_s=desk.settings.request_s)


async def resolve_cancel(desk: BookingDesk, commitment: CommitmentRecord, *,
                         owner: str) -> BookingOutcome:
    """Finish a cancel a call left unknown (or a crash left pending)."""
    until = desk.clock() + timedelta(seconds=desk.settings.outbox_budget_s * 2)
    commitment = await asyncio.to_thread(desk.ledger.begin, commitment, owner=owner,
                                         until=until)
    return await _attempt(desk, commitment, owner=owner,
                          budget_s=desk.settings.outbox_budget_s,
                          request_s=desk.settings.outbox_request_s)


async def _attempt(desk: BookingDesk, commitment: CommitmentRecord, *, owner: str,
                   budget_s: float, request_s: float) -> BookingOutcome:
    started = desk.clock()
    key = commitment.payload.get("booking_key")
    if key:
        result = await desk.executor.remove(key, budget_s=budget_s, request_s=request_s)
    else:  # a row from before the ledger: only the local calendar holds it
        result = WriteResult("committed", "local row", steps=("local: cancelled",))
    now = desk.clock()
    attempt = AttemptOutcome(started_at=started, finished_at=now, outcome=result.outcome,
                             error="; ".join(result.steps) or None,
                             latency_ms=(now - started).total_seconds() * 1000)
    move = functools.partial(desk.ledger.move, commitment, owner=owner, attempt=attempt)
    try:
        if result.outcome == "committed":
            done = await asyncio.to_thread(
                move, C_COMMITTED, result=dict(commitment.payload) | {"cancelled": True})
        elif result.outcome == "failed":
            done = await asyncio.to_thread(move, C_FAILED, error=result.reason,
                                           result={"code": result.code or "rejected"})
        else:
            delay = desk.settings.retry.delay(commitment.attempts, desk.rng)
            done = await asyncio.to_thread(move, C_UNKNOWN, error=result.reason,
                                           retry_at=now + timedelta(seconds=delay))
    except StaleTransition:  # our lease ran out and another worker took over
        return await desk.outcome_of(commitment)
    if done.state == C_COMMITTED:
        local = await asyncio.to_thread(desk.store.get_booking, commitment.payload["booking_id"])
        if local is not None and local.status != BOOKING_CANCELLED:
            await asyncio.to_thread(desk.store.set_booking_status, local.id, BOOKING_CANCELLED)
    elif done.state == C_UNKNOWN and done.attempts >= desk.settings.max_attempts:
        done = await asyncio.to_thread(  # the caller is texted "not cancelled"
            desk.ledger.move, done, C_FAILED, result={"code": "gave_up"},
            error=f"gave up after {done.attempts} attempts: {result.reason}")
    return BookingOutcome(done)
