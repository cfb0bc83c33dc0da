"""Cancelling and moving an existing booking, for the receptionist.

"Cancel my appointment" finds the caller's next booking by their number, reads it back
and asks before acting; the cancellation is a commitment, so "it's cancelled" is said
only after the backend no longer holds it. "Move my appointment" keeps the service,
runs the usual booking dialogue for the new time, and cancels the old booking only once
the new one is committed, so a caller is never left with neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from frontdesk.actions.booking import BookingDesk, BookingOutcome
from frontdesk.actions.cancelling import cancel_booking
from frontdesk.actions.ledger import TOLD_CONFIRMED, TOLD_DECLINED, TOLD_TEXT_PROMISED
from frontdesk.brain.base import BrainOutput, Text
from frontdesk.brain.booking_flow import Ask, Dialogue, Task
from frontdesk.brain.nlu import When
from frontdesk.brain.say import say_when
from frontdesk.call.continuity import identifiable
from frontdesk.store import C_COMMITTED, C_FAILED, BookingRecord

__all__ = ["Changes"]

Tell = Callable[[BookingOutcome, str, str], Awaitable[None]]


class Changes:
    def __init__(self, desk: BookingDesk, state: Dialogue, *, session_id: str,
                 call_id: str | None, caller_number: str | None, tell: Tell) -> None:
        self.desk = desk
        self.profile = desk.profile
        self.state = state
        self.session_id = session_id
        self.call_id = call_id
        self.caller_number = caller_number
        self._tell = tell
        # cancellations in flight: a barge-in or hang-up never cancels one, and the
        # receptionist waits for them before the next reply and at the end of the call
        self.writes: list[asyncio.Future[BookingOutcome]] = []

    def describe(self, booking: BookingRecord) -> str:
        """'oil change on Tuesday, December 1st at 10 AM' (or 'tomorrow at ...')."""
        name = self.profile.service(booking.service_id).name
        start = booking.start_at.astimezone(self.profile.tz)
        when = say_when(start, self.desk.clock().astimezone(self.profile.tz).date())
        on = "" if when.startswith(("today", "tomorrow")) else "on "
        return f"{name} {on}{when}"

    async def find(self, *, moving: bool, when: When | None) -> AsyncIterator[BrainOutput]:
        """The caller asked to cancel (or move) "my appointment": find it, ask first."""
        s = self.state
        found = []
        if self.caller_number is not None and identifiable(self.caller_number):
            found = await asyncio.to_thread(self.desk.store.upcoming_bookings_for,
                                            self.caller_number, self.desk.clock())
        if not found:
            s.task, s.expecting = Task.MESSAGE, Ask.MESSAGE
            yield Text("I don't see an upcoming appointment for the number you're calling "
                       "from. I can take a message and someone will call you back. What "
                       "would you like me to tell them?")
            return
        booking = found[0]
        if moving:
            s.task, s.replacing, s.target = Task.BOOKING, booking, None
            s.service_id, s.chosen, s.offers, s.when = booking.service_id, None, [], when
            s.name = s.name or booking.customer_name
            if when is None:
                s.expecting = Ask.WHEN
                yield Text(f"Sure, let's move your {self.describe(booking)}. What day and "
                           "time would suit you better?")
            return
        s.task, s.target, s.expecting = Task.CANCEL, booking, Ask.CONFIRM_CANCEL
        yield Text(f"I have your {self.describe(booking)}. Shall I cancel it?")

    async def confirm(self, yes: bool | None) -> AsyncIterator[BrainOutput]:
        """The answer to "Shall I cancel it?"."""
        s = self.state
        booking = s.target
        assert booking is not None
        if yes is None:
            yield Text(f"Sorry, shall I cancel your {self.describe(booking)}? Yes or no?")
            return
        s.task, s.target, s.expecting = None, None, Ask.ANYTHING_ELSE
        if yes is False:
            yield Text("No problem, I'll leave it as it is. Is there anything else I can "
                       "help with?")
            return
        said = await self.cancel(booking)
        yield Text(f"{said} Is there anything else I can help with?")

    async def cancel(self, booking: BookingRecord, *, earlier: bool = False) -> str:
        """Cancel through the ledger; the sentence that says what happened."""
        what = ("earlier " if earlier else "") + self.describe(booking)
        write = asyncio.ensure_future(cancel_booking(
            self.desk, session_id=self.session_id, call_id=self.call_id, booking=booking))
        self.writes = [w for w in self.writes if not w.done()] + [write]
        outcome = await asyncio.shield(write)
        if outcome.state == C_COMMITTED:
            said = f"Your {what} is cancelled."
            await self._tell(outcome, TOLD_CONFIRMED, said)
            return said
        if outcome.state == C_FAILED:
            said = (f"I'm sorry, I couldn't cancel your {what}; someone from the team will "
                    "call you to sort it out.")
            await self._tell(outcome, TOLD_DECLINED, said)
            return said
        said = "You'll get a text confirmation of the cancellation within a few minutes."
        await self._tell(outcome, TOLD_TEXT_PROMISED, said)
        return f"I'm still finalizing the cancellation of your {what}. {said}"

    async def after_rebooking(self) -> str:
        """The new booking is committed: now cancel the one it replaces."""
        old = self.state.replacing
        self.state.replacing = None
        return "" if old is None else await self.cancel(old, earlier=True)
