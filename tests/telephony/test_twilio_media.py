"""Twilio Media Streams core: captured message shapes in, typed events and errors out."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.telephony.media import (
    MAX_MESSAGE_CHARS,
    DtmfReceived,
    ErrorCode,
    LocalStreamError,
    MarkReceived,
    MediaProtocolError,
    MediaReceived,
    StreamConnected,
    StreamStarted,
    StreamState,
    StreamStopped,
)
from frontdesk.telephony.twilio.media import TwilioMediaStream

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA7ddb0f01c4d5e3b8d3f3d3b9a1e8f6a2"
ACCOUNT = "AC1234567890abcdef1234567890abcdef"
AUDIO = bytes(range(0, 256, 2)) + bytes(32)  # 160 bytes of μ-law

# The shapes of reference/telephony.md §1.1, as Twilio sends them (numbers quoted).
CONNECTED = '{"event":"connected","protocol":"Call","version":"1.0.0"}'
START = json.dumps(
    {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": SID,
        "start": {
            "streamSid": SID,
            "accountSid": ACCOUNT,
            "callSid": CALL,
            "tracks": ["inbound"],
            "customParameters": {"tenant": "acme"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
)


def media_msg(seq: int | str = "3", payload: bytes = AUDIO, sid: str = SID) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": seq,
            "streamSid": sid,
            "media": {
                "track": "inbound",
                "chunk": "1",
                "timestamp": "5",
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


DTMF = json.dumps(
    {
        "event": "dtmf",
        "sequenceNumber": "5",
        "streamSid": SID,
        "dtmf": {"track": "inbound_track", "digit": "1"},
    }
)
MARK = json.dumps(
    {"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "utt-17"}}
)
STOP = json.dumps(
    {
        "event": "stop",
        "sequenceNumber": "6",
        "streamSid": SID,
        "stop": {"accountSid": ACCOUNT, "callSid": CALL},
    }
)


def state_of(stream: TwilioMediaStream) -> StreamState:
    """Read the state through a call, so the type checker does not pin it between steps."""
    return stream.state


def started() -> TwilioMediaStream:
    stream = TwilioMediaStream()
    stream.receive(CONNECTED)
    stream.receive(START)
    return stream


def test_a_whole_call_round_trips_into_typed_events() -> None:
    stream = TwilioMediaStream()
    assert stream.receive(CONNECTED) == [StreamConnected("Call", "1.0.0")]
    assert stream.state is StreamState.AWAITING_START
    [start] = stream.receive(START)
    assert start == StreamStarted(
        stream_id=SID,
        carrier_call_id=CALL,
        account_id=ACCOUNT,
        custom_parameters={"tenant": "acme"},
        encoding="audio/x-mulaw",
        sample_rate=8000,
        channels=1,
        tracks=("inbound",),
        from_number=None,
        to_number=None,
    )
    assert state_of(stream) is StreamState.STREAMING
    assert stream.stream_sid == SID and stream.started == start
    assert stream.receive(media_msg()) == [MediaReceived(AUDIO, 3, 1, 5, "inbound")]
    assert stream.receive(MARK) == [MarkReceived("utt-17")]
    assert stream.receive(DTMF.encode()) == [DtmfReceived("1")]  # bytes are accepted too
    assert stream.receive(STOP) == [StreamStopped()]
    assert state_of(stream) is StreamState.STOPPED


def test_numbers_may_be_json_integers_and_optional_media_fields_absent() -> None:
    stream = started()
    msg = {
        "event": "media",
        "sequenceNumber": 7,
        "media": {"payload": base64.b64encode(b"\xff").decode()},
    }
    assert stream.receive(json.dumps(msg)) == [MediaReceived(b"\xff", 7, None, None, None)]


def test_custom_parameters_cannot_be_changed_through_the_event() -> None:
    [start] = TwilioMediaStream().receive(START)
    assert isinstance(start, StreamStarted)
    with pytest.raises(TypeError):
        start.custom_parameters["tenant"] = "evil"  # type: ignore[index]


def test_outbound_messages_have_the_documented_shapes() -> None:
    stream = started()
    assert json.loads(stream.media(AUDIO)) == {
        "event": "media",
        "streamSid": SID,
        "media": {"payload": base64.b64encode(AUDIO).decode()},
    }
    assert json.loads(stream.mark('utt-"17"')) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": 'utt-"17"'},
    }
    assert json.loads(stream.clear()) == {"event": "clear", "streamSid": SID}


def test_sending_needs_a_started_stream() -> None:
    fresh = TwilioMediaStream()
    sends: list[Callable[[], str]] = [lambda: fresh.media(AUDIO), lambda: fresh.mark("m")]
    for send in [*sends, fresh.clear]:
        with pytest.raises(LocalStreamError, match="awaiting_start"):
            send()
    stream = started()
    stream.receive(STOP)
    with pytest.raises(LocalStreamError, match="stopped"):
        stream.media(AUDIO)


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

# Every ErrorCode, each with the stream it arrives on and whether it must end the stream.
CASES: dict[ErrorCode, tuple[Callable[[], TwilioMediaStream], str | bytes, bool]] = {
    ErrorCode.BAD_JSON: (started, '{"event": "media", ', False),
    ErrorCode.NOT_AN_OBJECT: (started, '["media"]', False),
    ErrorCode.UNKNOWN_EVENT: (started, '{"event": "dance"}', False),
    ErrorCode.MISSING_FIELD: (started, _replace(media_msg(), ["sequenceNumber"], _DELETE), False),
    ErrorCode.BAD_FIELD: (started, _replace(DTMF, ["dtmf", "digit"], "E"), False),
    ErrorCode.BAD_PAYLOAD: (started, _replace(media_msg(), ["media", "payload"], "@@@="), False),
    ErrorCode.MEDIA_BEFORE_START: (TwilioMediaStream, media_msg(), True),
    ErrorCode.DUPLICATE_START: (started, START, True),
    ErrorCode.UNSUPPORTED_FORMAT: (
        TwilioMediaStream,
        _replace(START, ["start", "mediaFormat", "sampleRate"], 16000),
        True,
    ),
    ErrorCode.OVERSIZE: (started, " " * (MAX_MESSAGE_CHARS + 1), True),
    ErrorCode.WRONG_STREAM: (started, media_msg(sid="MZother"), False),
}


def _stopped() -> TwilioMediaStream:
    stream = started()
    stream.receive(STOP)
    return stream


CASES[ErrorCode.AFTER_STOP] = (_stopped, media_msg(), False)


def test_every_error_code_has_a_case() -> None:
    assert set(CASES) == set(ErrorCode)


@pytest.mark.parametrize("code", list(CASES))
def test_each_error_is_typed_and_says_whether_the_stream_must_close(code: ErrorCode) -> None:
    make, message, fatal = CASES[code]
    stream = make()
    with pytest.raises(MediaProtocolError) as info:
        stream.receive(message)
    assert info.value.code is code
    assert info.value.fatal is fatal
    if not fatal and stream.state is StreamState.STREAMING:
        # The call goes on: the next good message is parsed as usual.
        assert stream.receive(media_msg("9")) == [MediaReceived(AUDIO, 9, 1, 5, "inbound")]


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        (["start", "callSid"], _DELETE, ErrorCode.MISSING_FIELD),
        (["start", "mediaFormat"], "mulaw", ErrorCode.BAD_FIELD),
        (["start", "customParameters"], {"tenant": 7}, ErrorCode.BAD_FIELD),
        (["start", "tracks"], "inbound", ErrorCode.BAD_FIELD),
        (["start", "mediaFormat", "encoding"], "audio/l16", ErrorCode.UNSUPPORTED_FORMAT),
        (["start", "mediaFormat", "channels"], 2, ErrorCode.UNSUPPORTED_FORMAT),
    ],
)
def test_a_bad_start_is_fatal(path: list[str], value: object, code: ErrorCode) -> None:
    stream = TwilioMediaStream()
    with pytest.raises(MediaProtocolError) as info:
        stream.receive(_replace(START, path, value))
    assert (info.value.code, info.value.fatal) == (code, True)
    assert stream.state is StreamState.AWAITING_START


def test_stream_sid_may_come_only_inside_start() -> None:
    stream = TwilioMediaStream()
    [start] = stream.receive(_replace(START, ["streamSid"], _DELETE))
    assert isinstance(start, StreamStarted) and start.stream_id == SID


@pytest.mark.parametrize("seq", ["-1", "3.0", "", "1e3", "٣", True, 3.0, None, "9" * 19])
def test_sequence_numbers_must_be_plain_non_negative_integers(seq: object) -> None:
    stream = started()
    with pytest.raises(MediaProtocolError) as info:
        stream.receive(media_msg(seq="0").replace('"sequenceNumber": "0"', _seq_json(seq)))
    assert info.value.code in (ErrorCode.BAD_FIELD, ErrorCode.MISSING_FIELD)
    assert not info.value.fatal


def _seq_json(seq: object) -> str:
    return f'"sequenceNumber": {json.dumps(seq)}'


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_all_sixteen_dtmf_digits(digit: str) -> None:
    stream = started()
    assert stream.receive(_replace(DTMF, ["dtmf", "digit"], digit)) == [DtmfReceived(digit)]


@pytest.mark.parametrize("digit", ["a", "E", "11", "", " 1", "１"])
def test_anything_else_is_not_a_digit(digit: str) -> None:
    with pytest.raises(MediaProtocolError) as info:
        started().receive(_replace(DTMF, ["dtmf", "digit"], digit))
    assert info.value.code is ErrorCode.BAD_FIELD


def test_stop_before_start_ends_the_stream() -> None:
    stream = TwilioMediaStream()
    assert stream.receive(STOP) == [StreamStopped()]
    assert stream.state is StreamState.STOPPED


def test_bytes_that_are_not_utf8_are_bad_json() -> None:
    with pytest.raises(MediaProtocolError) as info:
        started().receive(b'{"event":"\xff"}')
    assert info.value.code is ErrorCode.BAD_JSON


def test_deep_nesting_is_bad_json_not_a_crash() -> None:
    with pytest.raises(MediaProtocolError) as info:
        started().receive("[" * 50_000)
    assert info.value.code is ErrorCode.BAD_JSON


def test_oversize_bytes_are_refused_before_decoding() -> None:
    with pytest.raises(MediaProtocolError) as info:
        started().receive(b"\xff" * (MAX_MESSAGE_CHARS + 1))
    assert info.value.code is ErrorCode.OVERSIZE


# --- fuzz: nothing but MediaProtocolError, whatever the carrier sends -------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
EVENTS = st.sampled_from(["connected", "start", "media", "dtmf", "mark", "stop", "clear", "x"])
FIELDS = st.sampled_from(
    ["streamSid", "sequenceNumber", "start", "media", "dtmf", "mark", "stop", "protocol"]
)
MESSAGES = st.builds(
    lambda event, extra: {"event": event, **extra},
    EVENTS,
    st.dictionaries(FIELDS, JSON, max_size=4),
)
INNER = st.fixed_dictionaries(
    {},
    optional={
        "streamSid": JSON | st.just(SID),
        "callSid": JSON,
        "tracks": JSON,
        "customParameters": JSON,
        "mediaFormat": JSON
        | st.fixed_dictionaries(
            {
                "encoding": st.sampled_from(["audio/x-mulaw", "AUDIO/X-MULAW", "PCMU", 5]),
                "sampleRate": st.sampled_from([8000, "8000", 16000, None, -1]),
                "channels": st.sampled_from([1, "1", 2, [1]]),
            }
        ),
        "payload": JSON | st.text(alphabet="AB+/=", max_size=12),
        "digit": JSON | st.sampled_from(list("1*#D")),
        "name": JSON,
        "chunk": JSON,
        "timestamp": JSON,
    },
)


def _receive_only_typed_errors(stream: TwilioMediaStream, message: str | bytes) -> None:
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


@settings(max_examples=300)
@given(st.booleans(), EVENTS, INNER, st.dictionaries(FIELDS, JSON, max_size=3))
def test_well_formed_looking_messages_raise_only_protocol_errors(
    fresh: bool, event: str, inner: dict[str, object], top: dict[str, object]
) -> None:
    message = {"event": event, **top, event: inner}
    stream = TwilioMediaStream() if fresh else started()
    _receive_only_typed_errors(stream, json.dumps(message))


@settings(max_examples=100)
@given(st.lists(MESSAGES, max_size=8))
def test_any_message_sequence_keeps_the_stream_consistent(
    messages: list[dict[str, object]],
) -> None:
    stream = TwilioMediaStream()
    for message in messages:
        _receive_only_typed_errors(stream, json.dumps(message))
        assert (stream.started is None) == (stream.stream_sid is None)
        if stream.state is StreamState.STREAMING:
            assert stream.started is not None
