"""Booking as a commitment: propose, hold the slot, write the backend, settle the ledger.

:class:`BookingDesk` is what the receptionist and the outbox call. It never returns
words, only the commitment as the ledger now holds it; the brain renders speech from
that state (committed → confirm the stored details, failed → apologise or offer other
times, unknown → promise a text).

With an external backend (CalDAV, CRM) the slot is first *held* in the local calendar
under the idempotency key, so two callers cannot both get the last slot while their
writes are in flight, then written to the backend. A definitive refusal releases the
hold; an unknown outcome keeps it until the outbox resolves the commitment.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from frontdesk.actions.backoff import Backoff
from frontdesk.actions.calendar import Calendar, CalendarError, Slot, SlotUnavailable
from frontdesk.actions.connectors.base import BookingRequest
from frontdesk.actions.connectors.builtin import BuiltinConnector
from frontdesk.actions.executor import Executor, WriteResult
from frontdesk.actions.ledger import Ledger, idempotency_key
from frontdesk.profile import Profile
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    C_COMMITTED,
    C_FAILED,
    C_PROPOSED,
    C_RECONCILED,
    C_UNKNOWN,
    AttemptOutcome,
    BookingConflict,
    BookingRecord,
    BusinessStore,
    CommitmentRecord,
    StaleTransition,
)

__all__ = ["KIND_BOOK", "BookingDesk", "BookingOutcome", "DeskSettings", "request_from"]

log = logging.getLogger(__name__)

KIND_BOOK = "book"


@dataclass(frozen=True)
class DeskSettings:
    """Deadlines sized to the call: the caller hears a filler at ~0.7 s and an answer by
    ``in_call_budget_s`` plus one read-back; the outbox, with nobody waiting, is patient."""

    in_call_budget_s: float = 2.5
    request_s: float = 1.2
    outbox_budget_s: float = 20.0
    outbox_request_s: float = 8.0
    grace_s: float = 30.0  # an in-call attempt owns its commitment this long
    retry: Backoff = Backoff(base_s=5.0, cap_s=300.0, floor_s=2.0)
    max_attempts: int = 8  # outbox attempts before an unknown booking is given up


@dataclass(frozen=True)
class BookingOutcome:
    commitment: CommitmentRecord
    booking: BookingRecord | None = None  # the local row (confirmed, or held while unknown)

    @property
    def state(self) -> str:
        return self.commitment.state

    @property
    def done(self) -> bool:
        """Committed, now or before (a reconciled commitment keeps its result)."""
        result = self.commitment.result or {}
        return self.state == C_COMMITTED or (
            self.state == C_RECONCILED and ("external_id" in result or "cancelled" in result))

    @property
    def refused(self) -> bool:
        return self.state == C_FAILED or (self.state == C_RECONCILED and not self.done)

    @property
    def code(self) -> str:
        return str((self.commitment.result or {}).get("code", ""))

    @property
    def reason(self) -> str:
        return self.commitment.error or ""


class BookingDesk:
    def __init__(
        self,
        profile: Profile,
        store: BusinessStore,
        *,
        clock: Callable[[], datetime],
        executor: Executor | None = None,
        settings: DeskSettings = DeskSettings(),
        rng: random.Random | None = None,
    ) -> None:
        self.profile = profile
        self.store = store
        self.calendar = Calendar(profile, store)
        self.ledger = Ledger(store, clock)
        self.executor = executor or Executor(BuiltinConnector(self.calendar, clock))
        self.external = self.executor.name != BuiltinConnector.name
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        # Whether the outbox can text callers (a carrier is configured); if not, an
        # unknown outcome is promised a call from the team instead of a text.
        self.can_text = False

    async def aclose(self) -> None:
        close = getattr(self.executor.connector, "aclose", None)
        if close is not None:
            await close()

    # -- in call -------------------------------------------------------------------------

    async def book(
        self, *, session_id: str, call_id: str | None, slot: Slot, name: str,
        phone: str | None, replaces: BookingRecord | None = None,
    ) -> BookingOutcome:
        """Book ``slot`` exactly once for this session, within the in-call budget.

        ``replaces`` (a reschedule) is recorded with the commitment: whoever sees it
        commit (the call, or the outbox later) then cancels the old booking."""
        key = self.key_for(session_id, slot)
        request = BookingRequest(
            key=key, service_id=slot.service_id,
            service_name=self.profile.service(slot.service_id).name, start=slot.start,
            end=slot.end, customer_name=name, customer_phone=phone, call_id=call_id,
            business_name=self.profile.business.name, resource_id=slot.resource_id,
        )
        grace = timedelta(seconds=self.settings.grace_s)
        payload = _payload(request) | {"session_id": session_id,
                                       "replaces": replaces.id if replaces else None}
        commitment, created = await asyncio.to_thread(
            self.ledger.propose, kind=KIND_BOOK, key=key, connector=self.executor.name,
            payload=payload, call_id=call_id, start_after=grace,
        )
        if not created:  # asked before in this session: report, never act twice
            return await self.outcome_of(commitment)
        owner = f"call:{session_id}"[:64]
        try:
            commitment = await asyncio.to_thread(
                self.ledger.begin, commitment, owner=owner, until=self.clock() + grace)
        except StaleTransition:  # the outbox got there first (a very slow turn)
            return await self.outcome_of(commitment)
        return await self._attempt(
            commitment, request, owner=owner, budget_s=self.settings.in_call_budget_s,
            request_s=self.settings.request_s, maybe_landed=False)

    def key_for(self, session_id: str, slot: Slot) -> str:
        """The idempotency key of booking ``slot`` in this session."""
        return idempotency_key(session_id, KIND_BOOK, {
            "service": slot.service_id, "start": slot.start.astimezone(UTC).isoformat()})

    async def hold(self, *, session_id: str, call_id: str | None, slot: Slot,
                   name: str | None, phone: str | None) -> BookingRecord | None:
        """Keep ``slot`` for a caller whose call dropped before it was booked. The hold
        is stored under the key the booking will use, so booking it later (on the
        callback) turns this very row into the booking; None if the slot is gone."""
        try:
            return await asyncio.to_thread(
                self.calendar.book, slot, customer_name=name or "caller", customer_phone=phone,
                call_id=call_id, now=self.clock(), idempotency_key=self.key_for(session_id, slot),
                hold=True)
        except CalendarError:
            return None

    async def release(self, *, session_id: str, slot: Slot) -> None:
        """Give up a dropped caller's hold (the session expired, or they declined)."""
        local = await asyncio.to_thread(self.store.get_booking_by_key,
                                        self.key_for(session_id, slot))
        if local is not None and local.status == BOOKING_HELD:
            await asyncio.to_thread(self.store.set_booking_status, local.id, BOOKING_CANCELLED)

    # -- outbox --------------------------------------------------------------------------

    async def resolve(self, commitment: CommitmentRecord, *, owner: str) -> BookingOutcome:
        """Finish a proposed, abandoned (pending) or unknown booking after the call."""
        request = request_from(commitment)
        maybe_landed = commitment.state != C_PROPOSED or commitment.attempts > 0
        until = self.clock() + timedelta(seconds=self.settings.outbox_budget_s * 2)
        commitment = await asyncio.to_thread(self.ledger.begin, commitment, owner=owner,
                                             until=until)
        outcome = await self._attempt(
            commitment, request, owner=owner, budget_s=self.settings.outbox_budget_s,
            request_s=self.settings.outbox_request_s, maybe_landed=maybe_landed)
        if outcome.state == C_UNKNOWN and outcome.commitment.attempts >= \
                self.settings.max_attempts:
            failed = await asyncio.to_thread(
                self.ledger.move, outcome.commitment, C_FAILED, result={"code": "gave_up"},
                error=f"gave up after {outcome.commitment.attempts} attempts: "
                      f"{outcome.reason}")
            await self._release(request.key)
            return BookingOutcome(failed)
        return outcome

    async def outcome_of(self, commitment: CommitmentRecord) -> BookingOutcome:
        """The outcome as the store now holds it (another worker may have moved it)."""
        current = await asyncio.to_thread(self.store.get_commitment, commitment.id)
        commitment = current or commitment
        local = await asyncio.to_thread(self.store.get_booking_by_key, commitment.key)
        booked = local is not None and local.status == BOOKING_CONFIRMED
        return BookingOutcome(commitment, self.calendar.localize(local) if booked and local
                              else None)

    # -- internals -----------------------------------------------------------------------

    async def _attempt(
        self, commitment: CommitmentRecord, request: BookingRequest, *, owner: str,
        budget_s: float, request_s: float, maybe_landed: bool,
    ) -> BookingOutcome:
        started = self.clock()
        if self.external:
            try:
                await asyncio.to_thread(self._hold, request)
            except CalendarError as error:
                code = "slot_taken" if isinstance(error, SlotUnavailable) else "invalid"
                result = WriteResult("failed", str(error), code=code,
                                     steps=(f"hold: {code} ({error})",))
                return await self._settle(commitment, request, result, started, owner)
        result = await self.executor.write(
            request, budget_s=budget_s, request_s=request_s, maybe_landed=maybe_landed)
        return await self._settle(commitment, request, result, started, owner)

    def _hold(self, request: BookingRequest) -> BookingRecord:
        slot = Slot(request.service_id, request.resource_id or "", request.start, request.end)
        if not slot.resource_id:
            service = self.profile.service(request.service_id)
            slot = Slot(slot.service_id, self.profile.resources_of_kind(
                service.resource_kind)[0].id, slot.start, slot.end)
        return self.calendar.book(
            slot, customer_name=request.customer_name, customer_phone=request.customer_phone,
            call_id=request.call_id, now=self.clock(), idempotency_key=request.key, hold=True)

    async def _settle(
        self, commitment: CommitmentRecord, request: BookingRequest, result: WriteResult,
        started: datetime, owner: str,
    ) -> BookingOutcome:
        """Record the attempt's result in the ledger first (the backend is the truth),
        then bring the local calendar in line."""
        now = self.clock()
        attempt = AttemptOutcome(
            started_at=started, finished_at=now, outcome=result.outcome,
            error="; ".join(result.steps) or None,
            latency_ms=(now - started).total_seconds() * 1000)
        move = functools.partial(self.ledger.move, commitment, owner=owner, attempt=attempt)
        try:
            if result.outcome == "committed":
                assert result.booking is not None
                details = commitment.payload | {
                    "external_id": result.booking.external_id,
                    "start": result.booking.start.astimezone(UTC).isoformat(),
                    "end": result.booking.end.astimezone(UTC).isoformat(),
                }
                done = await asyncio.to_thread(move, C_COMMITTED, result=details)
            elif result.outcome == "failed":
                done = await asyncio.to_thread(move, C_FAILED, error=result.reason,
                                               result={"code": result.code or "rejected"})
            else:
                delay = self.settings.retry.delay(commitment.attempts, self.rng)
                done = await asyncio.to_thread(
                    move, C_UNKNOWN, error=result.reason,
                    result={"code": "maybe_landed" if result.maybe_landed else "not_sent"},
                    retry_at=now + timedelta(seconds=delay))
        except StaleTransition:  # our lease ran out and another worker took over
            log.warning("booking %s moved by another worker during our attempt", commitment.id)
            return await self.outcome_of(commitment)
        if done.state == C_COMMITTED:
            assert result.booking is not None
            local = await asyncio.to_thread(self._confirm_local, request.key,
                                            result.booking.external_id)
            return BookingOutcome(done, local)
        if done.state == C_FAILED:
            await self._release(request.key)
            return BookingOutcome(done)
        return BookingOutcome(done)

    def _confirm_local(self, key: str, external_id: str) -> BookingRecord | None:
        local = self.store.get_booking_by_key(key)
        if local is None:
            return None
        if self.external and local.status != BOOKING_CONFIRMED:
            try:
                local = self.store.set_booking_status(local.id, BOOKING_CONFIRMED,
                                                      external_id=external_id)
            except BookingConflict:  # the hold had been released and the slot retaken
                log.error("booking %s is in the backend but its local slot was retaken",
                          key)
                return None
        return self.calendar.localize(local)

    async def _release(self, key: str) -> None:
        """Free the local hold of a booking the backend does not hold."""
        if not self.external:
            return
        local = await asyncio.to_thread(self.store.get_booking_by_key, key)
        if local is not None and local.status != BOOKING_CANCELLED:
            await asyncio.to_thread(self.store.set_booking_status, local.id, BOOKING_CANCELLED)


def _payload(request: BookingRequest) -> dict[str, Any]:
    return {
        "service_id": request.service_id, "service_name": request.service_name,
        "start": request.start.astimezone(UTC).isoformat(),
        "end": request.end.astimezone(UTC).isoformat(),
        "customer_name": request.customer_name, "customer_phone": request.customer_phone,
        "call_id": request.call_id, "business_name": request.business_name,
        "resource_id": request.resource_id,
    }


def request_from(commitment: CommitmentRecord) -> BookingRequest:
    """Rebuild the request from the stored payload alone (the process may be new)."""
    p = commitment.payload
    return BookingRequest(
        key=commitment.key, service_id=p["service_id"], service_name=p["service_name"],
        start=datetime.fromisoformat(p["start"]), end=datetime.fromisoformat(p["end"]),
        customer_name=p["customer_name"], customer_phone=p.get("customer_phone"),
        call_id=p.get("call_id"), business_name=p.get("business_name", ""),
        resource_id=p.get("resource_id"),
    )
