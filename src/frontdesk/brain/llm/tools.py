"""The tools the model may call, bound to one call, run with the receptionist's own code.

The model only *asks*; :meth:`Tools.run` decides. Arguments are checked against the
tool's schema before anything acts, and a bad call (unknown tool, arguments that are not
JSON or do not fit) gets an error result back, never an exception and never a side
effect. What a tool reports is rendered from the ledger (a booking is "committed" only
when the commitment is), and the limits on side effects live here, not in the prompt:
a prompt-injected model can ask ten times, it still gets at most ``max_bookings``.
No tool returns another caller's data: availability is slots, never whose they are, and
only the bookings made under the number calling can be listed, cancelled or moved.

What the caller is about to be told of a commitment is noted in the ledger before it is
said (:attr:`Tools.telling`); the brain marks it heard once a sentence stating it was
played whole, so the outbox texts only whoever did not hear it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from frontdesk.actions.booking import BookingDesk, BookingOutcome
from frontdesk.actions.calendar import CalendarError, Slot
from frontdesk.actions.cancelling import cancel_booking
from frontdesk.actions.ledger import TOLD_CONFIRMED, TOLD_DECLINED, TOLD_TEXT_PROMISED
from frontdesk.actions.messages import take_message
from frontdesk.brain.base import Booked, BrainOutput, Hangup, MessageSaved, Transfer
from frontdesk.brain.booking_flow import article
from frontdesk.brain.llm.guard import BookingFact, Facts, strip_markup
from frontdesk.brain.llm.stream import ToolCall, ToolResult, ToolSpec
from frontdesk.brain.say import say_list, say_price, say_when, sentence
from frontdesk.call.continuity import identifiable
from frontdesk.profile import Profile, Service
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    C_COMMITTED,
    C_FAILED,
    BookingRecord,
    BusinessStore,
)

__all__ = ["CallScope", "Telling", "ToolOutcome", "Tools", "specs"]

_TOPICS = ["hours", "address", "prices", "services"]


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def specs(profile: Profile) -> tuple[ToolSpec, ...]:
    """The tool set; service ids are an enum, so the model cannot invent a service."""
    service = {"type": "string", "enum": [s.id for s in profile.services]}
    start = {"type": "string", "description": "ISO 8601, e.g. 2026-11-26T14:00"}
    booking = {"type": "string", "description": "an id from my_appointments"}
    return (
        ToolSpec("check_availability", "Free appointment times for a service near a day.",
                 _obj(["service", "day"], service=service,
                      day={"type": "string", "description": "YYYY-MM-DD"},
                      time={"type": "string", "description": "HH:MM, 24-hour, optional"})),
        ToolSpec("book", "Book a service at a start time for the caller. Only a result "
                 "with status 'committed' means it is booked.",
                 _obj(["service", "start", "name"], service=service, start=start,
                      name={"type": "string", "description": "the caller's name"})),
        ToolSpec("my_appointments", "The caller's own upcoming appointments, found by the "
                 "number they are calling from.", _obj([])),
        ToolSpec("cancel", "Cancel one of the caller's appointments. Only a result with "
                 "status 'cancelled' means it is cancelled.",
                 _obj(["booking_id"], booking_id=booking)),
        ToolSpec("reschedule", "Move one of the caller's appointments to a new start time "
                 "(same service). Only status 'committed' means it moved.",
                 _obj(["booking_id", "start"], booking_id=booking, start=start)),
        ToolSpec("take_message", "Pass a message from the caller on to the team.",
                 _obj(["text"], name={"type": "string"}, text={"type": "string"})),
        ToolSpec("transfer", "Transfer the caller to a person.",
                 _obj(["reason"], reason={"type": "string"})),
        ToolSpec("end_call", "End the call after your goodbye.", _obj([])),
        ToolSpec("business_facts", "Opening hours, address, prices or services.",
                 _obj(["topic"], topic={"type": "string", "enum": _TOPICS})),
    )


def _schema_error(schema: dict[str, Any], args: dict[str, Any]) -> str | None:
    """The subset of JSON Schema the specs use: string properties, enums, required."""
    props: dict[str, Any] = schema["properties"]
    extra = sorted(set(args) - set(props))
    if extra:
        return f"unexpected arguments: {', '.join(extra)}"
    missing = [k for k in schema["required"] if k not in args]
    if missing:
        return f"missing arguments: {', '.join(missing)}"
    for key, value in args.items():
        if not isinstance(value, str) or not value.strip():
            return f"{key} must be a non-empty string"
        if "enum" in props[key] and value not in props[key]["enum"]:
            return f"{key} must be one of {', '.join(props[key]['enum'])}"
    return None


@dataclass(frozen=True)
class CallScope:
    """Everything a tool may touch: this business, this call, this caller."""

    profile: Profile
    store: BusinessStore
    desk: BookingDesk
    call_id: str | None
    session_id: str
    caller_number: str | None
    now: Callable[[], datetime]
    max_bookings: int = 2  # bookings that hold a slot (committed or unknown) per call
    max_attempts: int = 4  # booking writes per call, whatever their outcome
    max_messages: int = 2
    max_changes: int = 2  # cancellations and reschedules per call


@dataclass(frozen=True)
class ToolOutcome:
    """``content`` goes back to the model; ``outputs`` (already durable) to the Call;
    ``say`` is a sentence rendered from the ledger, spoken if the model cannot go on."""

    result: ToolResult
    outputs: tuple[BrainOutput, ...] = ()
    say: str | None = None
    error: bool = False


@dataclass(frozen=True)
class Telling:
    """A commitment's outcome the caller is being told: heard once a sentence stating
    ``fact`` (a "booking" or a "cancel") was played whole."""

    commitment_id: str
    told: str
    fact: BookingFact
    kind: str


@dataclass(frozen=True)
class Progress:
    """The booking the model is arranging (availability asked for ``service_id``, these
    times offered), or none (``service_id`` None: booked, or nothing started). The
    receptionist's dialogue follows it, so a dropped call can be resumed."""

    service_id: str | None = None
    offers: tuple[Slot, ...] = ()
    name: str | None = None


