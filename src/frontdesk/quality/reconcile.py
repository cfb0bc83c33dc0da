"""False-success reconciliation: what the caller was told against what the backend holds.

For every settled booking commitment the backend is asked for the idempotency key:

- committed but absent ("said booked, not there"): a callback task; the booking is not
  put back automatically, since the business may have removed it on purpose;
- committed but held twice, or at another time: a callback task (a person must choose);
- failed but present (a late write landed after we gave up and told the caller it did
  not): the stray booking is cancelled, so the calendar matches what the caller heard;
- cancelled but still there: deleted again, else a callback task;
- committed, present, and the caller heard it or was texted: the commitment is
  ``reconciled``; it is still checked on every run until its appointment has begun,
  because a backend can lose a booking any time before the customer turns up.

A range scan then looks for what no commitment explains: two bookings under one key,
the same caller twice at the same time under different keys, and frontdesk-keyed
bookings the ledger does not know. The transcript is checked too: an agent turn that
says "is booked for" in a call without a committed booking is a false confirmation.

Every finding is stored once (deduplicated), logged as an alert, and listed by
``frontdesk reconcile``; open callback tasks stay open until a person resolves them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from frontdesk.actions.booking import KIND_BOOK, BookingDesk
from frontdesk.actions.cancelling import KIND_CANCEL
from frontdesk.actions.connectors.base import (
    BackendBooking,
    Connector,
    ConnectorError,
    Uncertain,
)
from frontdesk.actions.ledger import TOLD_CONFIRMED, TOLD_DECLINED
from frontdesk.actions.notify import KIND_SMS
from frontdesk.actions.outbox import call_over
from frontdesk.store import (
    C_COMMITTED,
    C_FAILED,
    C_RECONCILED,
    BusinessStore,
    CommitmentRecord,
    FindingRecord,
    StaleTransition,
)

__all__ = ["BOOKED_PHRASE", "ReconcileReport", "Reconciler"]

log = logging.getLogger(__name__)
T = TypeVar("T")
BOOKED_PHRASE = " is booked for "  # how every spoken confirmation reads (receptionist)

MISSING, DUPLICATE, WRONG_TIME, ORPHAN = "missing", "duplicate", "wrong_time", "orphan"
UNTRACKED, UNINFORMED, FALSE_CONFIRMATION = "untracked", "uninformed", "false_confirmation"
STILL_BOOKED = "still_booked"
ACTION_CALLBACK, ACTION_CANCELLED = "callback", "cancelled"


@dataclass
class ReconcileReport:
    checked: int = 0
    reconciled: int = 0
    unreachable: int = 0  # commitments the backend could not be asked about this time
    findings: list[FindingRecord] = field(default_factory=list)  # new in this run

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for finding in self.findings:
            counts[finding.kind] += 1
        return dict(counts)


class Reconciler:
    def __init__(
        self, desk: BookingDesk, *, clock: Callable[[], datetime], request_s: float = 8.0,
    ) -> None:
        self.desk = desk
        self.store: BusinessStore = desk.store
        self.connector: Connector = desk.executor.connector
        self.ledger = desk.ledger
        self._clock = clock
        self._request_s = request_s

    async def run(self, *, call_id: str | None = None,
                  horizon: timedelta = timedelta(days=90)) -> ReconcileReport:
        """Check the settled bookings (of one call, or all), then scan the backend."""
        report = ReconcileReport()
        everything = await asyncio.to_thread(
            self.store.list_commitments, call_id=call_id, kinds=(KIND_BOOK, KIND_CANCEL))
        now = self._clock()
        due = [c for c in everything if c.state in (C_COMMITTED, C_FAILED) or (
            c.state == C_RECONCILED and _upcoming(c, now))]
        cancelled = {c.payload.get("booking_key") for c in everything if c.kind == KIND_CANCEL
                     and (c.state == C_COMMITTED or _was_done(c))}
        commitments = [c for c in everything if c.kind == KIND_BOOK]
        for commitment in due:
            if commitment.kind == KIND_CANCEL:
                await self._check_cancel(commitment, report)
            elif commitment.key not in cancelled:  # a cancelled booking should be gone
                await self._check(commitment, report)
        if call_id is None:
            await self._scan(commitments, report, horizon)
        await self._transcripts(commitments, call_id, report)
        return report

    # -- one commitment ------------------------------------------------------------------

    async def _check(self, commitment: CommitmentRecord, report: ReconcileReport) -> None:
        report.checked += 1
        try:
            held = [b for b in await self._ask(self.connector.find(commitment.key))
                    if b.key == commitment.key]
        except ConnectorError as error:
            report.unreachable += 1
            log.info("reconcile: %s unreachable for %s: %s", self.connector.name,
                     commitment.id, error)
            return
        if commitment.state == C_FAILED or not _was_booked(commitment):
            await self._check_failed(commitment, held, report)
            return
        expected = datetime.fromisoformat((commitment.result or commitment.payload)["start"])
        if not held:  # lost, or removed by someone: a person must find out which
            await self._find(report, commitment, MISSING, ACTION_CALLBACK, {
                "start": expected.isoformat(), "told": commitment.told,
                "heard": commitment.told_heard})
        elif len(held) > 1:
            await self._find(report, commitment, DUPLICATE, ACTION_CALLBACK,
                             {"copies": [b.external_id for b in held]})
        elif held[0].start != expected:
            await self._find(report, commitment, WRONG_TIME, ACTION_CALLBACK, {
                "told": expected.isoformat(), "held": held[0].start.isoformat()})
        elif await self._informed(commitment, TOLD_CONFIRMED):
            await self._settle(commitment, report)
        else:
            await self._unless_texted(commitment, report)

    async def _check_cancel(self, commitment: CommitmentRecord,
                            report: ReconcileReport) -> None:
        """Said cancelled: the booking must be gone; a failed cancel needs no check."""
        report.checked += 1
        key = commitment.payload.get("booking_key")
        if commitment.state == C_FAILED or not _was_done(commitment) or not key:
            if await self._informed(commitment, TOLD_DECLINED if commitment.state == C_FAILED
                                    else TOLD_CONFIRMED):
                await self._settle(commitment, report)
            else:
                await self._unless_texted(commitment, report)
            return
        try:
            held = [b for b in await self._ask(self.connector.find(key)) if b.key == key]
        except ConnectorError:
            report.unreachable += 1
            return
        if held:
            result = await self.desk.executor.remove(key, budget_s=self._request_s * 2,
                                                     request_s=self._request_s)
            action = ACTION_CANCELLED if result.outcome == "committed" else ACTION_CALLBACK
            await self._find(report, commitment, STILL_BOOKED, action,
                             {"held": held[0].external_id, "steps": list(result.steps)})
        elif await self._informed(commitment, TOLD_CONFIRMED):
            await self._settle(commitment, report)
        else:
            await self._unless_texted(commitment, report)

    async def _check_failed(self, commitment: CommitmentRecord, held: list[BackendBooking],
                            report: ReconcileReport) -> None:
        if held:
            # Told "not booked" (or about to be texted so), yet it is there: remove it.
            try:
                removed = await self._ask(self.connector.cancel(commitment.key))
            except ConnectorError as error:
                await self._find(report, commitment, ORPHAN, ACTION_CALLBACK,
                                 {"held": held[0].external_id, "cancel_error": str(error)})
                return
            await self._find(report, commitment, ORPHAN, ACTION_CANCELLED,
                             {"held": held[0].external_id, "removed": removed})
            return
        if await self._informed(commitment, TOLD_DECLINED):
            await self._settle(commitment, report)
        else:
            await self._unless_texted(commitment, report)

    async def _informed(self, commitment: CommitmentRecord, told: str) -> bool:
        """Did the caller hear this outcome whole on the phone, or get a text about it?"""
        if commitment.state == C_RECONCILED:
            return True  # checked before: nothing to settle again
        if commitment.told == told and commitment.told_heard:
            return True
        texts = await asyncio.to_thread(
            self.store.list_commitments, parent_id=commitment.id, kinds=(KIND_SMS,),
            states=(C_COMMITTED,))
        return bool(texts)

    async def _unless_texted(self, commitment: CommitmentRecord,
                             report: ReconcileReport) -> None:
        """The caller did not hear the outcome and no text can tell them (no number, no
        carrier, or the text failed for good): a person has to call them."""
        if not await call_over(self.store, commitment.call_id, self._clock()):
            return  # the agent may still say it, or the outbox still text it
        why = None
        if not commitment.payload.get("customer_phone"):
            why = "no number to text"
        elif not self.desk.can_text:
            why = "no carrier configured to text through"
        else:
            texts = await asyncio.to_thread(self.store.list_commitments,
                                            parent_id=commitment.id, kinds=(KIND_SMS,))
            if texts and all(t.state == C_FAILED for t in texts):
                why = "the text could not be sent"
        if why is not None:
            await self._find(report, commitment, UNINFORMED, ACTION_CALLBACK, {
                "why": why, "state": commitment.state, "told": commitment.told})

    async def _settle(self, commitment: CommitmentRecord, report: ReconcileReport) -> None:
        if commitment.state == C_RECONCILED:
            return
        try:
            await asyncio.to_thread(self.ledger.move, commitment, C_RECONCILED)
        except StaleTransition:
            return
        report.reconciled += 1

    # -- the backend as a whole ----------------------------------------------------------

    async def _scan(self, commitments: list[CommitmentRecord], report: ReconcileReport,
                    horizon: timedelta) -> None:
        now = self._clock()
        try:
            held = await self._ask(self.connector.list_range(now - timedelta(days=1),
                                                             now + horizon))
        except ConnectorError as error:
            log.info("reconcile: cannot scan %s: %s", self.connector.name, error)
            return
        known = {c.key: c for c in commitments}
        by_key: dict[str, list[BackendBooking]] = defaultdict(list)
        by_slot: dict[tuple[str, datetime], set[str]] = defaultdict(set)
        for booking in held:
            if booking.key:
                by_key[booking.key].append(booking)
            if booking.customer_phone:
                by_slot[(booking.customer_phone, booking.start)].add(booking.key)
        for key, copies in by_key.items():
            commitment = known.get(key)
            if len(copies) > 1:
                await self._find(report, commitment, DUPLICATE, ACTION_CALLBACK,
                                 {"key": key, "copies": [b.external_id for b in copies]})
            elif commitment is None and len(key) == 32:
                await self._find(report, None, UNTRACKED, ACTION_CALLBACK,
                                 {"key": key, "held": copies[0].external_id})
        for (phone, start), keys in by_slot.items():
            if len(keys) > 1:
                await self._find(report, None, DUPLICATE, ACTION_CALLBACK, {
                    "phone": phone, "start": start.isoformat(), "keys": sorted(keys)})

    async def _transcripts(self, commitments: list[CommitmentRecord], call_id: str | None,
                           report: ReconcileReport) -> None:
        """An agent turn that says "is booked for" needs a committed booking in its call."""
        call_ids = {call_id} if call_id else {c.call_id for c in commitments if c.call_id}
        booked = {c.call_id for c in commitments
                  if c.state in (C_COMMITTED, C_RECONCILED) and c.call_id}
        for cid in sorted(call_ids - booked):
            turns = await asyncio.to_thread(self.store.list_turns, cid)
            said = [t.index for t in turns if BOOKED_PHRASE in t.agent_text_played]
            if said:
                await self._find(report, None, FALSE_CONFIRMATION, ACTION_CALLBACK,
                                 {"call_id": cid, "turns": said})

    # -- plumbing ------------------------------------------------------------------------

    async def _ask(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._request_s):
                return await call
        except TimeoutError:
            raise Uncertain(self.connector.name, "no answer in time") from None

    async def _find(self, report: ReconcileReport, commitment: CommitmentRecord | None,
                    kind: str, action: str, detail: dict[str, Any]) -> None:
        subject = commitment.id if commitment else hashlib.sha256(
            json.dumps(detail, sort_keys=True, default=str).encode()).hexdigest()[:40]
        finding, created = await asyncio.to_thread(
            self.store.add_finding, dedupe_key=f"{kind}:{subject}"[:128], kind=kind,
            detail=detail, action=action, commitment_id=commitment.id if commitment else None,
            now=self._clock())
        auto = action == ACTION_CANCELLED
        if not created and auto and finding.resolved_at is None:
            # a callback raised earlier that a later run has now corrected
            await asyncio.to_thread(self.store.resolve_finding, finding.id,
                                    resolution=f"auto: {action} on a later run",
                                    now=self._clock())
            log.warning("reconcile %s for %s corrected: %s", kind, subject, action)
        if created and auto:
            # corrected already: an alert to read, not a task for anyone
            finding = await asyncio.to_thread(
                self.store.resolve_finding, finding.id, resolution=f"auto: {action}",
                now=self._clock())
        if created:
            report.findings.append(finding)
            log.warning("ALERT reconcile %s (%s) for %s: %s", kind, action,
                        commitment.id if commitment else "backend", detail)


def _was_done(commitment: CommitmentRecord) -> bool:
    """A cancel that committed (a reconciled one keeps its committed result)."""
    return commitment.state == C_COMMITTED or bool((commitment.result or {}).get("cancelled"))


def _was_booked(commitment: CommitmentRecord) -> bool:
    """Committed at some point (a reconciled commitment keeps its committed result)."""
    return commitment.state == C_COMMITTED or "external_id" in (commitment.result or {})


def _upcoming(commitment: CommitmentRecord, now: datetime) -> bool:
    start = datetime.fromisoformat((commitment.result or commitment.payload).get(
        "start", commitment.payload["start"]))
    return start > now
