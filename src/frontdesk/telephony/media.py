"""Carrier-neutral media-stream events and errors, shared by the Twilio and Telnyx cores.

A carrier streams a call over a WebSocket as JSON text messages. Each carrier's sans-IO core
(``twilio.media``, ``telnyx.media``) turns one message into typed events from the closed
union ``StreamEvent``; the asyncio adapter around it only moves text and acts on events.

Errors say whose fault it is and what to do. ``MediaProtocolError`` is the carrier's fault
(a message we cannot use); ``fatal`` tells the adapter whether to close the stream:

* non-fatal, skip the message and carry on (one bad message must not drop a caller):
  BAD_JSON, NOT_AN_OBJECT, UNKNOWN_EVENT (carriers add events), BAD_PAYLOAD (one lost 20 ms
  frame), MISSING_FIELD / BAD_FIELD outside ``start``, AFTER_STOP, WRONG_STREAM (a message
  for another stream id: ignore it rather than mix two calls' audio);
* fatal, close the stream: MEDIA_BEFORE_START (we would not know whose call the audio is),
  DUPLICATE_START, UNSUPPORTED_FORMAT (anything but μ-law 8 kHz mono would be decoded into
  noise), OVERSIZE (a 64 KiB cap bounds the work a peer can make us do), and any
  MISSING_FIELD / BAD_FIELD inside ``start`` (without a valid start the call cannot run).

``LocalStreamError`` is our own fault: sending on a stream that has not started or has
stopped. It is a bug in the caller, never something to retry.
"""

from __future__ import annotations

import binascii
import enum
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType

MAX_MESSAGE_CHARS = 64 * 1024
"""Largest message accepted. A 20 ms media message is ~300 characters and a start ~1 KiB."""

DTMF_DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class StreamConnected:
    protocol: str | None
    version: str | None


@dataclass(frozen=True, slots=True)
class StreamStarted:
    stream_id: str
    carrier_call_id: str
    account_id: str | None
    custom_parameters: Mapping[str, str]
    encoding: str
    sample_rate: int
    channels: int
    tracks: tuple[str, ...]
    from_number: str | None
    to_number: str | None


@dataclass(frozen=True, slots=True)
class MediaReceived:
    payload: bytes
    """Raw μ-law, base64-decoded."""
    sequence: int
    chunk: int | None
    timestamp_ms: int | None
    track: str | None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True, slots=True)
class MarkReceived:
    name: str


@dataclass(frozen=True, slots=True)
class StreamStopped:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CarrierReported:
    """The carrier reported an error on the stream (Telnyx ``error``); the call may go on."""

    code: str | None
    title: str


StreamEvent = (
    StreamConnected
    | StreamStarted
    | MediaReceived
    | DtmfReceived
    | MarkReceived
    | StreamStopped
    | CarrierReported
)


class StreamState(enum.Enum):
    AWAITING_START = "awaiting_start"
    STREAMING = "streaming"
    STOPPED = "stopped"


class ErrorCode(enum.StrEnum):
    BAD_JSON = "bad_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_EVENT = "unknown_event"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    BAD_PAYLOAD = "bad_payload"
    MEDIA_BEFORE_START = "media_before_start"
    DUPLICATE_START = "duplicate_start"
    UNSUPPORTED_FORMAT = "unsupported_format"
    OVERSIZE = "oversize"
    AFTER_STOP = "after_stop"
    WRONG_STREAM = "wrong_stream"


_FATAL_CODES = frozenset(
    {
        ErrorCode.MEDIA_BEFORE_START,
        ErrorCode.DUPLICATE_START,
        ErrorCode.UNSUPPORTED_FORMAT,
        ErrorCode.OVERSIZE,
    }
)


