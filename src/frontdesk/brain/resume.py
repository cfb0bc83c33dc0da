"""Picking a dropped conversation up again: what was unfinished, and how to say so.

The dialogue state is snapshotted into the caller's session after every turn. When the
same caller rings back (or answers our callback) within the window, the receptionist
starts from that snapshot: "Welcome back to Main Street Auto. We were booking your
brake inspection for Thursday at 2 PM. Shall I go ahead?". Yes continues from the exact
step the call dropped at, without asking again for anything already answered; no
starts afresh. A snapshot that cannot be read is logged and ignored: the caller gets a
fresh conversation, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from frontdesk.brain.booking_flow import Ask, Dialogue, Task, article
from frontdesk.brain.say import say_on, say_starts, say_time
from frontdesk.brain.snapshot import SnapshotError, load
from frontdesk.profile import Profile

__all__ = ["restore", "restore_any", "unfinished", "welcome_back"]

log = logging.getLogger(__name__)


def unfinished(state: Dialogue) -> str | None:
    """The task a dropped call leaves open ("booking", "cancel", "message"), if any."""
    if state.task is Task.BOOKING and state.service_id is not None:
        return "booking"
    if state.task is Task.CANCEL and state.target is not None:
        return "cancel"
    if state.task is Task.MESSAGE:
        return "message"
    return None


def restore(snapshot: Mapping[str, Any] | None, profile: Profile,
            session_id: str) -> Dialogue | None:
    """The snapshot's dialogue if it has an unfinished task, else None."""
    state = restore_any(snapshot, profile, session_id)
    return state if state is not None and unfinished(state) is not None else None


def restore_any(snapshot: Mapping[str, Any] | None, profile: Profile,
                session_id: str) -> Dialogue | None:
    """The snapshot's dialogue whatever its task, or None (logged) if unusable."""
    if not snapshot:
        return None
    try:
        return load(snapshot, profile)
    except SnapshotError as error:
        log.error("session %s: snapshot unusable: %s", session_id, error)
        return None


def welcome_back(state: Dialogue, profile: Profile, today: date, *,
                 called_back: bool = False) -> str:
    """"Welcome back ... we were <doing what>. Shall I go ahead?" (on our own callback:
    "Hi, this is <business> calling you back. ...")."""
    hello = (f"Hi, this is {profile.business.name} calling you back, since we got cut off. "
             if called_back else f"Welcome back to {profile.business.name}. ")
    if state.task is Task.MESSAGE:
        return hello + "We were taking a message for the team. Would you like to finish it?"
    if state.task is Task.CANCEL and state.target is not None:
        service = profile.service(state.target.service_id).name
        start = state.target.start_at.astimezone(profile.tz)
        return (hello + f"You were cancelling your {service} {say_on(start.date(), today)} "
                f"at {say_time(start.time())}. Shall I go ahead and cancel it?")
    assert state.service_id is not None
    service = profile.service(state.service_id).name
    if state.chosen is not None:
        start = state.chosen.start.astimezone(profile.tz)
        return (hello + f"We were booking your {service} {say_on(start.date(), today)} at "
                f"{say_time(start.time())}. Shall I go ahead?")
    if state.offers and state.expecting is Ask.CHOICE:
        options = say_starts([s.start for s in state.offers], today)
        return (hello + f"We were finding a time for your {service}: I had {options}. "
                "Would you like to carry on?")
    return (hello + f"We were booking {article(service)}. Would you like to carry on?")
