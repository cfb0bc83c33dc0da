"""The deterministic receptionist: books appointments, answers questions, takes messages.

No model decides anything here: the NLU extracts intent, service, day/time and name; the
calendar computes what is free; the store commits. The one rule that matters most: the
words "you're booked" are rendered only from the booking row the calendar returned after
its transaction committed, never from what the caller asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from frontdesk.actions.calendar import Calendar, CalendarError, Slot, SlotUnavailable
from frontdesk.brain.base import (
    Booked,
    BrainOutput,
    CallerTurn,
    Hangup,
    MessageSaved,
    Text,
    Transfer,
)
from frontdesk.brain.nlu import (
    Intent,
    When,
    affirmation,
    detect_intent,
    extract_name,
    match_service,
    parse_when,
)
from frontdesk.brain.say import say_day, say_list, say_price, say_time, say_when
from frontdesk.profile import Profile
from frontdesk.store import BookingRecord, BusinessStore

MIN_CONFIDENCE = 0.3
MAX_MISSES = 3
MAX_NO_INPUT = 2


@dataclass
class Dialogue:
    """What the conversation knows so far; a later issue snapshots this per turn."""

    task: str | None = None  # "booking" | "message"
    service_id: str | None = None
    when: When | None = None
    offers: list[Slot] = field(default_factory=list)
    chosen: Slot | None = None
    name: str | None = None
    expecting: str | None = None  # service|when|choice|name|confirm|message|anything_else
    booking_id: str | None = None
    misses: int = 0
    no_inputs: int = 0


class Receptionist:
    def __init__(
        self,
        profile: Profile,
        store: BusinessStore,
        *,
        call_id: str | None,
        caller_number: str | None,
        now: Callable[[], datetime],
    ) -> None:
        self.profile = profile
        self.store = store
        self.calendar = Calendar(profile, store)
        self.call_id = call_id
        self.caller_number = caller_number
        self._now = now
        self.state = Dialogue()
        self.last_heard = ""

    def now(self) -> datetime:
        return self._now().astimezone(self.profile.tz)

    async def greet(self) -> AsyncIterator[BrainOutput]:
        yield Text(self.profile.business.greeting)

    def heard(self, played_text: str, interrupted: bool) -> None:
        self.last_heard = played_text

    async def respond(self, turn: CallerTurn) -> AsyncIterator[BrainOutput]:
        s = self.state
        if turn.no_input:
            s.no_inputs += 1
            if s.no_inputs > MAX_NO_INPUT:
                yield Text("I'll let you go for now. Please call back any time. Goodbye.")
                yield Hangup()
            else:
                yield Text("Are you still there? " + self._question())
            return
        s.no_inputs = 0
        if turn.dtmf is not None:
            async for item in self._dtmf(turn.dtmf):
                yield item
            return
        text = turn.text.strip()
        if not text or turn.confidence < MIN_CONFIDENCE:
            async for item in self._missed():
                yield item
            return
        async for item in self._understand(text):
            yield item

    # -- turn handling -----------------------------------------------------------------

    async def _dtmf(self, digit: str) -> AsyncIterator[BrainOutput]:
        if digit == "0":
            async for item in self._human():
                yield item
        else:
            yield Text("Sorry, that key doesn't do anything here. " + self._question())

    async def _missed(self) -> AsyncIterator[BrainOutput]:
        s = self.state
        s.misses += 1
        if s.misses >= MAX_MISSES:
            s.misses = 0
            s.task, s.expecting = "message", "message"
            yield Text("I'm having trouble hearing you. Please tell me your name, number and "
                       "a short message, and someone will call you back.")
            return
        yield Text("Sorry, I didn't catch that. Could you say that again?")

    async def _understand(self, text: str) -> AsyncIterator[BrainOutput]:
        s = self.state
        intent = detect_intent(text)
        yes = affirmation(text)
        if s.expecting == "message":
            async for item in self._save_message(text):
                yield item
            return
        if intent is Intent.GOODBYE or (s.expecting == "anything_else" and yes is False):
            yield Text(f"Thanks for calling {self.profile.business.name}. Goodbye!")
            yield Hangup()
            return
        if intent is Intent.HUMAN:
            async for item in self._human():
                yield item
            return
        name = extract_name(text, expecting=s.expecting == "name")
        if name is not None and (s.expecting == "name" or s.task is not None):
            s.name = name
        service_id = match_service(text, self.profile.services)
        when = parse_when(text, self.now())
        answered = False
        if intent in (Intent.HOURS, Intent.ADDRESS, Intent.PRICE) and not (
            intent is Intent.PRICE and s.expecting == "confirm"
        ):
            yield Text(self._answer(intent, service_id) + " ")
            answered = True
            if s.task is None:
                yield Text("Is there anything else I can help with?")
                s.expecting = "anything_else"
                return
        if intent is Intent.MESSAGE:
            s.task = "message"
            s.expecting = "message"
            yield Text("Sure. What's your name and the message you'd like me to pass on?")
            return
        if s.task == "booking" or intent is Intent.BOOK or service_id or (
            when is not None and s.expecting in ("when", "choice", "anything_else")
        ):
            s.task = "booking"
            s.misses = 0
            async for item in self._booking(text, service_id, when, yes):
                yield item
            return
        if answered:
            return
        s.misses += 1
        if s.misses >= MAX_MISSES:
            s.misses, s.task, s.expecting = 0, "message", "message"
            yield Text("Let me take a message for the team instead. "
                       "What's your name and what should I tell them?")
            return
        yield Text("I can book an appointment, tell you our hours, address and prices, or "
                   "take a message. What would you like to do?")

    def _answer(self, intent: Intent, service_id: str | None) -> str:
        business = self.profile.business
        if intent is Intent.HOURS:
            return self.profile.describe_hours()
        if intent is Intent.ADDRESS:
            if business.address:
                return f"We're at {business.address}."
            return "I'm sorry, I don't have our address on hand."
        service_id = service_id or self.state.service_id
        priced = [sv for sv in self.profile.services if sv.price is not None]
        if service_id is not None:
            service = self.profile.service(service_id)
            if service.price is None:
                return f"The price of {_a(service.name)} depends on the job."
            return f"{_a(service.name).capitalize()} is {say_price(service.price)}."
        listed = [f"{_a(sv.name)} is {say_price(sv.price)}" for sv in priced if sv.price]
        return (say_list(listed, "and") + ".").capitalize() if listed else "Prices vary."

    async def _human(self) -> AsyncIterator[BrainOutput]:
        numbers = self.profile.transfer_numbers
        if numbers:
            yield Text(f"Of course. Let me transfer you to our {numbers[0].name.lower()}. "
                       "One moment, please.")
            yield Transfer(numbers[0].number)
            return
        self.state.task, self.state.expecting = "message", "message"
        yield Text("No one is available to take the call right now. "
                   "Tell me your name and message and someone will call you back.")

    async def _save_message(self, text: str) -> AsyncIterator[BrainOutput]:
        s = self.state
        name = s.name or extract_name(text, expecting=False)
        record = await asyncio.to_thread(
            self.store.add_message, text, call_id=self.call_id, caller_name=name,
            caller_phone=self.caller_number,
        )
        yield MessageSaved(record.id, name, text)
        s.task, s.expecting = None, "anything_else"
        yield Text("Thank you, I've passed your message on to the team. "
                   "Is there anything else I can help with?")

    # -- booking -------------------------------------------------------------------------

    async def _booking(
        self, text: str, service_id: str | None, when: When | None, yes: bool | None
    ) -> AsyncIterator[BrainOutput]:
        s = self.state
        if service_id and service_id != s.service_id:
            s.service_id, s.chosen, s.offers = service_id, None, []
        if s.expecting == "confirm" and s.chosen is not None:
            if yes is True and when is None:
                async for item in self._commit():
                    yield item
                return
            if yes is False and when is None:
                s.chosen = None
                s.expecting = "when"
                yield Text("No problem. What day and time would suit you better?")
                return
        if s.expecting == "choice" and s.offers:
            picked = _pick(s.offers, text, when, yes)
            if picked is not None:
                s.chosen, s.offers, when = picked, [], None
        if when is not None:
            s.when, s.chosen, s.offers = when, None, []
        async for item in self._advance():
            yield item

    async def _advance(self) -> AsyncIterator[BrainOutput]:
        s = self.state
        today = self.now().date()
        if s.service_id is None:
            s.expecting = "service"
            names = say_list([_a(sv.name) for sv in self.profile.services])
            yield Text(f"Sure. Which service do you need? We do {names}.")
            return
        service = self.profile.service(s.service_id)
        if s.chosen is None and s.when is None:
            s.expecting = "when"
            yield Text(f"Sure, {_a(service.name)}. What day and time works for you?")
            return
        if s.chosen is None and s.when is not None:
            async for item in self._search(s.when):
                yield item
            return
        assert s.chosen is not None
        slot = say_when(s.chosen.start, today)
        if s.name is None:
            s.expecting = "name"
            yield Text(f"I have {slot} for {_a(service.name)}. Can I get your name, please?")
            return
        s.expecting = "confirm"
        yield Text(f"Thanks, {s.name.split()[0]}. To confirm: {_a(service.name)}, {slot}. "
                   "Shall I book it?")

    async def _search(self, when: When) -> AsyncIterator[BrainOutput]:
        s = self.state
        assert s.service_id is not None
        now = self.now()
        s.when = None
        if when.day is not None and when.day < now.date():
            s.expecting = "when"
            yield Text(f"{say_day(when.day, now.date()).capitalize()} has already passed. "
                       "What other day works for you?")
            return
        slots = await asyncio.to_thread(
            self.calendar.nearest, s.service_id, now=now, day=when.day, at=when.time,
            earliest=when.earliest, latest=when.latest,
        )
        if not slots:
            s.expecting = "when"
            yield Text("I'm sorry, I have nothing free around then. What other day works?")
            return
        first = slots[0]
        exact = (when.time is not None and first.start.time() == when.time
                 and (when.day is None or first.start.date() == when.day))
        if exact:
            s.chosen = first
            async for item in self._advance():
                yield item
            return
        s.offers, s.expecting = slots, "choice"
        asked = self._describe_ask(when, now)
        options = say_list([say_when(sl.start, now.date()) for sl in slots])
        lead = f"I don't have {asked} free. " if asked else ""
        yield Text(f"{lead}The closest times I have are {options}. Which works best?")

    def _describe_ask(self, when: When, now: datetime) -> str:
        day = say_day(when.day, now.date()) if when.day else ""
        if when.time is not None:
            return f"{day} at {say_time(when.time)}".strip()
        if when.day is not None and not self.profile.opening_intervals(when.day):
            return f"anything {day}, we're closed that day,"
        return ""

    async def _commit(self) -> AsyncIterator[BrainOutput]:
        s = self.state
        assert s.chosen is not None and s.name is not None
        slot, name = s.chosen, s.name
        try:
            record = await asyncio.to_thread(self._book, slot, name)
        except SlotUnavailable:
            s.chosen = None
            yield Text("I'm sorry, that time was just taken. ")
            async for item in self._search(When(slot.start.date(), slot.start.time(), None, None,
                                                 "")):
                yield item
            return
        except CalendarError as error:
            s.chosen, s.expecting = None, "when"
            yield Text(f"I'm sorry, I can't book that: {error}. What other time works?")
            return
        yield Booked(record.id, record.service_id, record.start_at, record.customer_name)
        service = self.profile.service(record.service_id)
        booked_for = say_when(record.start_at.astimezone(self.profile.tz), self.now().date())
        yield Text(f"You're all set, {record.customer_name.split()[0]}. Your {service.name} is "
                   f"booked for {booked_for}. Is there anything else I can help with?")

    def _book(self, slot: Slot, name: str) -> BookingRecord:
        """Runs in a worker thread; the dialogue state is updated in the same place as the
        commit, so a reply cancelled by barge-in cannot forget a booking that exists."""
        record = self.calendar.book(slot, customer_name=name, customer_phone=self.caller_number,
                                    call_id=self.call_id, now=self.now())
        s = self.state
        s.booking_id, s.chosen, s.offers, s.task, s.expecting = (
            record.id, None, [], None, "anything_else")
        return record

    def _question(self) -> str:
        return {
            "service": "Which service do you need?",
            "when": "What day and time works for you?",
            "choice": "Which of those times works best?",
            "name": "Can I get your name, please?",
            "confirm": "Shall I book it?",
            "message": "What message would you like me to pass on?",
        }.get(self.state.expecting or "", "How can I help you today?")


def _a(name: str) -> str:
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _pick(offers: list[Slot], text: str, when: When | None, yes: bool | None) -> Slot | None:
    """Which of the offered slots the caller chose: by time, by position, or a plain yes."""
    lowered = text.lower()
    for word, index in (("first", 0), ("second", 1), ("third", 2), ("last", -1)):
        if word in lowered and len(offers) > (index if index >= 0 else 0):
            return offers[index]
    if when is not None and (when.time is not None or when.day is not None):
        for slot in offers:
            if (when.time is None or slot.start.time() == when.time) and (
                when.day is None or slot.start.date() == when.day
            ):
                return slot
        return None
    if yes is True and len(offers) == 1:
        return offers[0]
    return None