class MediaProtocolError(ValueError):
    """The carrier sent a message we cannot use. ``fatal``: close the stream; else skip it."""

    def __init__(self, code: ErrorCode, detail: str, *, fatal: bool | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.fatal = code in _FATAL_CODES if fatal is None else fatal


class LocalStreamError(RuntimeError):
    """We tried to send on a stream that is not streaming (our bug, not the carrier's)."""


# Which events each state refuses, and why; anything not listed is accepted. "stop" is
# accepted before "start" too: the carrier may give up on a stream before it begins.
_REFUSED: dict[StreamState, dict[str, ErrorCode]] = {
    StreamState.AWAITING_START: {
        "media": ErrorCode.MEDIA_BEFORE_START,
        "dtmf": ErrorCode.MEDIA_BEFORE_START,
        "mark": ErrorCode.MEDIA_BEFORE_START,
    },
    StreamState.STREAMING: {"start": ErrorCode.DUPLICATE_START},
}


def check_transition(state: StreamState, event: str) -> None:
    """Raise if ``event`` may not arrive in ``state`` (one table for every carrier)."""
    if state is StreamState.STOPPED:
        raise MediaProtocolError(ErrorCode.AFTER_STOP, f"{event[:40]!r} after the stream stopped")
    refused = _REFUSED[state].get(event)
    if refused is not None:
        raise MediaProtocolError(refused, f"{event!r} while {state.value}")


def load_message(text: str | bytes) -> dict[str, object]:
    """Parse one WebSocket message into a JSON object, or raise ``MediaProtocolError``."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise MediaProtocolError(
            ErrorCode.OVERSIZE, f"{len(text)} characters, limit {MAX_MESSAGE_CHARS}"
        )
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MediaProtocolError(ErrorCode.BAD_JSON, type(exc).__name__) from None
    if not isinstance(data, dict):
        raise MediaProtocolError(ErrorCode.NOT_AN_OBJECT, f"got {type(data).__name__}")
    return data


def _count(value: object) -> int:
    """What :meth:`Fields.number` accepts, as an int; -1 for anything else (no error
    built: this runs for every frame)."""
    if type(value) is str:
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else -1
    return value if type(value) is int and 0 <= value < 10**18 else -1


def media_fields(data: Mapping[str, object], sequence_key: str) -> MediaReceived:
    """The ``media`` message, the one that comes 50 times a second per call.

    The well-formed shape is read with plain dict lookups; anything unusual goes the
    :class:`Fields` way, which names the field at fault (and raises)."""
    media = data.get("media")
    if type(media) is dict:
        payload, track = media.get("payload"), media.get("track")
        raw_chunk, raw_stamp = media.get("chunk"), media.get("timestamp")
        seq = _count(data.get(sequence_key))
        chunk = None if raw_chunk is None else _count(raw_chunk)
        stamp = None if raw_stamp is None else _count(raw_stamp)
        if (type(payload) is str and seq >= 0 and chunk != -1 and stamp != -1
                and (track is None or (type(track) is str and track))):
            try:
                audio = binascii.a2b_base64(payload.encode("ascii"), strict_mode=True)
            except (ValueError, binascii.Error):
                pass  # the slow path below says why
            else:
                return MediaReceived(audio, seq, chunk, stamp, track)
    msg = Fields(data, "message")
    fields = msg.child("media")
    return MediaReceived(
        payload=fields.payload("payload"),
        sequence=msg.number(sequence_key),
        chunk=fields.opt_number("chunk"),
        timestamp_ms=fields.opt_number("timestamp"),
        track=fields.opt_text("track"),
    )


class Fields:
    """Typed reads from one JSON object, raising ``MediaProtocolError`` with a path.

    ``fatal`` is set per message part: a missing field in ``start`` ends the stream, the
    same gap in one media message only loses that message.
    """

    __slots__ = ("_data", "_fatal", "_where")

    def __init__(self, data: Mapping[str, object], where: str, *, fatal: bool = False) -> None:
        self._data = data
        self._where = where
        self._fatal = fatal

    def _fail(self, code: ErrorCode, key: str, problem: str) -> MediaProtocolError:
        return MediaProtocolError(code, f"{self._where}.{key} {problem}", fatal=self._fatal)

    def _get(self, key: str) -> object:
        value = self._data.get(key)
        if value is None:
            raise self._fail(ErrorCode.MISSING_FIELD, key, "is missing")
        return value

    def text(self, key: str, *, allow_empty: bool = False) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not (value or allow_empty):
            raise self._fail(ErrorCode.BAD_FIELD, key, "must be a non-empty string")
        return value

    def opt_text(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.text(key)

    def number(self, key: str) -> int:
        """A non-negative integer, as a JSON number or a string of digits (Twilio's way)."""
        value = self._get(key)
        if isinstance(value, str):
            # isascii() first: str.isdigit() alone would accept digits like "٣" or "²".
            if value.isascii() and value.isdigit() and len(value) <= 18:
                return int(value)
        elif type(value) is int and 0 <= value < 10**18:
            return value
        raise self._fail(ErrorCode.BAD_FIELD, key, "must be a non-negative integer")

    def opt_number(self, key: str) -> int | None:
        return None if self._data.get(key) is None else self.number(key)

    def opt_code(self, key: str) -> str | None:
        """An optional error code, sent as a number or a string; returned as a string."""
        value = self._data.get(key)
        if value is None or isinstance(value, str):
            return value
        if type(value) is int:
            return str(value)
        raise self._fail(ErrorCode.BAD_FIELD, key, "must be a number or a string")

    def child(self, key: str, *, fatal: bool | None = None) -> Fields:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._fail(ErrorCode.BAD_FIELD, key, "must be an object")
        return Fields(value, f"{self._where}.{key}", fatal=self._fatal if fatal is None else fatal)

    def text_map(self, key: str) -> Mapping[str, str]:
        """An optional object of string values, returned read-only (empty if absent)."""
        value = self._data.get(key)
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self._fail(ErrorCode.BAD_FIELD, key, "must be an object of strings")
        return MappingProxyType(dict(value))

    def text_list(self, key: str) -> tuple[str, ...]:
        """An optional list of strings (empty if absent)."""
        value = self._data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(ErrorCode.BAD_FIELD, key, "must be a list of strings")
        return tuple(value)

    def payload(self, key: str) -> bytes:
        """Strict base64 (no stray characters): a corrupted frame is dropped, not decoded."""
        value = self.text(key, allow_empty=True)
        try:
            return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
        except (ValueError, binascii.Error):  # non-ASCII text is a UnicodeEncodeError
            raise self._fail(ErrorCode.BAD_PAYLOAD, key, "is not valid base64") from None

    def digit(self, key: str) -> str:
        value = self.text(key)
        if value not in DTMF_DIGITS:
            raise self._fail(ErrorCode.BAD_FIELD, key, f"is not a DTMF digit: {value[:8]!r}")
        return value


def check_format(
    encoding: str, sample_rate: int, channels: int, *, ulaw_names: Collection[str]
) -> None:
    """Refuse anything but μ-law 8 kHz mono: other audio would be decoded into noise."""
    if encoding.lower() not in ulaw_names or sample_rate != 8000 or channels != 1:
        raise MediaProtocolError(
            ErrorCode.UNSUPPORTED_FORMAT, f"{encoding} {sample_rate} Hz x{channels}"
        )