@dataclass
class _Done:
    confirmed: list[BookingFact] = field(default_factory=list)
    pending: list[BookingFact] = field(default_factory=list)
    cancelled: list[BookingFact] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    offered: tuple[datetime, ...] | None = None  # free starts the lookups returned


Handler = Callable[[ToolCall], Awaitable[ToolOutcome]]


class Tools:
    def __init__(self, scope: CallScope) -> None:
        self.scope = scope
        self.specs = specs(scope.profile)
        self._schemas = {s.name: s.parameters for s in self.specs}
        self._handlers: dict[str, Handler] = {
            "check_availability": self._availability, "book": self._book,
            "take_message": self._message, "transfer": self._transfer,
            "end_call": self._end_call, "business_facts": self._business_facts,
            "my_appointments": self._appointments, "cancel": self._cancel,
            "reschedule": self._reschedule,
        }
        self._done = _Done()
        self._holding = 0  # bookings committed or unknown
        self._booked: dict[str, Booked] = {}  # committed by this call's tools
        self._announced: set[str] = set()  # bookings the Call was given as Booked
        self._attempts = 0
        self._changes = 0  # cancellations and reschedules asked for
        self.progress: Progress | None = None  # set when a tool moved a booking on
        self.telling: list[Telling] = []  # outcomes told, not yet heard whole
        # booking and cancel writes run to the end whatever happens to the reply (barge-in)
        self.writes: set[asyncio.Future[BookingOutcome]] = set()

    def facts(self) -> Facts:
        """What this call's tools made true, for the guard."""
        d = self._done
        return Facts(self.scope.profile, confirmed=tuple(d.confirmed), pending=tuple(d.pending),
                     cancelled=tuple(d.cancelled), messages=tuple(d.messages),
                     transfers=tuple(d.transfers), can_text=self.scope.desk.can_text,
                     offered=d.offered)

    def record(self, output: BrainOutput) -> None:
        """A fact another brain (the fallback receptionist) made durable in this call."""
        d, profile = self._done, self.scope.profile
        match output:
            case Booked(booking_id, service_id, start, name):
                fact = BookingFact(booking_id, profile.service(service_id).name, start, name)
                self._announced.add(booking_id)
                if fact not in d.confirmed:
                    d.confirmed.append(fact)
                    self._holding += 1
            case MessageSaved(message_id, _, _):
                d.messages.append(message_id)
            case Transfer(number, _):
                d.transfers.append(number)
            case _:
                pass

    async def settle(self) -> None:
        """Wait for booking writes a cancelled reply left running."""
        if self.writes:
            await asyncio.wait(self.writes)

    async def run(self, call: ToolCall) -> ToolOutcome:
        handler = self._handlers.get(call.name)
        if handler is None:
            return self._error(call, f"unknown tool {call.name!r}")
        if call.error is not None:
            return self._error(call, f"arguments are not a JSON object: {call.error}")
        problem = _schema_error(self._schemas[call.name], call.arguments)
        if problem is not None:
            return self._error(call, problem)
        return await handler(call)

    # -- results -------------------------------------------------------------------------

    @staticmethod
    def _result(call: ToolCall, content: dict[str, Any], *outputs: BrainOutput,
                say: str | None = None) -> ToolOutcome:
        return ToolOutcome(ToolResult(call.id, call.name, json.dumps(content)), outputs, say)

    def _error(self, call: ToolCall, why: str) -> ToolOutcome:
        result = ToolResult(call.id, call.name, json.dumps({"error": why}))
        return ToolOutcome(result, error=True)

    def _now(self) -> datetime:
        return self.scope.now().astimezone(self.scope.profile.tz)

    def _when(self, start: datetime) -> str:
        return say_when(start.astimezone(self.scope.profile.tz), self._now().date())

    # -- handlers ------------------------------------------------------------------------

    async def _availability(self, call: ToolCall) -> ToolOutcome:
        a = call.arguments
        try:
            day = date.fromisoformat(a["day"])
            at = time.fromisoformat(a["time"]) if "time" in a else None
        except ValueError as error:
            return self._error(call, str(error))
        slots = await asyncio.to_thread(self.scope.desk.calendar.nearest, a["service"],
                                        now=self._now(), day=day, at=at)
        name = self.progress.name if self.progress else None
        self.progress = Progress(a["service"], tuple(slots), name)
        self._done.offered = (self._done.offered or ()) + tuple(s.start for s in slots)
        return self._result(call, {"service": a["service"], "free": [
            {"start": s.start.isoformat(timespec="minutes"), "spoken": self._when(s.start)}
            for s in slots]})

    async def _book(self, call: ToolCall) -> ToolOutcome:
        a = call.arguments
        start = self._start(call)
        if isinstance(start, ToolOutcome):
            return start
        service = self.scope.profile.service(a["service"])
        placed = await self._place(call, service, start, a["name"])
        if isinstance(placed, ToolOutcome):
            return placed
        return await self._render(call, placed, service)

    def _start(self, call: ToolCall) -> datetime | ToolOutcome:
        try:
            start = datetime.fromisoformat(call.arguments["start"])
        except ValueError as error:
            return self._error(call, str(error))
        return start.replace(tzinfo=self.scope.profile.tz) if start.tzinfo is None else start

    async def _place(self, call: ToolCall, service: Service, start: datetime, name: str, *,
                     replaces: BookingRecord | None = None) -> BookingOutcome | ToolOutcome:
        """Write a booking through the desk, within the limits; a refusal before any write
        (a limit, a slot that is not free) comes back as the tool's outcome."""
        scope = self.scope
        # Asked before in this session: the desk's idempotency key makes it a report of
        # the same commitment, never a second booking, and it does not count again.
        key = scope.desk.key_for(scope.session_id, Slot(service.id, "", start, start))
        existing = await asyncio.to_thread(scope.store.get_booking_by_key, key)
        if existing is not None and existing.status == BOOKING_CANCELLED:
            # its key is spent: booking it again would only report the old commitment
            return self._error(call, "that time was cancelled earlier in this call; offer "
                               "another time or take a message for the team")
        fresh = existing is None or existing.status != BOOKING_CONFIRMED  # else a repeat
        if fresh:
            holding = self._holding >= scope.max_bookings and replaces is None
            if holding or self._attempts >= scope.max_attempts:
                return self._error(call, "booking limit for this call reached; offer to "
                                   "take a message for the team instead")
        if existing is not None:  # booked already, or held for this session after a drop
            slot = Slot(existing.service_id, existing.resource_id, existing.start_at,
                        existing.end_at)
        else:
            try:
                slot = await asyncio.to_thread(scope.desk.calendar.check, service.id, start,
                                               self._now())
            except CalendarError as error:
                return self._result(call, {"status": "refused", "reason": str(error)},
                                    say=f"I'm sorry, I can't book that: {error}.")
        self._attempts += fresh
        counted = fresh and replaces is None  # a move holds no extra slot
        write = self._own(scope.desk.book(
            session_id=scope.session_id, call_id=scope.call_id, slot=slot, name=name,
            phone=scope.caller_number, replaces=replaces))
        # the facts learn the outcome when the write ends, even if barge-in cancelled
        # the reply waiting for it, so the guard and the next turn know the booking
        write.add_done_callback(lambda w: self._learn(w, counted=counted))
        outcome = await asyncio.shield(write)  # barge-in never cancels the write itself
        self._learn(write, counted=counted)
        if replaces is None:  # a move's own dialogue is not resumed: its old booking stands
            # refused: the caller is still choosing a time; else booked, or the outbox
            # finishes it, and nothing is left for a ring-back
            self.progress = Progress(service.id if outcome.refused else None, (), name)
        return outcome

    def _own(self, write: Awaitable[BookingOutcome]) -> asyncio.Future[BookingOutcome]:
        """A ledger write that runs to its end; :meth:`settle` waits for it."""
        future = asyncio.ensure_future(write)
        self.writes.add(future)
        future.add_done_callback(self.writes.discard)
        return future

    def _learn(self, write: asyncio.Future[BookingOutcome], *, counted: bool) -> None:
        """Record a booking write's outcome in the facts (once; later calls are no-ops)."""
        if write.cancelled() or write.exception() is not None:
            return
        outcome, d = write.result(), self._done
        if outcome.done and outcome.booking is not None:
            b = outcome.booking
            fact = BookingFact.of(b, self.scope.profile)
            self._booked.setdefault(b.id, Booked(b.id, b.service_id, b.start_at, b.customer_name))
            facts = d.confirmed
        elif outcome.refused:
            return
        else:
            p = outcome.commitment.payload
            fact = BookingFact(outcome.commitment.id, p["service_name"],
                               datetime.fromisoformat(p["start"]), p["customer_name"])
            facts = d.pending
        if fact not in facts:
            facts.append(fact)
            self._holding += counted

    def unannounced(self) -> list[Booked]:
        """Committed bookings the Call has not been told of (their reply was cut)."""
        out = [b for b in self._booked.values() if b.booking_id not in self._announced]
        self._announced.update(b.booking_id for b in out)
        return out

    async def _render(self, call: ToolCall, outcome: BookingOutcome, service: Service
                      ) -> ToolOutcome:
        record = outcome.booking
        if outcome.done and record is not None:
            when = self._when(record.start_at)
            booked = self.unannounced()  # this one, unless a repeat reported it already
            await self._tell(outcome, TOLD_CONFIRMED, BookingFact.of(record, self.scope.profile))
            return self._result(
                call, {"status": "committed", "booking_id": record.id, "service": service.name,
                       "start": record.start_at.isoformat(timespec="minutes"), "spoken": when,
                       "name": record.customer_name},
                *booked, say=f"Your {service.name} is booked for {when}.")
        if outcome.refused:
            reason = outcome.reason or "the booking system did not accept it"
            await self._tell(outcome, TOLD_DECLINED)
            return self._result(call, {"status": "refused", "reason": reason},
                                say="I'm sorry, our booking system didn't accept that.")
        promise = self._promise()  # the outbox finishes it and tells the caller (as above)
        await self._tell(outcome, TOLD_TEXT_PROMISED)
        return self._result(call, {"status": "unknown", "note": f"not confirmed yet; {promise}"},
                            say=f"I'm still finalizing that; {promise}.")

    def _promise(self) -> str:
        return ("a text confirmation will follow" if self.scope.desk.can_text
                else "someone from the team will call to confirm")

    async def _tell(self, outcome: BookingOutcome, told: str,
                    fact: BookingFact | None = None, kind: str = "booking") -> None:
        """Note what the caller is about to be told, before it is said; with a ``fact``
        it counts as heard once a sentence stating it is played whole."""
        commitment = outcome.commitment
        cid = commitment.id
        if commitment.told == told and commitment.told_heard:  # a repeat of what was heard
            return
        await asyncio.to_thread(self.scope.desk.ledger.told, cid, told, heard=False)
        self.telling = [t for t in self.telling if t.commitment_id != cid]
        if fact is not None:
            self.telling.append(Telling(cid, told, fact, kind))

    # -- the caller's own bookings ---------------------------------------------------------

    async def _mine(self) -> list[BookingRecord]:
        number = self.scope.caller_number
        if number is None or not identifiable(number):  # a withheld number owns nothing
            return []
        return await asyncio.to_thread(self.scope.store.upcoming_bookings_for, number,
                                       self.scope.now())

    async def _appointments(self, call: ToolCall) -> ToolOutcome:
        found = await self._mine()
        d, profile = self._done, self.scope.profile
        for b in found:  # the caller may now hear of them
            fact = BookingFact.of(b, profile)
            if fact not in d.confirmed:
                d.confirmed.append(fact)
        if not found:
            return self._result(call, {"appointments": [], "note": "none under the number "
                                       "calling; offer to take a message"})
        return self._result(call, {"appointments": [
            {"booking_id": b.id, "service": profile.service(b.service_id).name,
             "start": b.start_at.isoformat(timespec="minutes"), "spoken": self._when(b.start_at)}
            for b in found]})

    async def _owned(self, call: ToolCall, *, moving_to: datetime | None = None
                     ) -> BookingRecord | ToolOutcome:
        """The caller's booking the call names, within the per-call limit of changes (a
        move to the time it already has is no change)."""
        mine = {b.id: b for b in await self._mine()}
        booking = mine.get(call.arguments["booking_id"])
        if booking is None:
            return self._error(call, "no upcoming appointment with that id under the number "
                               "calling; use my_appointments")
        if booking.start_at == moving_to:
            return self._error(call, "the appointment is already at that time")
        if self._changes >= self.scope.max_changes:
            return self._error(call, "limit of changes for this call reached; offer to take "
                               "a message for the team instead")
        self._changes += 1
        return booking

    async def _cancel(self, call: ToolCall) -> ToolOutcome:
        booking = await self._owned(call)
        if isinstance(booking, ToolOutcome):
            return booking
        status, say = await self._cancel_booking(booking)
        return self._result(call, {"status": status, "booking_id": booking.id}, say=say)

    async def _cancel_booking(self, booking: BookingRecord, *, earlier: bool = False
                              ) -> tuple[str, str]:
        scope, profile = self.scope, self.scope.profile
        fact = BookingFact.of(booking, profile)
        what = f"{'earlier ' if earlier else ''}{fact.service} for {self._when(booking.start_at)}"
        outcome = await asyncio.shield(self._own(cancel_booking(
            scope.desk, session_id=scope.session_id, call_id=scope.call_id, booking=booking)))
        if outcome.state == C_COMMITTED:
            d = self._done
            d.confirmed = [f for f in d.confirmed if f.id != booking.id]
            if fact not in d.cancelled:
                d.cancelled.append(fact)
            await self._tell(outcome, TOLD_CONFIRMED, fact, "cancel")
            return "cancelled", f"Your {what} is cancelled."
        if outcome.state == C_FAILED:
            await self._tell(outcome, TOLD_DECLINED)
            return "refused", (f"I'm sorry, I couldn't cancel your {what}; someone from the "
                               "team will call you to sort it out.")
        await self._tell(outcome, TOLD_TEXT_PROMISED)
        promise = self._promise()
        return "unknown", f"I'm still finalizing the cancellation of your {what}; {promise}."

    async def _reschedule(self, call: ToolCall) -> ToolOutcome:
        start = self._start(call)
        if isinstance(start, ToolOutcome):
            return start
        old = await self._owned(call, moving_to=start)
        if isinstance(old, ToolOutcome):
            return old
        service = self.scope.profile.service(old.service_id)
        placed = await self._place(call, service, start, old.customer_name, replaces=old)
        if isinstance(placed, ToolOutcome):
            return placed
        booked = await self._render(call, placed, service)
        if not (placed.done and placed.booking is not None):
            # refused: the old one stands; unknown: the outbox cancels it once the new
            # one is committed (the commitment records what it replaces)
            if placed.refused:
                return dataclasses.replace(booked, say=f"{booked.say} Your appointment "
                                           "is unchanged.")
            return booked
        status, said = await self._cancel_booking(old, earlier=True)
        content = json.loads(booked.result.content) | {"old_booking": status}
        return self._result(call, content, *booked.outputs, say=f"{booked.say} {said}")

    async def _message(self, call: ToolCall) -> ToolOutcome:
        scope = self.scope
        if len(self._done.messages) >= scope.max_messages:
            return self._error(call, "message limit for this call reached")
        name = call.arguments.get("name")
        _, record = await take_message(scope.desk.ledger, session_id=scope.session_id,
                                       call_id=scope.call_id, name=name,
                                       phone=scope.caller_number, text=call.arguments["text"])
        if record.id not in self._done.messages:
            self._done.messages.append(record.id)
        return self._result(call, {"status": "saved", "message_id": record.id},
                            MessageSaved(record.id, name, record.text),
                            say="I've passed your message on to the team.")

    async def _transfer(self, call: ToolCall) -> ToolOutcome:
        numbers = self.scope.profile.transfer_numbers
        if not numbers:
            return self._result(call, {"status": "unavailable",
                                       "note": "no one can take calls; offer a message"})
        self._done.transfers.append(numbers[0].number)
        # a warm transfer: the person hears why before the caller is put through
        who = self.scope.caller_number or "a withheld number"
        reason = " ".join(strip_markup(call.arguments["reason"]).split())
        summary = f"Frontdesk here, with a call from {who}. {sentence(reason).rstrip('.')}."
        summary = summary[:400]
        return self._result(call, {"status": "transferring", "to": numbers[0].name},
                            Transfer(numbers[0].number, summary),
                            say=f"Let me transfer you to our {numbers[0].name.lower()}.")

    async def _end_call(self, call: ToolCall) -> ToolOutcome:
        return self._result(call, {"status": "ending"}, Hangup())

    async def _business_facts(self, call: ToolCall) -> ToolOutcome:
        profile = self.scope.profile
        topic = call.arguments["topic"]
        if topic == "hours":
            answer = profile.describe_hours()
        elif topic == "address":
            answer = (f"We're at {profile.business.address}." if profile.business.address
                      else "The address is not on file.")
        elif topic == "prices":
            answer = " ".join(
                f"{sentence(article(s.name))} is {say_price(s.price)}." if s.price is not None
                else f"The price of {article(s.name)} depends on the job."
                for s in profile.services)
        else:
            answer = f"We do {say_list([article(s.name) for s in profile.services])}."
        return self._result(call, {"topic": topic, "answer": answer})
