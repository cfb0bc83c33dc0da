"""Telnyx media streaming core: message shapes, errors, and putting media back in order."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.telephony.media import (
    MAX_MESSAGE_CHARS,
    CarrierReported,
    DtmfReceived,
    ErrorCode,
    LocalStreamError,
    MarkReceived,
    MediaProtocolError,
    MediaReceived,
    StreamConnected,
    StreamEvent,
    StreamStarted,
    StreamState,
    StreamStopped,
)
from frontdesk.telephony.telnyx.media import TelnyxMediaStream

STREAM = "32DE0DEA-53CB-4B21-89A4-9E1819C043BC"
CALL = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"
USER = "3e6f995f-85f7-4705-9741-53b116d28237"

# The shapes of reference/telephony.md §2.1.
CONNECTED = '{"event":"connected","version":"1.0.0"}'
START = json.dumps(
    {
        "event": "start",
        "sequence_number": "1",
        "stream_id": STREAM,
        "start": {
            "user_id": USER,
            "call_control_id": CALL,
            "call_session_id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
            "from": "+13122010000",
            "to": "+13122010001",
            "tags": ["TAG1"],
            "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
            "custom_parameters": {"customer_id": "c123"},
            "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
        },
    }
)


def payload(seq: int) -> bytes:
    return bytes([seq % 256]) * 160


def media_msg(seq: int | str, stream_id: str = STREAM, data: bytes | None = None) -> str:
    body = payload(int(seq)) if data is None else data
    return json.dumps(
        {
            "event": "media",
            "sequence_number": str(seq),
            "stream_id": stream_id,
            "media": {
                "track": "inbound",
                "chunk": str(seq),
                "timestamp": str(20 * int(seq)),
                "payload": base64.b64encode(body).decode(),
            },
        }
    )


def frame(seq: int) -> MediaReceived:
    return MediaReceived(payload(seq), seq, seq, 20 * seq, "inbound")


def dtmf_msg(seq: int, digit: str = "1") -> str:
    return json.dumps(
        {
            "event": "dtmf",
            "sequence_number": str(seq),
            "stream_id": STREAM,
            "dtmf": {"digit": digit},
        }
    )


def mark_msg(seq: int) -> str:
    return json.dumps(
        {"event": "mark", "sequence_number": str(seq), "stream_id": STREAM, "mark": {"name": "m"}}
    )


def stop_msg(seq: int) -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequence_number": str(seq),
            "stream_id": STREAM,
            "stop": {"user_id": USER, "call_control_id": CALL},
        }
    )


ERROR = json.dumps(
    {
        "event": "error",
        "sequence_number": "2",
        "stream_id": STREAM,
        "payload": {"code": 100004, "title": "invalid_media", "detail": "bad frame"},
    }
)


def state_of(stream: TelnyxMediaStream) -> StreamState:
    """Read the state through a call, so the type checker does not pin it between steps."""
    return stream.state


def started(window: int = 3) -> TelnyxMediaStream:
    stream = TelnyxMediaStream(reorder_window=window)
    stream.receive(CONNECTED)
    stream.receive(START)
    return stream


def test_a_whole_call_round_trips_into_typed_events() -> None:
    stream = TelnyxMediaStream()
    assert stream.receive(CONNECTED) == [StreamConnected(None, "1.0.0")]
    [start] = stream.receive(START)
    assert start == StreamStarted(
        stream_id=STREAM,
        carrier_call_id=CALL,
        account_id=USER,
        custom_parameters={"customer_id": "c123"},
        encoding="PCMU",
        sample_rate=8000,
        channels=1,
        tracks=(),
        from_number="+13122010000",
        to_number="+13122010001",
    )
    assert state_of(stream) is StreamState.STREAMING and stream.stream_id == STREAM
    assert stream.receive(ERROR) == [CarrierReported("100004", "invalid_media")]
    assert stream.receive(media_msg(3)) == [frame(3)]
    assert stream.receive(mark_msg(4)) == [MarkReceived("m")]
    assert stream.receive(dtmf_msg(5, "#")) == [DtmfReceived("#")]
    assert stream.receive(media_msg(6).encode()) == [frame(6)]
    assert stream.receive(stop_msg(7)) == [StreamStopped()]
    assert state_of(stream) is StreamState.STOPPED
    assert (stream.late_dropped, stream.gaps_skipped) == (0, 0)


def test_outbound_messages_have_the_documented_shapes() -> None:
    stream = started()
    assert json.loads(stream.media(b"\x01\x02")) == {
        "event": "media",
        "media": {"payload": base64.b64encode(b"\x01\x02").decode()},
    }
    assert json.loads(stream.mark("utt\n1")) == {"event": "mark", "mark": {"name": "utt\n1"}}
    assert json.loads(stream.clear()) == {"event": "clear"}


def test_sending_needs_a_started_stream() -> None:
    fresh = TelnyxMediaStream()
    sends: list[Callable[[], str]] = [lambda: fresh.media(b"\xff"), lambda: fresh.mark("m")]
    for send in [*sends, fresh.clear]:
        with pytest.raises(LocalStreamError):
            send()


def test_an_error_frame_without_details_still_reports() -> None:
    message = '{"event": "error", "payload": {"detail": "stream failed"}}'
    assert TelnyxMediaStream().receive(message) == [CarrierReported(None, "stream failed")]
    with pytest.raises(MediaProtocolError) as info:
        started().receive('{"event": "error", "payload": {"code": [1], "title": "x"}}')
    assert (info.value.code, info.value.fatal) == (ErrorCode.BAD_FIELD, False)


# --- reordering --------------------------------------------------------------------------


def _feed(stream: TelnyxMediaStream, messages: list[str]) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    for message in messages:
        out += stream.receive(message)
    return out


def test_an_early_frame_waits_for_the_gap() -> None:
    stream = started()
    assert stream.receive(media_msg(3)) == []
    assert stream.receive(media_msg(2)) == [frame(2), frame(3)]


def test_a_control_message_fills_its_place_in_the_order() -> None:
    stream = started()
    assert _feed(stream, [media_msg(2), media_msg(4)]) == [frame(2)]
    assert stream.receive(dtmf_msg(3)) == [DtmfReceived("1"), frame(4)]


def test_window_overflow_gives_up_the_gap_and_then_drops_the_latecomer() -> None:
    stream = started(window=3)
    assert _feed(stream, [media_msg(n) for n in (3, 4, 5)]) == []  # 2 is missing
    assert stream.receive(media_msg(6)) == [frame(n) for n in (3, 4, 5, 6)]
    assert stream.gaps_skipped == 1
    assert stream.receive(media_msg(2)) == []
    assert stream.receive(media_msg(4)) == []  # a duplicate
    assert stream.late_dropped == 2


def test_stop_releases_held_frames_before_stopping() -> None:
    stream = started()
    out = _feed(stream, [media_msg(3), media_msg(5), stop_msg(9)])
    assert out == [frame(3), frame(5), StreamStopped()]


def test_flush_releases_held_frames_in_order_and_moves_on() -> None:
    stream = started()
    _feed(stream, [media_msg(5), media_msg(3)])
    assert stream.flush() == [frame(3), frame(5)]
    assert stream.flush() == []
    assert stream.receive(media_msg(4)) == []  # its place has passed
    assert stream.receive(media_msg(6)) == [frame(6)]


def test_window_zero_never_holds() -> None:
    stream = started(window=0)
    assert stream.receive(media_msg(3)) == [frame(3)]
    assert stream.receive(media_msg(2)) == []


@st.composite
def jittered(draw: st.DrawFn, window: int) -> list[int]:
    """Frames 2..n+1, each delayed by 0..window+1 slots: no frame is overtaken by more
    than ``window`` later frames, which is what the window promises to absorb."""
    n = draw(st.integers(0, 40))
    delays = draw(st.lists(st.integers(0, window + 1), min_size=n, max_size=n))
    return sorted(range(2, n + 2), key=lambda seq: seq + delays[seq - 2])


@settings(max_examples=200)
@given(st.integers(0, 5).flatmap(lambda w: st.tuples(st.just(w), jittered(w))))
def test_any_reordering_within_the_window_comes_out_complete_and_in_order(
    case: tuple[int, list[int]],
) -> None:
    window, arrival = case
    stream = started(window)
    out = _feed(stream, [media_msg(seq) for seq in arrival])
    assert out == [frame(seq) for seq in range(2, len(arrival) + 2)]
    assert (stream.late_dropped, stream.gaps_skipped) == (0, 0)


@settings(max_examples=200)
@given(
    st.integers(0, 5),
    st.lists(st.integers(2, 30), max_size=40),
)
def test_any_arrival_order_yields_unique_increasing_frames(window: int, arrival: list[int]) -> None:
    stream = started(window)
    out = _feed(stream, [media_msg(seq) for seq in arrival] + [stop_msg(99)])
    assert out[-1] == StreamStopped()
    released = [e.sequence for e in out[:-1] if isinstance(e, MediaReceived)]
    assert released == sorted(set(released))  # in order, no duplicates
    assert set(released) <= set(arrival)
    assert len(released) + stream.late_dropped == len(arrival)  # nothing vanishes silently


# --- errors ------------------------------------------------------------------------------


def _replace(message: str, path: list[str], value: object) -> str:
    data = json.loads(message)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(data)


_DELETE = object()


def _stopped() -> TelnyxMediaStream:
    stream = started()
    stream.receive(stop_msg(2))
    return stream


CASES: dict[ErrorCode, tuple[Callable[[], TelnyxMediaStream], str | bytes, bool]] = {
    ErrorCode.BAD_JSON: (started, b"\x80not json", False),
    ErrorCode.NOT_AN_OBJECT: (started, '"media"', False),
    ErrorCode.UNKNOWN_EVENT: (started, '{"event": "media_v2"}', False),
    ErrorCode.MISSING_FIELD: (started, _replace(media_msg(2), ["media"], _DELETE), False),
    ErrorCode.BAD_FIELD: (started, _replace(media_msg(2), ["sequence_number"], "two"), False),
    ErrorCode.BAD_PAYLOAD: (started, _replace(media_msg(2), ["media", "payload"], "ÿÿÿÿ"), False),
    ErrorCode.MEDIA_BEFORE_START: (TelnyxMediaStream, media_msg(2), True),
    ErrorCode.DUPLICATE_START: (started, START, True),
    ErrorCode.UNSUPPORTED_FORMAT: (
        TelnyxMediaStream,
        _replace(START, ["start", "media_format", "encoding"], "OPUS"),
        True,
    ),
    ErrorCode.OVERSIZE: (started, "x" * (MAX_MESSAGE_CHARS + 1), True),
    ErrorCode.AFTER_STOP: (_stopped, media_msg(3), False),
    ErrorCode.WRONG_STREAM: (started, media_msg(2, stream_id="another"), False),
}


def test_every_error_code_has_a_case() -> None:
    assert set(CASES) == set(ErrorCode)


@pytest.mark.parametrize("code", list(CASES))
def test_each_error_is_typed_and_says_whether_the_stream_must_close(code: ErrorCode) -> None:
    make, message, fatal = CASES[code]
    stream = make()
    with pytest.raises(MediaProtocolError) as info:
        stream.receive(message)
    assert (info.value.code, info.value.fatal) == (code, fatal)
    if not fatal and stream.state is StreamState.STREAMING:
        assert stream.receive(media_msg(2)) == [frame(2)]  # the call goes on


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        (["start", "call_control_id"], _DELETE, ErrorCode.MISSING_FIELD),
        (["start", "custom_parameters"], ["c123"], ErrorCode.BAD_FIELD),
        (["start", "media_format", "sample_rate"], 16000, ErrorCode.UNSUPPORTED_FORMAT),
        (["start"], _DELETE, ErrorCode.MISSING_FIELD),
    ],
)
def test_a_bad_start_is_fatal(path: list[str], value: object, code: ErrorCode) -> None:
    with pytest.raises(MediaProtocolError) as info:
        TelnyxMediaStream().receive(_replace(START, path, value))
    assert (info.value.code, info.value.fatal) == (code, True)


def test_pcmu_is_matched_without_regard_to_case() -> None:
    message = _replace(START, ["start", "media_format", "encoding"], "pcmu")
    [start] = TelnyxMediaStream().receive(message)
    assert isinstance(start, StreamStarted) and start.encoding == "pcmu"


def test_reorder_window_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="reorder_window"):
        TelnyxMediaStream(reorder_window=-1)


# --- fuzz --------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
EVENTS = st.sampled_from(["connected", "start", "media", "dtmf", "mark", "stop", "error", "x"])
TOP = st.fixed_dictionaries(
    {},
    optional={
        "stream_id": JSON | st.just(STREAM),
        "sequence_number": JSON | st.integers(-2, 50).map(str),
        "payload": JSON,
    },
)
INNER = st.fixed_dictionaries(
    {},
    optional={
        "call_control_id": JSON,
        "media_format": JSON,
        "custom_parameters": JSON,
        "payload": JSON | st.text(alphabet="AB+/=", max_size=12),
        "digit": JSON,
        "name": JSON,
        "chunk": JSON,
        "timestamp": JSON,
        "code": JSON,
        "title": JSON,
    },
)


def _receive_only_typed_errors(stream: TelnyxMediaStream, message: str | bytes) -> None:
    try:
        events = stream.receive(message)
    except MediaProtocolError as exc:
        assert isinstance(exc.code, ErrorCode) and isinstance(exc.fatal, bool)
    else:
        assert isinstance(events, list)


@settings(max_examples=300)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_text_raises_only_protocol_errors(text: str | bytes) -> None:
    _receive_only_typed_errors(started(), text)


@settings(max_examples=300)
@given(JSON)
def test_arbitrary_json_raises_only_protocol_errors(value: object) -> None:
    _receive_only_typed_errors(started(), json.dumps(value))


@settings(max_examples=200)
@given(st.booleans(), st.lists(st.tuples(EVENTS, TOP, INNER), max_size=6))
def test_sequences_of_well_formed_looking_messages_raise_only_protocol_errors(
    fresh: bool, messages: list[tuple[str, dict[str, object], dict[str, object]]]
) -> None:
    stream = TelnyxMediaStream() if fresh else started()
    for event, top, inner in messages:
        body = inner if event != "error" else inner.get("payload", inner)
        _receive_only_typed_errors(stream, json.dumps({"event": event, **top, event: body}))
