"""One conversation across call legs: which session a call joins, and how it leaves it.

A call from a number with a dropped, unexpired session resumes it (the session, not the
call, is the idempotency scope of its bookings, so a booking made on either leg is made
once). Any other call opens a new session. When the call ends with a task unfinished
(the line dropped, the caller hung up mid-booking, the audio went silent), the session is
marked dropped: resumable for the profile's window, the offered slot held for a while,
and a callback scheduled if the profile asks for one. A call that ends with nothing
unfinished closes its session.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.calendar import Slot
from frontdesk.brain.resume import restore_any, unfinished
from frontdesk.profile import Profile
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_HELD,
    CALLBACK_ANSWERED,
    CALLBACK_PLACED,
    BusinessStore,
    SessionRecord,
    SessionUnavailable,
)

__all__ = ["Continuing", "Joined", "join", "leave", "sweep"]

log = logging.getLogger(__name__)
# An open session nobody has written to for this long lost its call's process.
_ORPHANED = timedelta(hours=2)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# What carriers put in From when the caller withholds their number (Twilio's stand-ins
# for ANONYMOUS, RESTRICTED, UNAVAILABLE, UNKNOWN; Telnyx sends words): every withheld
# caller would share them, so they never find a session.
_WITHHELD = frozenset({"+266696687", "+7378742833", "+86282452253", "+8656696"})


class Continuing(Protocol):
    """What a brain tells the session when its call ends (the Receptionist does)."""

    def unfinished(self) -> str | None: ...

    def offered(self) -> tuple[Slot, str | None] | None:
        """The slot the caller had settled on (and their name), if any."""
        ...


def identifiable(number: str) -> bool:
    """A number a session can be found by again: withheld or malformed ones are not."""
    return bool(_E164.match(number)) and number not in _WITHHELD


@dataclass(frozen=True)
class Joined:
    session: SessionRecord
    resumed: bool  # a dropped conversation continues on this leg
    called_back: bool  # ... and this leg is our own callback, answered


async def join(store: BusinessStore, *, call_id: str, caller: str, now: datetime,
               window: timedelta, outbound: bool = False) -> Joined:
    """The session this call belongs to: a dropped one of the same number inside its
    window (the caller rang back, or answered our callback: ``outbound``), else a new
    one. A session still open mid-task counts as dropped: a caller whose line broke can
    ring back before their old leg's drop is noticed (a carrier may take a while to
    say so), and the new leg takes the conversation over."""
    if identifiable(caller):
        found = await asyncio.to_thread(store.find_resumable, caller, now=now,
                                        open_since=now - window)
        if found is not None:
            try:
                session = await asyncio.to_thread(store.attach_call, found.id,
                                                  call_id=call_id, now=now, take_over=True)
            except SessionUnavailable:  # closed, or taken by another leg, a moment ago
                pass
            else:
                called_back = outbound and found.callback_state == CALLBACK_PLACED
                if called_back:
                    session = await asyncio.to_thread(
                        store.set_callback_state, session.id, state=CALLBACK_ANSWERED,
                        now=now)
                return Joined(session, True, called_back)
    session = await asyncio.to_thread(store.open_session, caller_number=caller,
                                      call_id=call_id, now=now)
    return Joined(session, False, False)


async def leave(store: BusinessStore, profile: Profile, desk: BookingDesk,
                session: SessionRecord, brain: Continuing, *, call_id: str,
                now: datetime) -> SessionRecord:
    """Close the session, or mark it dropped with its task when one is unfinished."""
    current = await asyncio.to_thread(store.get_session, session.id)
    if current is not None and current.last_call_id != call_id:
        log.info("call %s left session %s, which a newer leg (call %s) took over",
                 call_id, session.id, current.last_call_id)
        return current
    task = brain.unfinished()
    if task is None:
        return await asyncio.to_thread(store.mark_finished, session.id, now=now,
                                       call_id=call_id)
    settings = profile.sessions
    hold_until = held_id = None
    offered = brain.offered()
    # a slot is held only with a name to book it under (the booking takes the hold's row)
    if (task == "booking" and offered is not None and offered[1] is not None
            and settings.hold_minutes > 0):
        held = await desk.hold(session_id=session.id, call_id=call_id, slot=offered[0],
                               name=offered[1], phone=session.caller_number)
        if held is not None:
            hold_until, held_id = now + timedelta(minutes=settings.hold_minutes), held.id
    callback_at = None
    if (settings.callback and task == "booking" and identifiable(session.caller_number)
            and current is not None and current.callback_state is None):  # once a session
        callback_at = now + timedelta(minutes=settings.callback_after_minutes)
    log.info("call %s dropped with %s unfinished (session %s)", call_id, task, session.id)
    return await asyncio.to_thread(
        store.mark_dropped, session.id, now=now,
        resume_until=now + timedelta(hours=settings.resume_window_hours),
        hold_until=hold_until, callback_at=callback_at, call_id=call_id,
        held_booking_id=held_id)


async def sweep(store: BusinessStore, profile: Profile, desk: BookingDesk, *,
                now: datetime) -> int:
    """Expire sessions past their window and let go of slot holds that ran out; the
    number of holds released. Run by the back office on every pass."""
    for stale in await asyncio.to_thread(store.stale_open_sessions,
                                         before=now - _ORPHANED):
        # its call's process died before the call could leave it: the snapshot says
        # whether a task was left open
        state = restore_any(stale.snapshot, profile, stale.id)
        try:
            if state is not None and unfinished(state) is not None:
                await asyncio.to_thread(
                    store.mark_dropped, stale.id, now=now,
                    resume_until=now + timedelta(hours=profile.sessions.resume_window_hours))
            else:
                await asyncio.to_thread(store.mark_finished, stale.id, now=now)
        except SessionUnavailable:
            pass  # a leg moved it meanwhile
    await asyncio.to_thread(store.expire_sessions, now=now)
    released = 0
    for session in await asyncio.to_thread(store.release_holds, now=now):
        if session.held_booking_id is None:
            continue
        held = await asyncio.to_thread(store.get_booking, session.held_booking_id)
        if held is not None and held.status == BOOKING_HELD:  # not taken by a booking
            await asyncio.to_thread(store.set_booking_status, held.id, BOOKING_CANCELLED)
            released += 1
    return released
