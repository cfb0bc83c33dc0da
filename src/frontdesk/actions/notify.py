"""Text messages that tell a caller the truth about their booking after the call.

The outbox texts a caller whenever what they heard on the phone is not the whole story:
the booking went through but they hung up (or barged in) before hearing it confirmed;
they were promised a text because the write outcome was unknown; or the booking could
not be made after all. The words are rendered from the commitment's stored state and
result, like every other sentence about a side effect.

Texts are sent at least once: a carrier error that may have delivered the message is
retried, because a duplicate "you're confirmed" costs far less than a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from frontdesk.profile import Profile
from frontdesk.profile.describe import speak_time
from frontdesk.store import C_COMMITTED, C_FAILED, CommitmentRecord

__all__ = ["KIND_SMS", "SmsError", "SmsSender", "notice_text"]

KIND_SMS = "sms"


class SmsError(Exception):
    """A text that was not (knowingly) sent; ``retryable`` says whether to try again."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class SmsSender(Protocol):
    async def send(self, *, to: str, text: str) -> str:
        """Send ``text`` to ``to``; the carrier's message id. Raises :class:`SmsError`."""
        ...


@dataclass(frozen=True)
class Notice:
    to: str
    text: str
    about: str  # "confirmed" | "not_booked" | "cancelled" | "not_cancelled"


def notice_text(profile: Profile, commitment: CommitmentRecord) -> Notice | None:
    """The text owed for a settled booking, or None when no number is known."""
    payload = commitment.payload
    to = payload.get("customer_phone")
    if not to:
        return None
    business = profile.business
    facts = commitment.result if commitment.state == C_COMMITTED else None
    start = datetime.fromisoformat((facts or payload)["start"]).astimezone(profile.tz)
    when = f"{start:%A}, {start:%B} {start.day} at {speak_time(start.time())}"
    service = payload.get("service_name") or payload.get("service_id", "appointment")
    phone = business.phone_numbers[0]
    if commitment.kind == "cancel":
        if commitment.state == C_COMMITTED:
            return Notice(to, f"{business.name}: your {service} on {when} is cancelled.",
                          "cancelled")
        if commitment.state == C_FAILED:
            return Notice(to, f"{business.name}: we could not cancel your {service} on "
                              f"{when}. Please call us at {phone}.", "not_cancelled")
        return None
    if commitment.state == C_COMMITTED:
        return Notice(to, f"{business.name}: your {service} is confirmed for {when}. "
                          f"To change it, call us at {phone}.", "confirmed")
    if commitment.state == C_FAILED:
        return Notice(to, f"{business.name}: we're sorry, we could not book your {service} "
                          f"for {when}. Please call us at {phone} or reply with another "
                          "time that suits you.", "not_booked")
    return None
