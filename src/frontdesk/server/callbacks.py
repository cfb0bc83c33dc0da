"""Outbound callbacks: a dropped call with an unfinished booking is called back.

The session's callback is scheduled when the call drops (``callback_after_minutes``
later, if the profile turns callbacks on) and cancelled if the caller rings back first.
Due callbacks are claimed under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
of several instances exactly one dials each. The carrier then calls our own voice
webhook when the callee answers; that leg joins the same session (it is found by the
callee's number) and the receptionist picks the conversation up from the snapshot.

A worker killed between the carrier's answer to "dial" and recording it as placed leaves
the lease to lapse, and another worker dials again: a rare second call, preferred to a
callback that never comes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from frontdesk.profile import Profile
from frontdesk.store import (
    CALLBACK_FAILED,
    CALLBACK_PLACED,
    BusinessStore,
    SessionLeaseLost,
)
from frontdesk.telephony.actions import CarrierActionError, CarrierActions

__all__ = ["CarrierDialer", "place_callbacks"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CarrierDialer:
    """Places a call from the business's number that rings back into our webhook."""

    actions: CarrierActions
    public_url: str

    async def dial(self, profile: Profile, to_number: str) -> str:
        carrier = self.actions.carrier
        webhook = "/twilio/voice" if carrier == "twilio" else "/telnyx/webhook"
        status = "/twilio/status" if carrier == "twilio" else None
        placed = await self.actions.place_call(
            from_number=profile.business.phone_numbers[0], to_number=to_number,
            webhook_url=self.public_url + webhook,
            status_callback_url=self.public_url + status if status else None)
        return placed.carrier_call_id


async def place_callbacks(store: BusinessStore, profile: Profile, dialer: CarrierDialer, *,
                          owner: str, now: Callable[[], datetime], lease_s: float = 120.0,
                          limit: int = 5) -> int:
    """Dial every due callback this worker can claim; the number placed."""
    claimed = await asyncio.to_thread(store.claim_callbacks, now=now(), owner=owner,
                                      lease_s=lease_s, limit=limit)
    placed = 0
    for session in claimed:
        try:
            call_id = await dialer.dial(profile, session.caller_number)
        except CarrierActionError as error:
            if error.retryable:  # the lease lapses and the next pass tries again
                log.warning("callback to session %s not placed yet: %s", session.id, error)
                continue
            log.warning("callback to session %s refused: %s", session.id, error)
            await _move(store, session.id, CALLBACK_FAILED, owner, now())
            continue
        log.info("callback for session %s placed (%s)", session.id, call_id)
        if await _move(store, session.id, CALLBACK_PLACED, owner, now(), call_id):
            placed += 1
    return placed


async def _move(store: BusinessStore, session_id: str, state: str, owner: str,
                now: datetime, carrier_call_id: str | None = None) -> bool:
    try:
        await asyncio.to_thread(store.set_callback_state, session_id, state=state, now=now,
                                owner=owner, carrier_call_id=carrier_call_id)
    except SessionLeaseLost as error:  # the caller rang back meanwhile, or we overran
        log.info("callback of session %s moved on: %s", session_id, error)
        return False
    return True
