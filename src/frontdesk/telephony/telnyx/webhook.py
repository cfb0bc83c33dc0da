"""Telnyx Call Control webhook bodies, parsed into a small typed shape (sans-IO).

Body: ``{"data": {"event_type": "call.initiated", "id": ..., "occurred_at": ...,
"payload": {...}, "record_type": "event"}}``. Only the fields frontdesk acts on are
read; everything else is ignored, so new Telnyx fields never break a call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class TelnyxWebhookError(ValueError):
    """The (correctly signed) body is not a Call Control event we understand."""


@dataclass(frozen=True)
class TelnyxEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]

    @property
    def call_control_id(self) -> str:
        return str(self.payload.get("call_control_id", ""))


def parse_event(body: bytes) -> TelnyxEvent:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TelnyxWebhookError(f"body is not JSON: {error}") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise TelnyxWebhookError("body has no data object")
    event_type, payload = data.get("event_type"), data.get("payload")
    if not isinstance(event_type, str) or not isinstance(payload, dict):
        raise TelnyxWebhookError("data needs event_type and payload")
    return TelnyxEvent(str(data.get("id", "")), event_type, payload)


# Telnyx hangup causes -> the carrier statuses frontdesk records (Twilio's vocabulary)
_CAUSES = {
    "normal_clearing": "completed",
    "user_busy": "busy",
    "timeout": "no-answer",
    "no_answer": "no-answer",
    "originator_cancel": "canceled",
    "call_rejected": "failed",
    "unspecified": "failed",
}


def hangup_status(payload: dict[str, Any]) -> tuple[str, int | None]:
    """The call's final status and its duration in whole seconds, when Telnyx gave both
    ends of the call."""
    status = _CAUSES.get(str(payload.get("hangup_cause", "")), "failed")
    try:
        start = datetime.fromisoformat(str(payload["start_time"]))
        end = datetime.fromisoformat(str(payload["end_time"]))
    except (KeyError, ValueError):
        return status, None
    return status, max(0, round((end - start).total_seconds()))
