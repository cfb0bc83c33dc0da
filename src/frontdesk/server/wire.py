"""The generic WebSocket's wire format, sans-IO.

Client → server: binary messages of 16 kHz s16le mono PCM (a whole number of 20 ms
frames), and JSON text messages ``{"type": "dtmf", "digit": "5"}`` or
``{"type": "hangup"}``. Server → client: binary agent audio in 20 ms frames, and JSON
events (see :func:`event_json`). Bad input raises :class:`WireError`; the caller of
``parse_*`` reports it to the client and the call goes on.
"""

from __future__ import annotations

import json
from typing import Any

from frontdesk.audio import FRAME_BYTES
from frontdesk.call.events import (
    AgentPhraseStarted,
    AgentTurnDone,
    BargeIn,
    BookingCommitted,
    CallEnded,
    CallerTranscript,
    CallEvent,
    ClearAudio,
    EndReason,
    EscalationDecided,
    MessageTaken,
    Outcome,
    RecordingDisclosed,
    RecordingOptOut,
    RecordingStarted,
    RecordingStopped,
    StateChanged,
    TransferRequested,
    TurnMetrics,
)
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn, Inbound

DTMF_DIGITS = set("0123456789*#ABCD")
MAX_AUDIO_BYTES = FRAME_BYTES * 50  # one second per message at most


class WireError(ValueError):
    """The client sent something this protocol does not allow (the client's fault)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def to_json(self) -> str:
        return json.dumps({"type": "error", "code": self.code, "message": str(self)})


def parse_audio(data: bytes) -> list[Inbound]:
    if not data or len(data) % FRAME_BYTES:
        raise WireError("bad_audio", f"audio must be whole 20 ms frames of {FRAME_BYTES} "
                                     f"bytes (16 kHz s16le mono); got {len(data)} bytes")
    if len(data) > MAX_AUDIO_BYTES:
        raise WireError("bad_audio", f"at most {MAX_AUDIO_BYTES} bytes per message")
    return [AudioIn(data[i:i + FRAME_BYTES]) for i in range(0, len(data), FRAME_BYTES)]


def parse_control(text: str) -> Inbound:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise WireError("bad_json", f"control message is not JSON: {error.msg}") from None
    except (ValueError, RecursionError):  # a 5000-digit number, '[' * 100000, ...
        raise WireError("bad_json", "control message is not acceptable JSON") from None
    if not isinstance(message, dict):
        raise WireError("bad_message", "control message must be a JSON object")
    match message.get("type"):
        case "dtmf":
            digit = message.get("digit")
            if not isinstance(digit, str) or digit not in DTMF_DIGITS:
                raise WireError("bad_dtmf", "dtmf digit must be one of 0-9 * # A-D")
            return DtmfIn(digit)
        case "hangup":
            return HangupIn()
        case other:
            raise WireError("unknown_type", f"unknown control message type {other!r}")


def event_json(event: CallEvent) -> dict[str, Any] | None:
    """The JSON the client sees for an engine event (None: not sent)."""
    match event:
        case StateChanged():
            return {"type": "state", "state": event.state.value}
        case CallerTranscript():
            return {"type": "transcript", "turn": event.turn, "text": event.text,
                    "confidence": round(event.confidence, 3)}
        case AgentPhraseStarted():
            return {"type": "agent_phrase", "turn": event.turn, "text": event.text}
        case AgentTurnDone():
            return {"type": "agent_turn", "turn": event.turn, "planned": event.planned_text,
                    "played": event.played_text, "interrupted": event.interrupted}
        case TurnMetrics():
            return {"type": "latency", "turn": event.turn, "spans_ms": event.spans_ms,
                    "latency_ms": event.latency_ms, "budget_ms": event.budget_ms}
        case BargeIn():
            return {"type": "barge_in", "turn": event.turn, "played": event.played_text}
        case ClearAudio():
            return {"type": "clear"}
        case BookingCommitted():
            return {"type": "booking", "booking_id": event.booking_id,
                    "service": event.service_id, "start": event.start_iso,
                    "name": event.customer_name}
        case MessageTaken():
            return {"type": "message", "message_id": event.message_id, "text": event.text}
        case TransferRequested():
            return {"type": "transfer", "number": event.number}
        case EscalationDecided():
            return {"type": "escalation", "category": event.category, "action": event.action,
                    "rule": event.rule}
        case RecordingOptOut():
            return {"type": "recording_opt_out", "turn": event.turn}
        case RecordingDisclosed():
            return {"type": "recording_disclosed", "turn": event.turn}
        case RecordingStarted():
            return {"type": "recording_started"}  # the file path stays on the server
        case RecordingStopped():
            return {"type": "recording_stopped", "by_caller": event.by_caller}
        case CallEnded():
            return {"type": "end", "reason": event.reason, "outcome": event.outcome}


def parse_event(message: dict[str, Any], at: float) -> CallEvent | None:
    """The client side: a server JSON event back into the engine's event (None: not one
    a client acts on). ``at`` is the client's clock. Malformed events raise WireError."""
    try:
        match message.get("type"):
            case "transcript":
                return CallerTranscript(int(message["turn"]), str(message["text"]),
                                        float(message["confidence"]), at)
            case "agent_phrase":
                return AgentPhraseStarted(int(message["turn"]), str(message["text"]), at)
            case "agent_turn":
                return AgentTurnDone(int(message["turn"]), str(message["planned"]),
                                     str(message["played"]), bool(message["interrupted"]), at)
            case "latency":
                latency = message["latency_ms"]
                return TurnMetrics(int(message["turn"]),
                                   {str(k): float(v) for k, v in message["spans_ms"].items()},
                                   None if latency is None else float(latency),
                                   float(message["budget_ms"]), at)
            case "barge_in":
                return BargeIn(int(message["turn"]), str(message["played"]), at)
            case "clear":
                return ClearAudio(at)
            case "booking":
                return BookingCommitted(str(message["booking_id"]), str(message["service"]),
                                        str(message["start"]), str(message["name"]), at)
            case "message":
                return MessageTaken(str(message["message_id"]), None, str(message["text"]), at)
            case "transfer":
                return TransferRequested(str(message["number"]), at)
            case "escalation":
                return EscalationDecided(str(message["category"]), str(message["action"]),
                                         str(message["rule"]), at)
            case "end":
                return CallEnded(EndReason(message["reason"]), Outcome(message["outcome"]), at)
            case "recording_opt_out":
                return RecordingOptOut(int(message["turn"]), at)
            case "recording_disclosed":
                return RecordingDisclosed(int(message["turn"]), at)
            case "recording_started":
                return RecordingStarted("", at)  # the path is not on the wire
            case "recording_stopped":
                return RecordingStopped(bool(message["by_caller"]), at)
            case _:
                return None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise WireError("bad_event", f"malformed {message.get('type')!r} event: {error}") from None
