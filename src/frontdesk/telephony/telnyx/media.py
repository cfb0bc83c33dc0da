"""Telnyx media streaming as a sans-IO core: message text in, typed events out, in order.

Same contract as the Twilio core (``frontdesk.telephony.twilio.media``), with Telnyx's
snake_case fields (developers.telnyx.com, "Stream call media over WebSocket") and one
difference that matters: Telnyx does not guarantee the order of media frames. Frames are put back in
``sequence_number`` order with a small window (default 3 frames, 60 ms):

* a frame that arrives early is held until the gap before it fills;
* when more than ``window`` frames are held, the gap is given up (the missing frame is
  counted in ``gaps_skipped``) and the held frames are released in order;
* a frame that arrives after its place was passed, or twice, is dropped (``late_dropped``):
  playing it late would put a 20 ms splice of the past into the caller's speech.

Other messages (dtmf, mark, error, stop) are never held back, but their sequence numbers
count as "seen" so they do not leave a gap that stalls the audio. This assumes, as the
documented examples show (start 1, media 4), that one counter numbers every message of the
stream, as Twilio's does. ``stop`` releases the held
frames before ``StreamStopped``; ``flush`` does the same on demand. Which errors are fatal
is documented in ``frontdesk.telephony.media``.
"""

from __future__ import annotations

import base64
import json

