"""What carrier webhooks do, once the route has checked the signature.

An incoming call creates its call row at once (status ``ringing``) with the carrier's id,
so a status callback can always find it, even when the media stream never connects. The
row's id goes back to the carrier inside a one-time stream ticket (see ``tickets.py``);
the media WebSocket claims the row with it. Status callbacks record the carrier's view
(completed, busy, no-answer, failed, canceled; duration) beside our own end reason.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from frontdesk.profile import Profile
from frontdesk.runtime import Runtime
from frontdesk.store import CALLBACK_FAILED, BusinessStore, CallRecord, SessionLeaseLost
from frontdesk.telephony.actions import CarrierActionError
from frontdesk.telephony.config import CarrierSettings
from frontdesk.telephony.telnyx.rest import TelnyxActions
from frontdesk.telephony.tickets import StreamTicket, TicketError
from frontdesk.telephony.twilio import twiml
from frontdesk.telephony.twilio.rest import TwilioActions

log = logging.getLogger(__name__)

# carrier statuses after which the call is over (Twilio CallStatus; Telnyx maps onto these)
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class StreamRefused(Exception):
    """A media WebSocket presented no valid, unused ticket."""


@dataclass(frozen=True)
class IncomingCall:
    business: BusinessStore
    profile: Profile
    call: CallRecord
    ticket: str
    created: bool  # False: a redelivered webhook for a call we already have


@dataclass
class CarrierEdge:
    runtime: Runtime
    settings: CarrierSettings
    twilio: TwilioActions | None = None
    telnyx: TelnyxActions | None = None
    # calls whose media session is over (their rows are final), newest last: what an
    # operator or a test waits on instead of polling the store
    finished: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=1000))
    _finished_changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def session_finished(self, call_id: str) -> None:
        async with self._finished_changed:
            self.finished.append(call_id)
            self._finished_changed.notify_all()

    async def wait_finished(self, call_id: str) -> None:
        async with self._finished_changed:
            await self._finished_changed.wait_for(lambda: call_id in self.finished)

    @classmethod
    def build(cls, runtime: Runtime, settings: CarrierSettings) -> CarrierEdge:
        return cls(
            runtime, settings,
            twilio=TwilioActions(settings.twilio) if settings.twilio else None,
            telnyx=TelnyxActions(settings.telnyx.api) if settings.telnyx else None,
        )

    async def aclose(self) -> None:
        for actions in (self.twilio, self.telnyx):
            if actions is not None:
                await actions.aclose()

    def secret(self, carrier: str) -> str:
        if carrier == "twilio" and self.settings.twilio:
            return self.settings.twilio.auth_token
        if carrier == "telnyx" and self.settings.telnyx:
            return self.settings.telnyx.api.api_key
        raise StreamRefused(f"{carrier} is not configured")

    def stream_url(self, carrier: str, ticket: str) -> str:
        return f"{self.settings.public_ws_url}/{carrier}/media/{ticket}"

    # -- incoming calls ------------------------------------------------------------------

    async def incoming(
        self, carrier: str, carrier_call_id: str, from_number: str, to_number: str,
        details: dict[str, Any],
    ) -> IncomingCall | None:
        """Create (or, for a retried webhook, find) the ringing call; None when no
        business answers ``to_number``."""
        profile = self.runtime.registry.get_by_number(to_number)
        if profile is None:
            log.warning("%s call %s to unknown number", carrier, carrier_call_id)
            return None
        business = self.runtime.store.for_business(profile.business.id)
        call, created = await asyncio.to_thread(
            business.open_carrier_call, from_number, to_number, carrier=carrier,
            carrier_call_id=carrier_call_id)
        if created:
            await asyncio.to_thread(business.add_call_event, call.id, "carrier.incoming",
                                    details)
        ticket = StreamTicket(profile.business.id, call.id).mint(self.secret(carrier))
        return IncomingCall(business, profile, call, ticket, created)

    async def twilio_voice(self, params: dict[str, str]) -> str:
        """TwiML for Twilio's voice webhook."""
        # an outbound call we placed (a callback) rings the webhook too, from our number
        ours, theirs = params.get("To", ""), params.get("From", "")
        if params.get("Direction", "").startswith("outbound"):
            ours, theirs = theirs, ours
        incoming = await self.incoming(
            "twilio", params.get("CallSid", ""), theirs, ours,
            _details(params, "Direction", "CallerName", "StirVerstat", "FromState"))
        if incoming is None:
            return twiml.not_in_service()
        transfers = incoming.profile.transfer_numbers
        return twiml.connect_stream(
            self.stream_url("twilio", incoming.ticket),
            {"call_id": incoming.call.id, "business": incoming.profile.business.id},
            fallback_number=transfers[0].number if transfers else None,
            fallback_caller_id=incoming.call.to_number,
        )

    async def telnyx_answered(self, payload: dict[str, Any]) -> None:
        """Our outbound call was picked up: stream it to us like an incoming one."""
        if payload.get("direction") != "outgoing" or self.telnyx is None:
            return
        control_id = str(payload.get("call_control_id", ""))
        placed = await self.incoming(
            "telnyx", control_id, str(payload.get("to", "")), str(payload.get("from", "")),
            {"direction": "outgoing"})
        if placed is None or not placed.created:
            return
        try:
            await self.telnyx.start_stream(control_id,
                                           stream_url=self.stream_url("telnyx", placed.ticket))
        except CarrierActionError as error:
            log.warning("telnyx stream start for %s failed: %s", control_id, error)
            await asyncio.to_thread(placed.business.add_call_event, placed.call.id,
                                    "carrier.stream_failed",
                                    {"status": error.status, "retryable": error.retryable})

    async def telnyx_initiated(self, payload: dict[str, Any]) -> None:
        """Answer an incoming Telnyx call with a bidirectional stream to us."""
        if payload.get("direction") != "incoming" or self.telnyx is None:
            return
        control_id = str(payload.get("call_control_id", ""))
        incoming = await self.incoming(
            "telnyx", control_id, str(payload.get("from", "")), str(payload.get("to", "")),
            {"call_session_id": payload.get("call_session_id")})
        if incoming is not None and not incoming.created:
            return  # a redelivery: the first delivery answered it
        try:
            if incoming is None:
                await self.telnyx.hangup(control_id)
                return
            await self.telnyx.answer(control_id,
                                     stream_url=self.stream_url("telnyx", incoming.ticket))
        except CarrierActionError as error:
            # Telnyx redelivers call.initiated only on a non-2xx answer; the row keeps
            # the failure and the caller hears Telnyx's own failure treatment
            log.warning("telnyx answer for %s failed: %s", control_id, error)
            if incoming is not None:
                await asyncio.to_thread(
                    incoming.business.add_call_event, incoming.call.id, "carrier.answer_failed",
                    {"status": error.status, "retryable": error.retryable})

    # -- status --------------------------------------------------------------------------

    async def status(
        self, carrier: str, carrier_call_id: str, numbers: tuple[str, str], status: str,
        duration_s: int | None, details: dict[str, Any],
    ) -> CallRecord | None:
        """Record the carrier's view of a call; unknown calls are logged and ignored."""
        for number in numbers:  # inbound: To is ours; an outbound callback: From is
            profile = self.runtime.registry.get_by_number(number)
            if profile is None:
                continue
            business = self.runtime.store.for_business(profile.business.id)
            call = await asyncio.to_thread(business.find_call_by_carrier_id, carrier,
                                           carrier_call_id)
            if call is None:
                continue
            await asyncio.to_thread(business.add_call_event, call.id, "carrier.status",
                                    {"status": status, "duration_s": duration_s, **details})
            updated = await asyncio.to_thread(business.set_carrier_status, call.id,
                                              carrier_status=status, duration_s=duration_s)
            if status in FINAL_STATUSES and updated.status == "ringing":
                # the media stream never connected: the call is over without us
                updated = await asyncio.to_thread(
                    business.end_call, call.id, status="failed" if status == "failed"
                    else "missed", outcome="none", end_reason=f"carrier_{status}")
            return updated
        if await self._callback_unanswered(carrier_call_id, numbers, status):
            return None
        log.warning("%s status %s for unknown call %s", carrier, status, carrier_call_id)
        return None

    async def _callback_unanswered(self, carrier_call_id: str, numbers: tuple[str, str],
                                   status: str) -> bool:
        """Our callback that nobody picked up (no answer, busy, failed): its session
        records it, so the next call from that number is not taken for our callback."""
        if status not in FINAL_STATUSES or status == "completed":
            return False
        for number in numbers:
            profile = self.runtime.registry.get_by_number(number)
            if profile is None:
                continue
            business = self.runtime.store.for_business(profile.business.id)
            session = await asyncio.to_thread(business.session_by_callback, carrier_call_id)
            if session is None:
                continue
            try:
                await asyncio.to_thread(business.set_callback_state, session.id,
                                        state=CALLBACK_FAILED, now=self.runtime.now())
            except SessionLeaseLost:  # answered or cancelled meanwhile
                pass
            log.info("callback %s for session %s: %s", carrier_call_id, session.id, status)
            return True
        return False

    # -- media streams -------------------------------------------------------------------

    async def claim_stream(self, carrier: str, token: str) -> tuple[BusinessStore, CallRecord]:
        """The call a media WebSocket may carry; each ticket works once."""
        try:
            ticket = StreamTicket.parse(token, self.secret(carrier))
        except TicketError as error:
            raise StreamRefused(str(error)) from None
        if self.runtime.registry.get_by_id(ticket.business_id) is None:
            raise StreamRefused("unknown business")
        business = self.runtime.store.for_business(ticket.business_id)
        call = await asyncio.to_thread(business.get_call, ticket.call_id)
        if call is None or call.carrier != carrier:
            raise StreamRefused("stream ticket names no call of this carrier")
        if not await asyncio.to_thread(business.claim_call, ticket.call_id):
            raise StreamRefused("stream ticket already used")
        return business, replace(call, status="active")

    async def close_failed(self, business: BusinessStore, call_id: str) -> None:
        """A media session crashed: its row must not stay ``active`` for ever."""
        call = await asyncio.to_thread(business.get_call, call_id)
        if call is not None and call.ended_at is None:
            await asyncio.to_thread(business.end_call, call_id, status="failed",
                                    outcome=call.outcome or "none", end_reason="error")

    def actions_for(self, carrier: str) -> TwilioActions | TelnyxActions | None:
        return self.twilio if carrier == "twilio" else self.telnyx


def _details(params: dict[str, str], *names: str) -> dict[str, Any]:
    """Only the fields worth keeping; the caller's number is already on the row."""
    return {name: params[name] for name in names if name in params}
