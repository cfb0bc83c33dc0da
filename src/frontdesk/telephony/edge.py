"""What carrier webhooks do, once the route has checked the signature.

An incoming call creates its call row at once (status ``ringing``) with the carrier's id,
so a status callback can always find it, even when the media stream never connects. The
row's id goes back to the carrier inside a one-time stream ticket (see ``tickets.py``);
the media WebSocket claims the row with it. Status callbacks record the carrier's view
(completed, busy, no-answer, failed, canceled; duration) beside our own end reason.

A Twilio transfer dials with an outcome. Before the call is redirected, a ``carrier.dial``
event records the target, the summary for a warm transfer's whisper and the leg id, and
a :class:`DialTicket` naming them goes into the ``action`` and whisper URLs. When the
person takes the call, its outcome is recorded and Twilio is told to hang up afterwards;
when they are busy or do not answer, the outcome is recorded and the caller comes back
on a new call row (the *return leg*, id = the ticket's leg id, so a replayed ticket
cannot make a second one) streamed to a session that takes a message.

A Telnyx transfer reports the same way through the webhooks of the leg it rings (leg B):
the command carries a :class:`TransferTicket` as client state, naming the transfer and
the caller's leg (A). B's ``call.answered`` records the transfer as taken; a ``call.hangup``
before that records why it was not, opens the return leg the same way and restarts
streaming on leg A, which Telnyx keeps up after a failed transfer. A webhook whose ticket
is forged, names no transfer or was used already is acknowledged, logged and changes
nothing (:class:`TransferIgnored`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError

from frontdesk.call.events import TransferRequested
from frontdesk.profile import Profile
from frontdesk.runtime import Runtime
from frontdesk.store import CALLBACK_FAILED, BusinessStore, CallRecord, SessionLeaseLost
from frontdesk.telephony.actions import CarrierActionError
from frontdesk.telephony.config import CarrierSettings
from frontdesk.telephony.session import Dial, ReturnLeg
from frontdesk.telephony.telnyx.rest import TelnyxActions
from frontdesk.telephony.telnyx.transfer import LegEvent, leg_event
from frontdesk.telephony.telnyx.webhook import TelnyxEvent
from frontdesk.telephony.tickets import DialTicket, StreamTicket, TicketError, TransferTicket
from frontdesk.telephony.twilio import twiml
from frontdesk.telephony.twilio.rest import TwilioActions

log = logging.getLogger(__name__)

# carrier statuses after which the call is over (Twilio CallStatus; Telnyx maps onto these)
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


# Twilio's DialCallStatus: the person took the call, or the caller comes back to us
DIAL_TAKEN = frozenset({"completed", "answered"})
DIAL_NOT_TAKEN = frozenset({"busy", "no-answer", "failed", "canceled"})


IgnoredReason = Literal["unknown_ticket", "no_transfer", "used_ticket"]


class StreamRefused(Exception):
    """A media WebSocket presented no valid, unused ticket."""


class DialRefused(Exception):
    """A dial-outcome or whisper request the ticket does not allow (the requester's
    fault, never retryable): ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class TransferIgnored(Exception):
    """A webhook of a transfer's leg B that changes nothing: its ticket is forged or
    malformed (``unknown_ticket``), names no transfer we made (``no_transfer``), or the
    transfer's outcome is already recorded (``used_ticket``: a taken transfer's leg B
    hanging up at the end of the conversation lands here too). Acknowledged, never
    retried: a redelivery would change nothing either."""

    def __init__(self, reason: IgnoredReason) -> None:
        super().__init__(reason)
        self.reason: IgnoredReason = reason


