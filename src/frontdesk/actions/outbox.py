"""The outbox: finishes what a call left open, then tells the caller the truth by text.

Each pass (:meth:`Outbox.run_once`) does three things, all driven by rows in the store,
so a restarted process picks up exactly where a killed one stopped:

1. claims due bookings (and messages) that are proposed (the call died before the write began),
   pending (the write's process died; its grace expired) or unknown (timeout, reset,
   unverified acknowledgement), under a lease, and resolves each through the desk:
   look up by idempotency key, write again with the same key if absent, give up after
   ``max_attempts`` with the hold released;
2. proposes the text each settled booking owes its caller (see :func:`owes_text`), as a
   commitment of its own, keyed by the booking and the outcome, so it is sent once;
3. sends due texts (at least once: a maybe-delivered text is retried).

Several outbox workers (processes or machines) may run on one PostgreSQL database: the
claim uses ``FOR UPDATE SKIP LOCKED`` and every state change is a compare-and-set.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from frontdesk.actions.backoff import Backoff
from frontdesk.actions.booking import KIND_BOOK, BookingDesk
from frontdesk.actions.cancelling import KIND_CANCEL, cancel_booking, resolve_cancel
from frontdesk.actions.ledger import (
    TOLD_CONFIRMED,
    TOLD_DECLINED,
    TOLD_TEXT_PROMISED,
    idempotency_key,
)
from frontdesk.actions.messages import KIND_MESSAGE, resolve_message
from frontdesk.actions.notify import KIND_SMS, SmsError, SmsSender, notice_text
from frontdesk.store import (
    BOOKING_CONFIRMED,
    C_COMMITTED,
    C_FAILED,
    C_PENDING,
    C_PROPOSED,
    C_UNKNOWN,
    AttemptOutcome,
    BusinessStore,
    CommitmentRecord,
    StaleTransition,
)

__all__ = ["Outbox", "OutboxPass", "call_over", "owes_text"]

log = logging.getLogger(__name__)
# A call row still "active" this long after it started is a crashed call, not a live one.
_STALE_CALL = timedelta(hours=2)
SMS_RETRY = Backoff(base_s=10.0, cap_s=600.0, floor_s=5.0)


@dataclass
class OutboxPass:
    bookings: dict[str, int] = field(default_factory=dict)  # final state -> count
    messages: int = 0  # messages a crash had left unstored, stored now
    texts_proposed: int = 0
    texts_sent: int = 0
    texts_failed: int = 0

    @property
    def idle(self) -> bool:
        return not self.bookings and not self.messages and not self.texts_proposed \
            and not self.texts_sent and not self.texts_failed


def owes_text(commitment: CommitmentRecord, *, call_over: bool) -> bool:
    """Whether a settled booking (or cancellation) owes its caller a text.

    Committed: unless they heard the confirmation whole. Failed: unless they heard the
    refusal (and were offered other times) on the phone. A promised text is owed at
    once; otherwise only after the call, since the agent may still say it by voice."""
    if commitment.kind not in (KIND_BOOK, KIND_CANCEL) or \
            commitment.state not in (C_COMMITTED, C_FAILED):
        return False
    heard = commitment.told_heard and commitment.told == (
        TOLD_CONFIRMED if commitment.state == C_COMMITTED else TOLD_DECLINED)
    if heard:
        return False
    return call_over or commitment.told == TOLD_TEXT_PROMISED


async def call_over(store: BusinessStore, call_id: str | None, now: datetime) -> bool:
    """Whether the agent can no longer tell the caller anything on this call: it ended,
    or its row is still "active" long after it started (its process died)."""
    if call_id is None:
        return True
    call = await asyncio.to_thread(store.get_call, call_id)
    return call is None or call.ended_at is not None or now - call.started_at > _STALE_CALL


class Outbox:
    """The outbox worker of one business."""

    def __init__(
        self,
        desk: BookingDesk,
        *,
        sms: SmsSender | None,
        owner: str,
        clock: Callable[[], datetime],
        lease_s: float = 120.0,
        concurrency: int = 8,
        sms_retry: Backoff = SMS_RETRY,
        rng: random.Random | None = None,
    ) -> None:
        self.desk = desk
        self.store: BusinessStore = desk.store
        self.ledger = desk.ledger
        self.sms = sms
        self.owner = owner
        self._clock = clock
        self._lease_s = lease_s
        # Claim no more than can run at once, so no lease ages while its row waits.
        self._batch = concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._sms_retry = sms_retry
        self._rng = rng or random.Random()

    async def run_once(self) -> OutboxPass:
        report = OutboxPass()
        await self._resolve_bookings(report)
        await self._propose_texts(report)
        await self._send_texts(report)
        return report

    # -- 1. bookings ---------------------------------------------------------------------

    async def _resolve_bookings(self, report: OutboxPass) -> None:
        claimed = await asyncio.to_thread(
            self.store.claim_commitments, now=self._clock(), owner=self.owner,
            lease_s=self._lease_s, limit=self._batch,
            states=(C_PROPOSED, C_PENDING, C_UNKNOWN),
            kinds=(KIND_BOOK, KIND_CANCEL, KIND_MESSAGE))
        async with asyncio.TaskGroup() as tg:
            for commitment in claimed:
                tg.create_task(self._resolve_one(commitment, report))

    async def _resolve_one(self, commitment: CommitmentRecord, report: OutboxPass) -> None:
        if commitment.kind == KIND_MESSAGE:  # the store is its backend: finish it now
            try:
                await resolve_message(self.ledger, commitment, owner=self.owner)
            except StaleTransition:
                return
            report.messages += 1
            return
        if self.desk.executor.circuit_open():
            # the backend is known down: an attempt would only burn one of the few it
            # gets before the booking is given up; come back after the cool-down
            await self._release(commitment, self.desk.executor.cooldown_s)
            return
        resolve = resolve_cancel if commitment.kind == KIND_CANCEL else BookingDesk.resolve
        async with self._limit:
            try:
                outcome = await resolve(self.desk, commitment, owner=self.owner)
            except StaleTransition:
                return  # another worker (or the call itself) moved it first
            except Exception:
                log.exception("resolving booking %s failed", commitment.id)
                await self._release(commitment, 30.0)
                return
        report.bookings[outcome.state] = report.bookings.get(outcome.state, 0) + 1
        replaces = commitment.payload.get("replaces")
        if commitment.kind == KIND_BOOK and outcome.done and replaces:
            await self._cancel_replaced(commitment, replaces)

    async def _cancel_replaced(self, commitment: CommitmentRecord, booking_id: str) -> None:
        """A rescheduled booking committed after its call: now the old one goes (the same
        key the call would have used, so it is cancelled once whoever gets there)."""
        old = await asyncio.to_thread(self.store.get_booking, booking_id)
        if old is None or old.status != BOOKING_CONFIRMED:
            return
        try:
            await cancel_booking(self.desk, session_id=commitment.payload["session_id"],
                                 call_id=commitment.call_id, booking=old)
        except StaleTransition:
            pass  # the call (or another worker) is cancelling it right now

    # -- 2. which texts are owed ---------------------------------------------------------

    async def _propose_texts(self, report: OutboxPass) -> None:
        settled = await asyncio.to_thread(
            self.store.list_commitments, states=(C_COMMITTED, C_FAILED),
            kinds=(KIND_BOOK, KIND_CANCEL))
        for commitment in settled:
            over = await call_over(self.store, commitment.call_id, self._clock())
            if not owes_text(commitment, call_over=over):
                continue
            notice = notice_text(self.desk.profile, commitment)
            if notice is None:
                continue  # no number to text: reconciliation raises a callback task
            key = idempotency_key(commitment.key, KIND_SMS, {"about": notice.about})
            _, created = await asyncio.to_thread(
                self.ledger.propose, kind=KIND_SMS, key=key, connector="sms",
                payload={"to": notice.to, "text": notice.text, "about": notice.about},
                call_id=commitment.call_id, parent_id=commitment.id)
            report.texts_proposed += created


    # -- 3. sending ----------------------------------------------------------------------

    async def _send_texts(self, report: OutboxPass) -> None:
        if self.sms is None:
            return  # no carrier configured: texts wait (reconciliation reports them)
        claimed = await asyncio.to_thread(
            self.store.claim_commitments, now=self._clock(), owner=self.owner,
            lease_s=self._lease_s, limit=self._batch,
            states=(C_PROPOSED, C_PENDING, C_UNKNOWN), kinds=(KIND_SMS,))
        for commitment in claimed:
            try:
                await self._send_one(commitment, report)
            except StaleTransition:
                continue

    async def _send_one(self, commitment: CommitmentRecord, report: OutboxPass) -> None:
        assert self.sms is not None
        move = functools.partial(self.ledger.move, owner=self.owner)
        # a send cut off by a crash (pending) is sent again: texts go at least once
        commitment = await asyncio.to_thread(
            self.ledger.begin, commitment, owner=self.owner,
            until=self._clock() + timedelta(seconds=self._lease_s))
        started = self._clock()
        payload = commitment.payload
        try:
            message_id = await self.sms.send(to=payload["to"], text=payload["text"])
        except SmsError as error:
            attempt = self._attempt(started, "failed" if not error.retryable else "unknown",
                                    str(error))
            if error.retryable:
                delay = self._sms_retry.delay(commitment.attempts, self._rng)
                await asyncio.to_thread(move, commitment, C_UNKNOWN, attempt=attempt,
                                        error=str(error),
                                        retry_at=self._clock() + timedelta(seconds=delay))
            else:
                await asyncio.to_thread(move, commitment, C_FAILED, attempt=attempt,
                                        error=str(error))
                report.texts_failed += 1
            return
        await asyncio.to_thread(move, commitment, C_COMMITTED,
                                attempt=self._attempt(started, "committed", None),
                                result={"message_id": message_id})
        report.texts_sent += 1

    def _attempt(self, started: datetime, outcome: str, error: str | None) -> AttemptOutcome:
        now = self._clock()
        return AttemptOutcome(started_at=started, finished_at=now, outcome=outcome,
                              error=error, latency_ms=(now - started).total_seconds() * 1000)

    async def _release(self, commitment: CommitmentRecord, after_s: float) -> None:
        try:
            await asyncio.to_thread(
                self.store.release_commitment, commitment.id, owner=self.owner,
                next_attempt_at=self._clock() + timedelta(seconds=after_s),
                now=self._clock())
        except StaleTransition:
            pass