from frontdesk.telephony.media import (
    CarrierReported,
    DtmfReceived,
    ErrorCode,
    Fields,
    LocalStreamError,
    MarkReceived,
    MediaProtocolError,
    MediaReceived,
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

_ULAW = frozenset({"pcmu"})
DEFAULT_REORDER_WINDOW = 3


class _Reorder:
    """Release sequence-numbered frames in order; ``None`` marks a number used by a non-frame."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.next: int | None = None
        self.held: dict[int, MediaReceived | None] = {}
        self.late_dropped = 0
        self.gaps_skipped = 0

    def push(self, seq: int, frame: MediaReceived | None) -> list[StreamEvent]:
        if self.next is None:
            self.next = seq
        if seq == self.next and not self.held:  # in order: the usual case
            self.next += 1
            return [] if frame is None else [frame]
        if seq < self.next or seq in self.held:
            if frame is not None:
                self.late_dropped += 1
            return []
        self.held[seq] = frame
        out = self._drain()
        while len(self.held) > self.window:
            first = min(self.held)
            self.gaps_skipped += first - self.next
            self.next = first
            out += self._drain()
        return out

    def _drain(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        assert self.next is not None
        while self.next in self.held:
            frame = self.held.pop(self.next)
            if frame is not None:
                out.append(frame)
            self.next += 1
        return out

    def flush(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for seq in sorted(self.held):
            frame = self.held.pop(seq)
            if frame is not None:
                out.append(frame)
            self.next = seq + 1
        return out


class TelnyxMediaStream:
    """One Telnyx media stream (one call). After a non-fatal error it is still usable."""

    def __init__(self, *, reorder_window: int = DEFAULT_REORDER_WINDOW) -> None:
        if reorder_window < 0:
            raise ValueError(f"reorder_window must be >= 0, got {reorder_window}")
        self.state = StreamState.AWAITING_START
        self.stream_id: str | None = None
        self.started: StreamStarted | None = None
        self._reorder = _Reorder(reorder_window)

    @property
    def late_dropped(self) -> int:
        """Media frames dropped because they came after their place, or twice."""
        return self._reorder.late_dropped

    @property
    def gaps_skipped(self) -> int:
        """Sequence numbers given up on when the reorder window overflowed."""
        return self._reorder.gaps_skipped

    def receive(self, text: str | bytes) -> list[StreamEvent]:
        """Parse one message; raise ``MediaProtocolError`` for one we cannot use."""
        data = load_message(text)
        msg = Fields(data, "message")
        event = msg.text("event")
        check_transition(self.state, event)
        if event == "media":
            self._check_stream(msg)
            frame = media_fields(data, "sequence_number")
            return self._reorder.push(frame.sequence, frame)
        if event == "start":
            return [self._start(Fields(data, "start message", fatal=True))]
        if event == "connected":
            return [StreamConnected(None, msg.opt_text("version"))]
        if event == "error":
            return self._error(msg)
        if event not in ("dtmf", "mark", "stop"):
            raise MediaProtocolError(ErrorCode.UNKNOWN_EVENT, f"event {event[:40]!r}")
        self._check_stream(msg)
        result: StreamEvent
        if event == "dtmf":
            result = DtmfReceived(msg.child("dtmf").digit("digit"))
        elif event == "mark":
            result = MarkReceived(msg.child("mark").text("name"))
        else:
            self.state = StreamState.STOPPED
            return [*self.flush(), StreamStopped()]
        out: list[StreamEvent] = [result]
        self._seen(msg, out)
        return out

    def flush(self) -> list[StreamEvent]:
        """Release every held media frame, in order, without waiting for the gaps."""
        return self._reorder.flush()

    def _seen(self, msg: Fields, out: list[StreamEvent]) -> None:
        # A control message's sequence number fills its place in the order, which may
        # release media frames held behind it (after the control event itself).
        seq = msg.opt_number("sequence_number")
        if seq is not None and self.state is StreamState.STREAMING:
            out.extend(self._reorder.push(seq, None))

    def _error(self, msg: Fields) -> list[StreamEvent]:
        detail = msg.child("payload")
        title = detail.opt_text("title") or detail.opt_text("detail") or "unknown error"
        out: list[StreamEvent] = [CarrierReported(detail.opt_code("code"), title)]
        self._seen(msg, out)
        return out

    def _start(self, root: Fields) -> StreamStarted:
        start = root.child("start")
        stream_id = root.opt_text("stream_id") or start.text("stream_id")
        fmt = start.child("media_format")
        encoding = fmt.text("encoding")
        rate, channels = fmt.number("sample_rate"), fmt.number("channels")
        check_format(encoding, rate, channels, ulaw_names=_ULAW)
        started = StreamStarted(
            stream_id=stream_id,
            carrier_call_id=start.text("call_control_id"),
            account_id=start.opt_text("user_id"),
            custom_parameters=start.text_map("custom_parameters"),
            encoding=encoding,
            sample_rate=rate,
            channels=channels,
            tracks=start.text_list("tracks"),
            from_number=start.opt_text("from"),
            to_number=start.opt_text("to"),
        )
        seq = root.opt_number("sequence_number")
        self.state = StreamState.STREAMING
        self.stream_id = stream_id
        self.started = started
        if seq is not None:
            self._reorder.push(seq, None)  # media numbering continues after the start
        return started

    def _check_stream(self, msg: Fields) -> None:
        stream_id = msg.opt_text("stream_id")
        if stream_id is not None and self.stream_id is not None and stream_id != self.stream_id:
            raise MediaProtocolError(ErrorCode.WRONG_STREAM, f"stream_id {stream_id[:40]!r}")

    def _require_streaming(self, what: str) -> None:
        if self.state is not StreamState.STREAMING:
            raise LocalStreamError(f"cannot send {what}: the stream is {self.state.value}")

    def media(self, ulaw: bytes) -> str:
        """A message that plays raw μ-law 8 kHz audio (RTP payload, no header) on the call."""
        self._require_streaming("media")
        payload = base64.b64encode(ulaw).decode("ascii")
        return f'{{"event":"media","media":{{"payload":"{payload}"}}}}'

    def mark(self, name: str) -> str:
        """A marker Telnyx echoes back once the audio queued before it has played."""
        self._require_streaming("mark")
        return f'{{"event":"mark","mark":{{"name":{json.dumps(name)}}}}}'

    def clear(self) -> str:
        """A message that drops all queued audio (barge-in); queued marks come back."""
        self._require_streaming("clear")
        return '{"event":"clear"}'