@dataclass(frozen=True)
class ClaimedStream:
    business: BusinessStore
    call: CallRecord
    leg: ReturnLeg | None  # set when the stream brings the caller back from a transfer


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
    # one dial outcome at a time: the check that a ticket is unused and its use are one
    # step (across processes, the return leg's primary key still refuses a second use)
    _dial_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

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
            if status in FINAL_STATUSES:
                await self._close_return_legs(business, call.id, status)
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

    async def _close_return_legs(self, business: BusinessStore, call_id: str,
                                 status: str) -> None:
        """A return leg whose stream never connected (the caller hung up while it came
        up) is over when the carrier's call is: it is reported only under the original."""
        results = await asyncio.to_thread(business.list_call_events, call_id,
                                          kind="carrier.transfer_result")
        for result in results:
            leg_id = result.data.get("return_call_id")
            leg = await asyncio.to_thread(business.get_call, leg_id) if leg_id else None
            if leg is not None and leg.status == "ringing":
                await asyncio.to_thread(business.end_call, leg.id, status="missed",
                                        outcome="none", end_reason=f"carrier_{status}")

    # -- transfers that report back (Twilio <Dial action>) -------------------------------

    async def twilio_transfer(self, call: CallRecord, carrier_call_id: str,
                              request: TransferRequested) -> None:
        """Put the live call through to ``request.number``; Twilio reports the outcome to
        ``/twilio/dial/{ticket}`` and, for a warm transfer, fetches the whisper first."""
        assert self.twilio is not None, "the dial seam is only wired for a configured Twilio"
        profile = self.runtime.registry.by_number(call.to_number)
        business = self.runtime.store.for_business(call.business_id)
        ticket = DialTicket(call.business_id, call.id, str(uuid.uuid4()))
        token = ticket.mint(self.secret("twilio"))
        base = self.settings.public_url
        timeout_s = profile.escalation.transfer_timeout_s
        # recorded before the redirect: Twilio may ask for the whisper at once
        await asyncio.to_thread(business.add_call_event, call.id, "carrier.dial", {
            "to": request.number, "leg": ticket.leg_id, "timeout_s": timeout_s,
            "summary": request.summary})
        callbacks = twiml.DialCallbacks(
            action_url=f"{base}/twilio/dial/{token}", timeout_s=timeout_s,
            whisper_url=f"{base}/twilio/whisper/{token}" if request.summary else None)
        await self.twilio.transfer(carrier_call_id, request.number, caller_id=call.to_number,
                                   callbacks=callbacks)

    async def twilio_whisper(self, token: str) -> str:
        """What the person who picked up a warm transfer hears before the caller."""
        ticket, business = self._dial_ticket(token)
        dialing = await self._dialing(business, ticket)
        if await self._dial_result(business, ticket) is not None:
            raise DialRefused(410, "the transfer is over")
        summary = dialing.get("summary")
        if not summary:
            raise DialRefused(404, "not a warm transfer")
        return twiml.say(str(summary))

    async def twilio_dial_outcome(self, token: str, params: dict[str, str]) -> str:
        """TwiML for the end of a transfer's ``<Dial>``: hang up after a taken call, else
        bring the caller back to us on a return leg."""
        ticket, business = self._dial_ticket(token)
        status = params.get("DialCallStatus", "")
        if status not in DIAL_TAKEN | DIAL_NOT_TAKEN:
            raise DialRefused(400, "unknown DialCallStatus")
        async with self._dial_lock:
            await self._dialing(business, ticket)
            if await self._dial_result(business, ticket) is not None:
                raise DialRefused(410, "dial ticket already used")
            call = await asyncio.to_thread(business.get_call, ticket.call_id)
            assert call is not None  # it has the carrier.dial event
            carrier_id = call.carrier_call_id or await self._parent_carrier_id(business, call)
            if params.get("CallSid") != carrier_id:
                raise DialRefused(403, "dial outcome for another call")
            result: dict[str, Any] = {
                "leg": ticket.leg_id, "status": status,
                **_details(params, "DialCallSid", "DialCallDuration")}
            # taken, or the caller hung up already (the carrier reported the call over):
            # nobody to bring back
            if status in DIAL_TAKEN or call.carrier_status in FINAL_STATUSES:
                await asyncio.to_thread(business.add_call_event, call.id,
                                        "carrier.transfer_result", result)
                return twiml.hangup()
            leg = await self._open_return_leg(business, call, ticket, "twilio", carrier_id,
                                              result)
            if leg is None:  # another process took this ticket first
                raise DialRefused(410, "dial ticket already used")
        stream_ticket = StreamTicket(ticket.business_id, leg.id).mint(self.secret("twilio"))
        # no fallback transfer: the person was just tried; a failed stream apologises
        return twiml.connect_stream(
            self.stream_url("twilio", stream_ticket),
            {"call_id": leg.id, "business": ticket.business_id, "return_leg_of": call.id},
            fallback_number=None)

    async def _open_return_leg(
        self, business: BusinessStore, call: CallRecord, ticket: DialTicket, carrier: str,
        carrier_id: str, result: dict[str, Any],
    ) -> CallRecord | None:
        """The caller's way back from a transfer nobody took: a ringing row whose id is
        the ticket's leg id (None when that row exists: the ticket was used), the outcome
        recorded on the transferred call, the link to it on the leg."""
        try:
            leg = await asyncio.to_thread(
                business.create_call, call.from_number, call.to_number,
                call_id=ticket.leg_id, carrier=carrier, status="ringing")
        except IntegrityError:
            return None
        await asyncio.to_thread(business.add_call_event, call.id, "carrier.transfer_result",
                                result | {"return_call_id": leg.id})
        await asyncio.to_thread(business.add_call_event, leg.id, "carrier.return_leg", {
            "original_call_id": call.id, "dial_status": result["status"],
            "carrier_call_id": carrier_id})
        return leg

    # -- transfers that report back (Telnyx: the webhooks of leg B) ----------------------

    async def telnyx_transfer(self, call: CallRecord, carrier_call_id: str,
                              request: TransferRequested) -> None:
        """Put the live call (leg A, ``carrier_call_id``) through to ``request.number``;
        the new leg's webhooks carry a ticket naming both, for :meth:`telnyx_leg`.

        Telnyx has no whisper for the person who answers: a warm transfer's summary is
        recorded with the dial but not played."""
        assert self.telnyx is not None, "the dial seam is only wired for a configured Telnyx"
        profile = self.runtime.registry.by_number(call.to_number)
        business = self.runtime.store.for_business(call.business_id)
        ticket = TransferTicket(call.business_id, call.id, str(uuid.uuid4()), carrier_call_id)
        timeout_s = profile.escalation.transfer_timeout_s
        # recorded before the command: leg B's first webhook may come before its answer
        await asyncio.to_thread(business.add_call_event, call.id, "carrier.dial", {
            "to": request.number, "leg": ticket.leg_id, "timeout_s": timeout_s,
            "summary": request.summary})
        await self.telnyx.transfer(carrier_call_id, request.number, caller_id=call.to_number,
                                   timeout_s=timeout_s,
                                   client_state=ticket.mint(self.secret("telnyx")))

    async def telnyx_leg(self, event: TelnyxEvent) -> bool:
        """Act on a webhook of a transfer's leg B; False when the event is none (no client
        state, or leg A echoing the transfer's), for the usual handling.

        Raises :class:`TransferIgnored` for a ticket that changes nothing."""
        leg = leg_event(event)
        if leg is None:
            return False
        ticket, business = self._transfer_ticket(leg.state)
        if leg.call_control_id == ticket.carrier_call_id:
            return False  # leg A: its later webhooks carry the transfer's state too
        if leg.status is None:
            return True  # initiated, bridged: the outcome is still to come
        async with self._dial_lock:
            try:
                await self._dialing(business, ticket.dial)
            except DialRefused:
                raise TransferIgnored("no_transfer") from None
            if await self._dial_result(business, ticket.dial) is not None:
                raise TransferIgnored("used_ticket")
            call = await asyncio.to_thread(business.get_call, ticket.call_id)
            assert call is not None  # it has the carrier.dial event
            result = _leg_result(ticket, leg)
            if leg.status in ("completed", "canceled") or await self._caller_gone(
                    business, ticket.carrier_call_id):
                # taken, or the caller hung up while it rang: nobody to bring back
                await asyncio.to_thread(business.add_call_event, call.id,
                                        "carrier.transfer_result", result)
                return True
            back = await self._open_return_leg(business, call, ticket.dial, "telnyx",
                                               ticket.carrier_call_id, result)
            if back is None:  # another process took this ticket first
                raise TransferIgnored("used_ticket")
        await self._stream_back(business, back, ticket.carrier_call_id)
        return True

    def _transfer_ticket(self, state: str | None) -> tuple[TransferTicket, BusinessStore]:
        try:
            ticket = TransferTicket.parse(state or "", self.secret("telnyx"))
        except (TicketError, StreamRefused):
            raise TransferIgnored("unknown_ticket") from None
        if self.runtime.registry.get_by_id(ticket.business_id) is None:
            raise TransferIgnored("unknown_ticket")
        return ticket, self.runtime.store.for_business(ticket.business_id)

    async def _caller_gone(self, business: BusinessStore, control_id: str) -> bool:
        """The carrier already reported the caller's leg over (its row is the one with
        the carrier's id: the first call, even when a return leg transferred again)."""
        first = await asyncio.to_thread(business.find_call_by_carrier_id, "telnyx",
                                        control_id)
        return first is not None and first.carrier_status in FINAL_STATUSES

    async def _stream_back(self, business: BusinessStore, leg: CallRecord,
                           control_id: str) -> None:
        """Stream leg A, still up after the failed transfer, to the return leg's session."""
        assert self.telnyx is not None
        ticket = StreamTicket(business.business_id, leg.id).mint(self.secret("telnyx"))
        try:
            await self.telnyx.start_stream(control_id,
                                           stream_url=self.stream_url("telnyx", ticket))
        except CarrierActionError as error:
            log.warning("telnyx stream back for %s failed: %s", control_id, error)
            await asyncio.to_thread(business.add_call_event, leg.id, "carrier.stream_failed",
                                    {"status": error.status, "retryable": error.retryable,
                                     "maybe_applied": error.maybe_applied})
            if error.maybe_applied:
                return  # the stream may still come; if not, the caller's hang-up ends the leg
            await asyncio.to_thread(business.end_call, leg.id, status="failed",
                                    outcome="none", end_reason="stream_failed")
            # no stream, no voice: a caller left in silence is worse than one hung up on
            try:
                await self.telnyx.hangup(control_id)
            except CarrierActionError as hangup_error:
                log.warning("telnyx hangup of %s failed: %s", control_id, hangup_error)

    def _dial_ticket(self, token: str) -> tuple[DialTicket, BusinessStore]:
        try:
            ticket = DialTicket.parse(token, self.secret("twilio"))
        except (TicketError, StreamRefused) as error:
            raise DialRefused(404, str(error)) from None
        if self.runtime.registry.get_by_id(ticket.business_id) is None:
            raise DialRefused(404, "unknown business")
        return ticket, self.runtime.store.for_business(ticket.business_id)

    async def _dialing(self, business: BusinessStore, ticket: DialTicket) -> dict[str, Any]:
        events = await asyncio.to_thread(business.list_call_events, ticket.call_id,
                                         kind="carrier.dial")
        for event in events:
            if event.data.get("leg") == ticket.leg_id:
                return event.data
        raise DialRefused(404, "dial ticket names no transfer")

    async def _dial_result(self, business: BusinessStore,
                           ticket: DialTicket) -> dict[str, Any] | None:
        events = await asyncio.to_thread(business.list_call_events, ticket.call_id,
                                         kind="carrier.transfer_result")
        return next((e.data for e in events if e.data.get("leg") == ticket.leg_id), None)

    async def _parent_carrier_id(self, business: BusinessStore, call: CallRecord) -> str:
        """The carrier's id for a return leg (the row has none of its own), or ""."""
        events = await asyncio.to_thread(business.list_call_events, call.id,
                                         kind="carrier.return_leg")
        return str(events[0].data.get("carrier_call_id", "")) if events else ""

    # -- media streams -------------------------------------------------------------------

    async def claim_stream(self, carrier: str, token: str) -> ClaimedStream:
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
        leg = None
        if call.carrier_call_id is None:  # a return leg: its link names the carrier's call
            links = await asyncio.to_thread(business.list_call_events, call.id,
                                            kind="carrier.return_leg")
            if not links:
                raise StreamRefused("stream ticket names no call of this carrier")
            link = links[0].data
            leg = ReturnLeg(str(link["original_call_id"]), str(link["carrier_call_id"]),
                            str(link["dial_status"]))
        if not await asyncio.to_thread(business.claim_call, ticket.call_id):
            raise StreamRefused("stream ticket already used")
        return ClaimedStream(business, replace(call, status="active"), leg)

    async def close_failed(self, business: BusinessStore, call_id: str) -> None:
        """A media session crashed: its row must not stay ``active`` for ever."""
        call = await asyncio.to_thread(business.get_call, call_id)
        if call is not None and call.ended_at is None:
            await asyncio.to_thread(business.end_call, call_id, status="failed",
                                    outcome=call.outcome or "none", end_reason="error")

    def actions_for(self, carrier: str) -> TwilioActions | TelnyxActions | None:
        return self.twilio if carrier == "twilio" else self.telnyx

    def dial_for(self, carrier: str) -> Dial | None:
        """The transfer that reports its outcome, for a configured carrier."""
        if carrier == "twilio" and self.twilio:
            return self.twilio_transfer
        if carrier == "telnyx" and self.telnyx:
            return self.telnyx_transfer
        return None


def _leg_result(ticket: TransferTicket, leg: LegEvent) -> dict[str, Any]:
    """The ``carrier.transfer_result`` of a Telnyx transfer, in the Twilio result's shape."""
    result: dict[str, Any] = {"leg": ticket.leg_id, "status": leg.status,
                              "leg_call_control_id": leg.call_control_id}
    if leg.hangup_cause is not None:
        result["hangup_cause"] = leg.hangup_cause
    if leg.hangup_source is not None:
        result["hangup_source"] = leg.hangup_source
    return result


def _details(params: dict[str, str], *names: str) -> dict[str, Any]:
    """Only the fields worth keeping; the caller's number is already on the row."""
    return {name: params[name] for name in names if name in params}
