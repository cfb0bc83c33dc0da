"""Twilio Media Streams as a sans-IO core: message text in, typed events out.

``TwilioMediaStream`` holds no socket and no clock. The adapter feeds every text message
to ``receive`` and sends the strings that ``media``/``mark``/``clear`` return. Message
shapes: twilio.com/docs/voice/media-streams/websocket-messages. Twilio quotes its numbers
(``"sequenceNumber": "3"``); plain JSON integers are accepted as well. Which errors are
fatal is documented in ``frontdesk.telephony.media``.
"""

from __future__ import annotations

import base64
import json

from frontdesk.telephony.media import (
    DtmfReceived,
    ErrorCode,
    Fields,
    LocalStreamError,
    MarkReceived,
    MediaProtocolError,
    StreamConnected,
    StreamEvent,
    StreamStarted,
    StreamState,
    StreamStopped,
    check_format,
    check_transition,
    load_message,
    media_fields,
)

_ULAW = frozenset({"audio/x-mulaw"})


class TwilioMediaStream:
    """One Twilio media stream (one call). After a non-fatal error it is still usable."""

    def __init__(self) -> None:
        self.state = StreamState.AWAITING_START
        self.stream_sid: str | None = None
        self.started: StreamStarted | None = None
        self._sid_json = ""

    def receive(self, text: str | bytes) -> list[StreamEvent]:
        """Parse one message; raise ``MediaProtocolError`` for one we cannot use."""
        data = load_message(text)
        msg = Fields(data, "message")
        event = msg.text("event")
        check_transition(self.state, event)
        if event == "media":  # first: 50 of these a second
            self._check_stream(msg)
            return [media_fields(data, "sequenceNumber")]
        if event == "start":
            return [self._start(Fields(data, "start message", fatal=True))]
        if event == "connected":
            return [StreamConnected(msg.opt_text("protocol"), msg.opt_text("version"))]
        if event == "dtmf":
            self._check_stream(msg)
            return [DtmfReceived(msg.child("dtmf").digit("digit"))]
        if event == "mark":
            self._check_stream(msg)
            return [MarkReceived(msg.child("mark").text("name"))]
        if event == "stop":
            self._check_stream(msg)
            self.state = StreamState.STOPPED
            return [StreamStopped()]
        raise MediaProtocolError(ErrorCode.UNKNOWN_EVENT, f"event {event[:40]!r}")

    def _start(self, root: Fields) -> StreamStarted:
        start = root.child("start")
        sid = root.opt_text("streamSid") or start.text("streamSid")
        fmt = start.child("mediaFormat")
        encoding = fmt.text("encoding")
        rate, channels = fmt.number("sampleRate"), fmt.number("channels")
        check_format(encoding, rate, channels, ulaw_names=_ULAW)
        started = StreamStarted(
            stream_id=sid,
            carrier_call_id=start.text("callSid"),
            account_id=start.opt_text("accountSid"),
            custom_parameters=start.text_map("customParameters"),
            encoding=encoding,
            sample_rate=rate,
            channels=channels,
            tracks=start.text_list("tracks"),
            from_number=None,  # Twilio passes caller numbers in the webhook, not the stream
            to_number=None,
        )
        self.state = StreamState.STREAMING
        self.stream_sid = sid
        self.started = started
        self._sid_json = json.dumps(sid)
        return started

    def _check_stream(self, msg: Fields) -> None:
        sid = msg.opt_text("streamSid")
        if sid is not None and self.stream_sid is not None and sid != self.stream_sid:
            raise MediaProtocolError(ErrorCode.WRONG_STREAM, f"streamSid {sid[:40]!r}")

    def _require_streaming(self, what: str) -> None:
        if self.state is not StreamState.STREAMING:
            raise LocalStreamError(f"cannot send {what}: the stream is {self.state.value}")

    def media(self, ulaw: bytes) -> str:
        """A message that plays raw μ-law 8 kHz audio (no WAV header) on the call."""
        self._require_streaming("media")
        payload = base64.b64encode(ulaw).decode("ascii")
        return (
            f'{{"event":"media","streamSid":{self._sid_json},'
            f'"media":{{"payload":"{payload}"}}}}'
        )

    def mark(self, name: str) -> str:
        """A marker Twilio echoes back once the audio queued before it has played."""
        self._require_streaming("mark")
        return (
            f'{{"event":"mark","streamSid":{self._sid_json},"mark":{{"name":{json.dumps(name)}}}}}'
        )

    def clear(self) -> str:
        """A message that drops all queued audio (barge-in); pending marks come back."""
        self._require_streaming("clear")
        return f'{{"event":"clear","streamSid":{self._sid_json}}}'
