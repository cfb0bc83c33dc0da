"""The deterministic receptionist: books appointments, answers questions, takes messages.

No model decides anything here: the NLU extracts intent, service, day/time and name; the
calendar computes what is free; the booking desk writes it through the commitment ledger.
The one rule that matters most: what is said about a booking is rendered from the
commitment's state after the ledger recorded it, never from what the caller asked for.
Committed → "you're booked" with the stored details; failed → an apology and other
times; unknown (the backend did not answer in time) → "you'll get a text confirmation",
and the outbox finishes the job. A write slower than :data:`FILLER_AFTER_S` gets a filler
sentence first, so the caller never sits in silence.

When the profile records calls, the greeting opens with the disclosure, and every reply
repeats it first until the caller has heard it whole (barge-in can cut it). A caller who
asks not to be recorded gets ``StopRecording`` before anything else, an acknowledgement,
and then the conversation goes on where it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from frontdesk.actions.booking import BookingDesk, BookingOutcome
from frontdesk.actions.calendar import Slot
from frontdesk.actions.ledger import TOLD_CONFIRMED, TOLD_DECLINED, TOLD_TEXT_PROMISED
from frontdesk.actions.messages import take_message
from frontdesk.brain.base import (
    Booked,
    BrainOutput,
    CallerTurn,
    Hangup,
    MessageSaved,
    StopRecording,
    Text,
    Transfer,
)
from frontdesk.brain.booking_flow import (
    Ask,
    Dialogue,
    Task,
    article,
    asks_other_service,
    find_name,
    is_filler,
    pick,
    said_bye,
    why_not,
)
from frontdesk.brain.changes import Changes
from frontdesk.brain.nlu import (
    Intent,
    When,
    affirmation,
    detect_intent,
    extract_name,
    match_service,
    parse_when,
)
from frontdesk.brain.nlu.intents import recording_opt_out
from frontdesk.brain.resume import restore, unfinished, welcome_back
from frontdesk.brain.say import (
    say_day,
    say_list,
    say_on,
    say_price,
    say_starts,
    say_time,
    say_when,
    sentence,
)
from frontdesk.brain.snapshot import dump
from frontdesk.profile import Profile
from frontdesk.store import BookingRecord, BusinessStore, SessionRecord, SessionUnavailable

log = logging.getLogger(__name__)
MIN_CONFIDENCE = 0.3
MAX_MISSES = 3
MAX_NO_INPUT = 2
FILLER_AFTER_S = 0.7  # a booking write slower than this gets "one moment" first
_QUESTIONS = (Intent.HOURS, Intent.ADDRESS, Intent.PRICE)


class Receptionist:
    def __init__(
        self,
        profile: Profile,
        store: BusinessStore,
        *,
        call_id: str | None,
        caller_number: str | None,
        now: Callable[[], datetime],
        desk: BookingDesk | None = None,
        session_id: str | None = None,
        session: SessionRecord | None = None,
        resumed: bool = False,
        called_back: bool = False,
    ) -> None:
        self.profile = profile
        self.store = store
        self.desk = desk or BookingDesk(profile, store, clock=now)
        self.calendar = self.desk.calendar
        # The idempotency scope of this conversation's side effects: the caller's session
        # (shared by every leg of a dropped-and-resumed conversation) when there is one.
        self.session = session
        self.session_id = (session.id if session else None) or session_id or call_id or \
            str(uuid.uuid4())
        self.call_id = call_id
        self.caller_number = caller_number
        self._now = now
        self.state = Dialogue()
        self.last_heard = ""
        self._heard_booking: str | None = None  # the booking whose confirmation was heard
        self._announced: set[str] = set()  # bookings already reported to the Call
        self._write: asyncio.Future[BookingOutcome] | None = None  # the last booking write
        self._booked_for: tuple[str, str] | None = None  # (booking id, clause as spoken)
        # (commitment id, what was told, the clause that must be heard for it to count)
        self._telling: list[tuple[str, str, str]] = []
        self._noting: list[asyncio.Future[Any]] = []  # "heard" notes being written
        self._saving: asyncio.Future[None] | None = None  # the last snapshot being written
        self._farewell = False  # the caller said goodbye: nothing is left unfinished
        self._resume_point: Ask | None = None  # where a resumed conversation picks up
        self._called_back = called_back  # this leg is our callback, not the caller's call
        restored = restore(session.snapshot, profile, session.id) if (
            session is not None and resumed) else None
        if restored is not None:
            self.state = restored
            self._resume_point = restored.expecting
        self.changes = Changes(self.desk, self.state, session_id=self.session_id,
                               call_id=call_id, caller_number=caller_number, tell=self._tell)
        # the recording disclosure still has to be heard in full (barge-in may cut it)
        self._disclosure_due = profile.recording.enabled

    def now(self) -> datetime:
        return self._now().astimezone(self.profile.tz)

    async def greet(self) -> AsyncGenerator[BrainOutput, None]:
        if self._disclosure_due:
            yield Text(f"{self.profile.recording.disclosure} ")
        if self._resume_point is not None:  # said from the step it resumes (the offers)
            welcome = welcome_back(self.state, self.profile, self.now().date(),
                                   called_back=self._called_back)
            self.state.expecting = Ask.RESUME
            yield Text(welcome)
            return
        yield Text(self.profile.business.greeting)

    def unfinished(self) -> str | None:
        """The task this call leaves open if it ends now ("booking", ...), or None."""
        return None if self._farewell else unfinished(self.state)

    def offered(self) -> tuple[Slot, str | None] | None:
        """The slot the caller had settled on, and their name: held if the call drops."""
        chosen = self.state.chosen
        return None if chosen is None else (chosen, self.state.name)

    @property
    def disclosure_due(self) -> str | None:
        """The recording disclosure, while the caller has not heard it whole."""
        return self.profile.recording.disclosure if self._disclosure_due else None

    def farewell(self, ending: bool = True) -> None:
        """Whether the call is ending by the caller's wish or a hand-off, so that nothing
        is left open (another brain, the model, decides this for its turns)."""
        self._farewell = ending

    def adopt(self, *, service_id: str | None, offers: Sequence[Slot], name: str | None
              ) -> None:
        """Another brain (the model) moved the conversation on: a booking being arranged
        (``service_id``, the times offered) or none. The dialogue follows and is saved
        like a turn's, so a call that drops now leaves a snapshot a ring-back resumes."""
        s = self.state
        self._resume_point, s.when, s.target, s.replacing = None, None, None, None
        if service_id is None:
            s.task, s.service_id, s.offers, s.chosen, s.expecting = None, None, [], None, None
        else:
            s.task, s.service_id, s.offers, s.chosen = Task.BOOKING, service_id, list(offers), None
            s.expecting = Ask.CHOICE if offers else Ask.WHEN
            s.day = offers[0].start.astimezone(self.profile.tz).date() if offers else s.day
        s.name = name or s.name
        self._saving = asyncio.ensure_future(self._save(after=self._saving))

    def heard(self, played_text: str, interrupted: bool) -> None:
        """A booking counts as confirmed to the caller only if its whole "booked for <day>
        at <time>" clause was played, not when barge-in cut it before the time; the same
        goes for the recording disclosure."""
        self.last_heard = played_text
        if self._disclosure_due and self.profile.recording.heard_in(played_text):
            self._disclosure_due = False
        played = " ".join(played_text.split())
        booked_for = self._booked_for
        if booked_for is not None and booked_for[1] in played:
            self._heard_booking = booked_for[0]
        for telling in [t for t in self._telling if t[2] in played]:
            self._telling.remove(telling)
            # Durable, off the event loop: the outbox texts whoever did not hear the
            # outcome whole. ``settle`` (or the next reply) waits for the write.
            self._noting.append(asyncio.get_running_loop().run_in_executor(
                None, functools.partial(self.desk.ledger.told, telling[0], telling[1],
                                        heard=True)))

    async def settle(self) -> None:
        """Wait for what this conversation left running (a booking write a hang-up cut
        the reply of, bounded by the in-call budget, and "heard" notes), then snapshot
        the dialogue into the session. The call awaits this before it reports itself
        ended, so the back office and a callback see final rows."""
        await self._drain()
        await self._save(after=self._saving)
        self._saving = None

    async def _drain(self) -> None:
        pending: list[asyncio.Future[Any]] = [*self._noting, *self.changes.writes]
        if self._write is not None:
            pending.append(self._write)
        self._noting.clear()
        if pending:
            await asyncio.wait(pending)

    async def _save(self, *, after: asyncio.Future[None] | None = None) -> None:
        """The dialogue state into the session, and a summary into the call's event log,
        so any process can rebuild this conversation (after the previous save)."""
        if after is not None:
            await asyncio.wait([after])
        if self.session is None:
            return
        state = self.state
        summary = {
            "task": state.task.value if state.task else None,
            "expecting": state.expecting.value if state.expecting else None,
            "service": state.service_id, "name_known": state.name is not None,
            "offers": [slot.start.isoformat() for slot in state.offers],
            "chosen": state.chosen.start.isoformat() if state.chosen else None,
        }
        if state.expecting is Ask.RESUME:  # not answered yet: keep the step it resumes
            state = dataclasses.replace(state, expecting=self._resume_point)
        try:
            await asyncio.to_thread(self.store.save_snapshot, self.session.id,
                                    snapshot=dump(state), task=self.unfinished(),
                                    now=self.now(), call_id=self.call_id)
            if self.call_id is not None:
                await asyncio.to_thread(self.store.add_call_event, self.call_id,
                                        "dialogue.turn", summary, at=self.now())
        except SessionUnavailable as error:  # closed, or a newer leg owns it now
            log.info("session %s: snapshot not kept: %s", self.session.id, error)
        except Exception:  # the call goes on; only a resume of it would be the poorer
            log.exception("session %s: snapshot not saved", self.session.id)

    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        # a write from a cancelled reply may still run: its result decides this turn
        await self._drain()
        async for item in self._reply(turn):
            yield item
        # the snapshot is written beside the conversation, never in a reply's path; the
        # saves queue behind each other, and the end of the call waits for them
        self._saving = asyncio.ensure_future(self._save(after=self._saving))

    async def _reply(self, turn: CallerTurn) -> AsyncIterator[BrainOutput]:
        rest = self._recording_opt_out(turn)
        if rest is not None and self.profile.recording.enabled:
            self._disclosure_due = False
            yield StopRecording()  # first: the recording stops before anything is said
        elif self._disclosure_due:
            yield Text(f"{self.profile.recording.disclosure} ")
        async for item in self._restate_unheard_booking():
            yield item
        if rest is None:
            respond = self._resume if self.state.expecting is Ask.RESUME else self._respond
            async for item in respond(turn):
                yield item
            return
        yield Text("Of course. This call won't be recorded. " if self.profile.recording.enabled
                   else "This call isn't being recorded. ")
        if rest:  # "don't record this, I need an oil change": answer the rest as usual
            async for item in self._respond(dataclasses.replace(turn, text=rest)):
                yield item
        else:
            yield Text(self._question())

    def _recording_opt_out(self, turn: CallerTurn) -> str | None:
        """The rest of the caller's words if they asked not to be recorded, else None."""
        if turn.no_input or turn.dtmf is not None or turn.confidence < MIN_CONFIDENCE:
            return None
        return recording_opt_out(turn.text)

    async def _restate_unheard_booking(self) -> AsyncIterator[BrainOutput]:
        """A booking exists but the caller did not hear it confirmed (barge-in cut the
        reply, before or during the confirmation): say it now, from the stored row."""
        booking_id = self.state.booking_id
        if booking_id is None or booking_id == self._heard_booking:
            return
        record = await asyncio.to_thread(self.store.get_booking, booking_id)
        if record is None:
            return
        if booking_id not in self._announced:
            self._announced.add(booking_id)
            yield Booked(record.id, record.service_id, record.start_at, record.customer_name)
        yield Text(f"Just so you know, your {self._booked_clause(record)} ")

    async def _respond(self, turn: CallerTurn) -> AsyncIterator[BrainOutput]:
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

    async def _resume(self, turn: CallerTurn) -> AsyncIterator[BrainOutput]:
        """The answer to "Welcome back ... Shall I go ahead?"."""
        s, point = self.state, self._resume_point
        unclear = turn.no_input or turn.dtmf is not None or turn.confidence < MIN_CONFIDENCE
        if unclear:  # silence, a key, a mumble: ask again, keep everything
            yield Text("Sorry, I didn't catch that. " + welcome_back(
                s, self.profile, self.now().date()).split(". ", 1)[1])
            return
        self._resume_point = None
        yes = affirmation(turn.text)
        if yes is True:
            s.expecting = point
            if s.task is Task.CANCEL:
                s.expecting = Ask.CONFIRM_CANCEL
                async for item in self.changes.confirm(True):
                    yield item
            elif s.task is Task.BOOKING and s.chosen is not None and s.name is not None:
                async for item in self._commit():  # everything is known: book it
                    yield item
            else:
                yield Text(f"Great. {self._question()}")
            return
        if s.chosen is not None:  # not going ahead: let the held slot go
            await self.desk.release(session_id=self.session_id, slot=s.chosen)
        vars(s).update(vars(Dialogue()))  # in place: ``changes`` shares this object
        if yes is False:
            yield Text("No problem. How can I help you today?")
            return
        async for item in self._respond(turn):  # something else entirely: answer that
            yield item

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
            s.task, s.expecting = Task.MESSAGE, Ask.MESSAGE
            yield Text("I'm having trouble hearing you. Please tell me your name, number and "
                       "a short message, and someone will call you back.")
            return
        yield Text("Sorry, I didn't catch that. Could you say that again?")

    async def _understand(self, text: str) -> AsyncIterator[BrainOutput]:
        s = self.state
        intent = detect_intent(text)
        yes = affirmation(text)
        if intent is Intent.HUMAN:
            async for item in self._human():
                yield item
            return
        if s.expecting is Ask.MESSAGE:
            async for item in self._message_turn(text):
                yield item
            return
        if s.expecting is Ask.CONFIRM_CANCEL and intent not in (Intent.CANCEL,
                                                                 Intent.RESCHEDULE):
            if intent is Intent.GOODBYE and not said_bye(text):
                yes = False  # "no thanks" keeps the appointment
            async for item in self.changes.confirm(yes):
                yield item
            return
        if intent in (Intent.CANCEL, Intent.RESCHEDULE):
            s.misses = 0
            moving = intent is Intent.RESCHEDULE
            when = parse_when(text, self.now()) if moving else None
            async for item in self.changes.find(moving=moving, when=when):
                yield item
            if moving and when is not None and s.replacing is not None:
                async for item in self._advance(text):
                    yield item
            return
        if intent is Intent.GOODBYE and s.expecting is Ask.CONFIRM and not said_bye(text):
            # "No thanks" to "Shall I book it?" declines the slot, not the call.
            intent, yes = Intent.UNKNOWN, False
        if intent is Intent.GOODBYE or (s.expecting is Ask.ANYTHING_ELSE and yes is False):
            self._farewell = True
            yield Text(f"Thanks for calling {self.profile.business.name}. Goodbye!")
            yield Hangup()
            return
        service_id = match_service(text, self.profile.services)
        name = find_name(text, expecting=s.expecting is Ask.NAME)
        if name is not None and (
            s.expecting is Ask.NAME or s.task is not None or service_id is not None
            or intent in (Intent.BOOK, Intent.MESSAGE)
        ):
            s.name, s.name_is_new = name, True
        if intent in _QUESTIONS:
            # A question is answered and the current step re-asked; a day inside it ("what
            # time do you close on Saturday?") is not a request to move the booking.
            s.misses = 0
            answer = self._answer(intent, service_id)
            if s.task is None:
                s.expecting = Ask.ANYTHING_ELSE
                yield Text(f"{answer} Is there anything else I can help with?")
            else:
                yield Text(f"{answer} {self._question()}")
            return
        if intent is Intent.MESSAGE:
            s.task, s.expecting, s.misses = Task.MESSAGE, Ask.MESSAGE, 0
            ask = ("the message you'd like me to pass on" if s.name
                   else "your name and the message you'd like me to pass on")
            yield Text(f"Sure. What's {ask}?")
            return
        when = parse_when(text, self.now())
        if s.task is Task.BOOKING or intent is Intent.BOOK or service_id or (
            when is not None and s.expecting in (Ask.WHEN, Ask.CHOICE, Ask.ANYTHING_ELSE)
        ):
            async for item in self._booking(text, service_id, when, yes):
                yield item
            return
        if s.expecting is Ask.ANYTHING_ELSE and yes is True:
            s.misses, s.expecting = 0, None
            yield Text("Sure, what can I help you with?")
            return
        s.misses += 1
        if s.misses >= MAX_MISSES:
            s.misses, s.task, s.expecting = 0, Task.MESSAGE, Ask.MESSAGE
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
                return f"The price of {article(service.name)} depends on the job."
            return f"{sentence(article(service.name))} is {say_price(service.price)}."
        listed = [f"{article(sv.name)} is {say_price(sv.price)}"
                  for sv in priced if sv.price is not None]
        return sentence(say_list(listed, "and") + ".") if listed else "Prices vary."

    async def _human(self) -> AsyncIterator[BrainOutput]:
        numbers = self.profile.transfer_numbers
        if numbers:
            yield Text(f"Of course. Let me transfer you to our {numbers[0].name.lower()}. "
                       "One moment, please.")
            self._farewell = True  # handed to a person: nothing is left for us to finish
            yield Transfer(numbers[0].number)
            return
        self.state.task, self.state.expecting = Task.MESSAGE, Ask.MESSAGE
        yield Text("No one is available to take the call right now. "
                   "Tell me your name and message and someone will call you back.")

    async def _message_turn(self, text: str) -> AsyncIterator[BrainOutput]:
        s = self.state
        s.misses = 0
        name = find_name(text, expecting=False, bare_first_clause=s.name is None)
        bare = extract_name(text, expecting=True)
        if s.name is None and bare is not None and len(text.split()) <= len(bare.split()) + 3:
            # Only a name so far ("It's Tom Baker."): keep it and ask for the message.
            s.name = bare
            yield Text(f"Thanks, {bare.split()[0]}. What message would you like me to pass on?")
            return
        name = s.name or name
        _, record = await take_message(self.desk.ledger, session_id=self.session_id,
                                       call_id=self.call_id, name=name,
                                       phone=self.caller_number, text=text)
        yield MessageSaved(record.id, name, text)
        s.task, s.expecting = None, Ask.ANYTHING_ELSE
        yield Text("Thank you, I've passed your message on to the team. "
                   "Is there anything else I can help with?")

    # -- booking -------------------------------------------------------------------------

    async def _booking(
        self, text: str, service_id: str | None, when: When | None, yes: bool | None
    ) -> AsyncIterator[BrainOutput]:
        s = self.state
        s.task, s.misses = Task.BOOKING, 0
        if service_id and service_id != s.service_id:
            previous = s.chosen
            s.service_id, s.chosen, s.offers = service_id, None, []
            if previous is not None and when is None:  # "make that a brake inspection"
                when = When(previous.start.date(), previous.start.time(), None, None, "")
        if s.expecting is Ask.CONFIRM and s.chosen is not None and when is None:
            if yes is True:
                async for item in self._commit():
                    yield item
                return
            if yes is False:
                s.chosen, s.expecting = None, Ask.WHEN
                yield Text("No problem, I won't book that. What day and time would suit you "
                           "better?")
                return
        if s.expecting is Ask.CHOICE and s.offers:
            picked = pick(s.offers, text, when, yes)
            if picked is not None:
                s.chosen, s.offers, when = picked, [], None
            elif yes is False and when is None:
                s.offers, s.expecting = [], Ask.WHEN
                yield Text("No problem. What other day and time would suit you?")
                return
        if when is not None:
            if when.day is None and s.day is not None:
                when = dataclasses.replace(when, day=s.day)
            s.when, s.chosen, s.offers = when, None, []
        async for item in self._advance(text):
            yield item

    async def _advance(self, text: str = "") -> AsyncIterator[BrainOutput]:
        s = self.state
        today = self.now().date()
        if s.service_id is None:
            unknown = (s.expecting is Ask.SERVICE and not is_filler(text)) or asks_other_service(
                text)
            lead = ("I'm sorry, I don't think we offer that. " if unknown
                    else "" if s.expecting is Ask.SERVICE else "Sure. ")
            s.expecting = Ask.SERVICE
            names = say_list([article(sv.name) for sv in self.profile.services])
            yield Text(f"{lead}We do {names}. Which service would you like?")
            return
        service = self.profile.service(s.service_id)
        if s.chosen is None and s.when is None:
            s.expecting = Ask.WHEN
            yield Text(f"Sure, {article(service.name)}. What day and time works for you?")
            return
        if s.chosen is None and s.when is not None:
            async for item in self._search(s.when):
                yield item
            return
        assert s.chosen is not None
        s.day = s.chosen.start.date()
        if s.name is None:
            s.expecting = Ask.NAME
            yield Text(f"I have {say_when(s.chosen.start, today)} for {article(service.name)}. "
                       "Can I get your name, please?")
            return
        s.expecting = Ask.CONFIRM
        thanks = f"Thanks, {s.name.split()[0]}. " if s.name_is_new else ""
        s.name_is_new = False
        yield Text(f"{thanks}To confirm: {self._slot_phrase(s.chosen)}. Shall I book it?")

    def _slot_phrase(self, slot: Slot) -> str:
        service = self.profile.service(slot.service_id)
        return (f"{article(service.name)} {say_on(slot.start.date(), self.now().date())} "
                f"at {say_time(slot.start.time())}")

    async def _search(self, when: When, lead: str | None = None) -> AsyncIterator[BrainOutput]:
        s = self.state
        assert s.service_id is not None
        now = self.now()
        today = now.date()
        s.when = None
        if when.day is not None and when.day < today:
            s.expecting, s.day = Ask.WHEN, None
            yield Text(f"{sentence(say_day(when.day, today))} has already passed. "
                       "What other day works for you?")
            return
        day = when.day
        if day is None and when.time is not None and datetime.combine(
            today, when.time, self.profile.tz
        ) < now + timedelta(minutes=self.profile.policies.min_notice_minutes):
            day = today + timedelta(days=1)  # a bare "9 AM" at 10 AM means tomorrow's
        slots = await asyncio.to_thread(
            self.calendar.nearest, s.service_id, now=now, day=day, at=when.time,
            earliest=when.earliest, latest=when.latest,
        )
        if not slots:
            s.expecting = Ask.WHEN
            yield Text(f"{lead or ''}I'm sorry, I have nothing free around then. "
                       "What other day works?")
            return
        first = slots[0]
        s.day = first.start.date()
        exact = (lead is None and when.time is not None and first.start.time() == when.time
                 and (day is None or first.start.date() == day))
        if exact:
            s.chosen = first
            async for item in self._advance():
                yield item
            return
        s.offers, s.expecting = sorted(slots, key=lambda sl: sl.start), Ask.CHOICE
        if lead is None:
            lead = why_not(self.profile, self.profile.service(s.service_id), when, day, today)
        options = say_starts([sl.start for sl in s.offers], today)
        intro = "The closest times I have are" if when.time is not None else "I have"
        yield Text(f"{lead}{intro} {options}. Which works best?")

    async def _commit(self) -> AsyncIterator[BrainOutput]:
        s = self.state
        assert s.chosen is not None and s.name is not None
        slot = s.chosen
        write = asyncio.ensure_future(self.desk.book(
            session_id=self.session_id, call_id=self.call_id, slot=slot, name=s.name,
            phone=self.caller_number, replaces=s.replacing))
        write.add_done_callback(self._committed)
        self._write = write
        # Neither the filler wait nor barge-in or a hang-up cancels the write (shielded).
        await asyncio.wait([write], timeout=FILLER_AFTER_S)
        if not write.done():
            yield Text("One moment while I put that in our calendar. ")
        try:
            outcome = await asyncio.shield(write)
        except Exception:  # the ledger itself failed (the database, a bug): say nothing false
            log.exception("booking write failed in call %s", self.call_id)
            s.chosen, s.task, s.expecting = None, Task.MESSAGE, Ask.MESSAGE
            yield Text("I'm sorry, I ran into a problem saving that booking, so I can't "
                       "confirm it. I can take a message and someone will call you back. "
                       "What would you like me to tell them?")
            return
        record = outcome.booking
        if outcome.done and record is not None:
            self._announced.add(record.id)
            clause = self._booked_clause(record)
            await self._tell(outcome, TOLD_CONFIRMED, clause)
            yield Booked(record.id, record.service_id, record.start_at, record.customer_name)
            yield Text(f"You're all set, {record.customer_name.split()[0]}. Your {clause} ")
            if s.replacing is not None:  # a reschedule: the old one goes only now
                yield Text(f"{await self.changes.after_rebooking()} ")
            yield Text("Is there anything else I can help with?")
            return
        if outcome.refused:
            async for item in self._refused(outcome, slot):
                yield item
            return
        # unknown: the backend did not answer in time; the outbox finishes and texts
        # (or, with no carrier to text through, a person calls: reconciliation asks them)
        promise = ("You'll get a text confirmation within a few minutes." if self.desk.can_text
                   else "Someone from the team will call you to confirm it.")
        await self._tell(outcome, TOLD_TEXT_PROMISED, promise)
        earlier = (" Your earlier appointment stays until the new one is confirmed."
                   if s.replacing is not None else "")
        s.chosen, s.offers, s.when, s.task, s.expecting, s.replacing = (
            None, [], None, None, Ask.ANYTHING_ELSE, None)
        yield Text(f"I'm still finalizing that booking with our calendar. {promise}{earlier} "
                   "Is there anything else I can help with?")

    async def _refused(self, outcome: BookingOutcome, slot: Slot) -> AsyncIterator[BrainOutput]:
        s = self.state
        s.chosen = None
        if outcome.code == "slot_taken":
            lead = "I'm sorry, that time was just taken. "
            await self._tell(outcome, TOLD_DECLINED, lead.strip())
            async for item in self._search(
                When(slot.start.date(), slot.start.time(), None, None, ""), lead=lead,
            ):
                yield item
            return
        if outcome.code == "invalid":  # the calendar's reason is fit to say aloud
            lead = f"I'm sorry, I can't book that: {outcome.reason}."
            await self._tell(outcome, TOLD_DECLINED, lead)
            s.expecting = Ask.WHEN
            yield Text(f"{lead} What other time works?")
            return
        lead = "I'm sorry, our booking system didn't accept that appointment."
        if s.replacing is not None:
            lead += " Your earlier appointment is unchanged."
            s.replacing = None
        await self._tell(outcome, TOLD_DECLINED, lead)
        s.task, s.expecting = Task.MESSAGE, Ask.MESSAGE
        yield Text(f"{lead} I can take a message and someone will call you back to set it "
                   "up. What would you like me to tell them?")

    async def _tell(self, outcome: BookingOutcome, told: str, clause: str) -> None:
        """Store what the caller is about to be told before it is spoken; ``heard``
        marks it heard once the clause was played whole."""
        commitment = outcome.commitment
        await asyncio.to_thread(self.desk.ledger.told, commitment.id, told, heard=False)
        self._telling = [t for t in self._telling if t[0] != commitment.id]
        self._telling.append((commitment.id, told, clause))

    def _booked_clause(self, record: BookingRecord) -> str:
        """'<service> is booked for <day> at <time>.', rendered from the stored row."""
        service = self.profile.service(record.service_id)
        start = record.start_at.astimezone(self.profile.tz)
        clause = f"{service.name} is booked for {say_when(start, self.now().date())}."
        self._booked_for = (record.id, clause)
        return clause

    def _committed(self, write: asyncio.Future[BookingOutcome]) -> None:
        """On the event loop when the write ends, whether or not its reply still waits, so
        a reply cancelled by barge-in cannot forget a booking that exists."""
        if write.cancelled() or write.exception() is not None:
            return
        outcome = write.result()
        if not outcome.done or outcome.booking is None:
            return  # the waiting reply (if any) says so; nothing was booked
        s = self.state
        s.booking_id, s.chosen, s.offers, s.when, s.task, s.expecting = (
            outcome.booking.id, None, [], None, None, Ask.ANYTHING_ELSE)

    def _question(self) -> str:
        s = self.state
        if s.expecting is Ask.CONFIRM and s.chosen is not None:
            return f"Shall I book {self._slot_phrase(s.chosen)}?"
        if s.expecting is Ask.CONFIRM_CANCEL and s.target is not None:
            return f"Shall I cancel your {self.changes.describe(s.target)}?"
        if s.expecting is Ask.CHOICE and s.offers:
            options = say_starts([sl.start for sl in s.offers], self.now().date())
            return f"Would {options} work for you?"
        questions = {
            Ask.SERVICE: "Which service would you like?",
            Ask.WHEN: "What day and time works for you?",
            Ask.NAME: "Can I get your name, please?",
            Ask.MESSAGE: "What message would you like me to pass on?",
        }
        fallback = "How can I help you today?"
        return questions.get(s.expecting, fallback) if s.expecting is not None else fallback
