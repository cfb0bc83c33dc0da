"""The tools the model may call, bound to one call, run with the receptionist's own code.

The model only *asks*; :meth:`Tools.run` decides. Arguments are checked against the
tool's schema before anything acts, and a bad call (unknown tool, arguments that are not
JSON or do not fit) gets an error result back, never an exception and never a side
effect. What a tool reports is rendered from the ledger (a booking is "committed" only
when the commitment is), and the limits on side effects live here, not in the prompt:
a prompt-injected model can ask ten times, it still gets at most ``max_bookings``.
No tool returns another caller's data: availability is slots, never whose they are.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from frontdesk.actions.booking import BookingDesk, BookingOutcome
from frontdesk.actions.calendar import CalendarError, Slot
from frontdesk.actions.messages import take_message
from frontdesk.brain.base import Booked, BrainOutput, Hangup, MessageSaved, Transfer
from frontdesk.brain.booking_flow import article
from frontdesk.brain.llm.guard import BookingFact, Facts
from frontdesk.brain.llm.stream import ToolCall, ToolResult, ToolSpec
from frontdesk.brain.say import say_list, say_price, say_when, sentence
from frontdesk.profile import Profile, Service
from frontdesk.store import BusinessStore

__all__ = ["CallScope", "ToolOutcome", "Tools", "specs"]

_TOPICS = ["hours", "address", "prices", "services"]


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def specs(profile: Profile) -> tuple[ToolSpec, ...]:
    """The tool set; service ids are an enum, so the model cannot invent a service."""
    service = {"type": "string", "enum": [s.id for s in profile.services]}
    return (
        ToolSpec("check_availability", "Free appointment times for a service near a day.",
                 _obj(["service", "day"], service=service,
                      day={"type": "string", "description": "YYYY-MM-DD"},
                      time={"type": "string", "description": "HH:MM, 24-hour, optional"})),
        ToolSpec("book", "Book a service at a start time for the caller. Only a result "
                 "with status 'committed' means it is booked.",
                 _obj(["service", "start", "name"], service=service,
                      start={"type": "string", "description": "ISO 8601, e.g. "
                             "2026-11-26T14:00"},
                      name={"type": "string", "description": "the caller's name"})),
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


@dataclass(frozen=True)
class ToolOutcome:
    """``content`` goes back to the model; ``outputs`` (already durable) to the Call;
    ``say`` is a sentence rendered from the ledger, spoken if the model cannot go on."""

    result: ToolResult
    outputs: tuple[BrainOutput, ...] = ()
    say: str | None = None
    error: bool = False


@dataclass
class _Done:
    confirmed: list[BookingFact] = field(default_factory=list)
    pending: list[BookingFact] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)


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
        }
        self._done = _Done()
        self._holding = 0  # bookings committed or unknown
        self._booked: dict[str, Booked] = {}  # committed by this call's tools
        self._announced: set[str] = set()  # bookings the Call was given as Booked
        self._attempts = 0
        # booking writes run to the end whatever happens to the reply (barge-in)
        self.writes: set[asyncio.Future[BookingOutcome]] = set()

    def facts(self) -> Facts:
        """What this call's tools made true, for the guard."""
        d = self._done
        return Facts(self.scope.profile, confirmed=tuple(d.confirmed), pending=tuple(d.pending),
                     messages=tuple(d.messages), transfers=tuple(d.transfers),
                     can_text=self.scope.desk.can_text)

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
        return self._result(call, {"service": a["service"], "free": [
            {"start": s.start.isoformat(timespec="minutes"), "spoken": self._when(s.start)}
            for s in slots]})

    async def _book(self, call: ToolCall) -> ToolOutcome:
        a, scope = call.arguments, self.scope
        try:
            start = datetime.fromisoformat(a["start"])
        except ValueError as error:
            return self._error(call, str(error))
        if start.tzinfo is None:
            start = start.replace(tzinfo=scope.profile.tz)
        service: Service = scope.profile.service(a["service"])
        # Asked before in this session: the desk's idempotency key makes it a report of
        # the same commitment, never a second booking, and it does not count again.
        key = scope.desk.key_for(scope.session_id, Slot(service.id, "", start, start))
        existing = await asyncio.to_thread(scope.store.get_booking_by_key, key)
        if existing is not None:
            slot = Slot(existing.service_id, existing.resource_id, existing.start_at,
                        existing.end_at)
        else:
            if self._holding >= scope.max_bookings or self._attempts >= scope.max_attempts:
                return self._error(call, "booking limit for this call reached; offer to "
                                   "take a message for the team instead")
            try:
                slot = await asyncio.to_thread(scope.desk.calendar.check, service.id, start,
                                               self._now())
            except CalendarError as error:
                return self._result(call, {"status": "refused", "reason": str(error)},
                                    say=f"I'm sorry, I can't book that: {error}.")
            self._attempts += 1
        write = asyncio.ensure_future(scope.desk.book(
            session_id=scope.session_id, call_id=scope.call_id, slot=slot, name=a["name"],
            phone=scope.caller_number))
        self.writes.add(write)
        write.add_done_callback(self.writes.discard)
        # the facts learn the outcome when the write ends, even if barge-in cancelled
        # the reply waiting for it, so the guard and the next turn know the booking
        write.add_done_callback(lambda w: self._learn(w, counted=existing is None))
        outcome = await asyncio.shield(write)  # barge-in never cancels the write itself
        self._learn(write, counted=existing is None)
        return self._render(call, outcome, service)

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

    def _render(self, call: ToolCall, outcome: BookingOutcome, service: Service) -> ToolOutcome:
        record = outcome.booking
        if outcome.done and record is not None:
            when = self._when(record.start_at)
            booked = self.unannounced()  # this one, unless a repeat reported it already
            return self._result(
                call, {"status": "committed", "booking_id": record.id, "service": service.name,
                       "start": record.start_at.isoformat(timespec="minutes"), "spoken": when,
                       "name": record.customer_name},
                *booked, say=f"Your {service.name} is booked for {when}.")
        if outcome.refused:
            reason = outcome.reason or "the booking system did not accept it"
            return self._result(call, {"status": "refused", "reason": reason},
                                say="I'm sorry, our booking system didn't accept that.")
        promise = ("a text confirmation will follow" if self.scope.desk.can_text
                   else "someone from the team will call to confirm")
        return self._result(call, {"status": "unknown", "note": f"not confirmed yet; {promise}"},
                            say=f"I'm still finalizing that booking; {promise}.")

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
        return self._result(call, {"status": "transferring", "to": numbers[0].name},
                            Transfer(numbers[0].number),
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
