"""A Telnyx transfer that reports back, as pure functions: the command's body, and what a
webhook of the leg it rings says about the transfer.

``POST /v2/calls/{caller's leg}/actions/transfer`` rings the target on a new leg (B) and
bridges it to the caller's (A) when it answers. Telnyx sends B's ``call.initiated``,
``call.bridged``, then ``call.answered`` or, when the transfer could not be completed,
``call.hangup``; either way leg A stays up and takes further commands. B's webhooks name
B only: the one tie back to the caller is the client state given with the command.

Telnyx documents ``target_leg_client_state`` for the new leg and ``client_state`` for the
leg the command is issued on (descriptions of the command differ on this), so the same
text goes in both. The text is a ticket naming leg A, so an event *of* leg A that echoes
it is told apart from B's by its ``call_control_id``.

Outcomes are reported in Twilio's ``DialCallStatus`` words (completed, busy, no-answer,
failed, canceled), so both carriers' transfers read the same in the call's events.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from frontdesk.telephony.telnyx.webhook import TelnyxEvent

TransferStatus = Literal["completed", "busy", "no-answer", "failed", "canceled"]

# hang-up causes of a leg that was never answered, in DialCallStatus words (Telnyx's enum
# says user_busy; "busy" is taken too, as some descriptions of the event spell it)
_NOT_TAKEN: dict[str, TransferStatus] = {
    "user_busy": "busy",
    "busy": "busy",
    "timeout": "no-answer",
    "no_answer": "no-answer",
    "originator_cancel": "canceled",  # the caller's side gave up while it rang
}


def transfer_body(number: str, *, caller_id: str | None = None, timeout_s: int | None = None,
                  client_state: str | None = None) -> dict[str, Any]:
    """The transfer command's JSON (``command_id`` is added by the REST client).

    ``client_state`` is plain text; Telnyx requires base64 and echoes it, still base64.
    """
    body: dict[str, Any] = {"to": number}
    if caller_id is not None:
        body["from"] = caller_id
    if timeout_s is not None:
        body["timeout_secs"] = timeout_s
    if client_state is not None:
        encoded = encode_state(client_state)
        body["client_state"] = encoded
        body["target_leg_client_state"] = encoded
    return body


def encode_state(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


@dataclass(frozen=True)
class LegEvent:
    """A webhook that carries client state: perhaps one of a transfer's new leg.

    ``state`` is the decoded text, ``None`` when it is not base64 of UTF-8 (not ours).
    ``status`` is what the event says of the transfer if it is leg B's: ``completed`` for
    ``call.answered``, the failure for a ``call.hangup`` (the first of the two to be
    recorded decides), ``None`` for events that decide nothing (initiated, bridged).
    """

    event_type: str
    call_control_id: str
    state: str | None
    status: TransferStatus | None
    hangup_cause: str | None = None
    hangup_source: str | None = None


def leg_event(event: TelnyxEvent) -> LegEvent | None:
    """``None`` for an event without client state: every event of a call never
    transferred, which gets the usual handling."""
    raw = event.payload.get("client_state")
    if not isinstance(raw, str) or not raw:
        return None
    status: TransferStatus | None = None
    cause = source = None
    if event.event_type == "call.answered":
        status = "completed"
    elif event.event_type == "call.hangup":
        cause = str(event.payload.get("hangup_cause") or "unspecified")
        source = event.payload.get("hangup_source")
        status = not_taken_status(cause)
    return LegEvent(event.event_type, event.call_control_id, _decode(raw), status, cause,
                    str(source) if source is not None else None)


def not_taken_status(hangup_cause: str) -> TransferStatus:
    """Leg B hung up before it was answered: why, in DialCallStatus words. Every other
    cause (call_rejected, not_found, unspecified, time_limit, normal_clearing before an
    answer, one Telnyx adds later) is a plain ``failed``."""
    return _NOT_TAKEN.get(hangup_cause, "failed")


def _decode(raw: str) -> str | None:
    try:
        text = base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text, or not UTF-8
        return None
    return text or None
