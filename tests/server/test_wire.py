"""The generic WebSocket wire format: parse_audio, parse_control, WireError, event_json."""

from __future__ import annotations

import dataclasses
import json
import random
import typing
from typing import Any

import pytest

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
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn
from frontdesk.call.turns import TurnState
from frontdesk.server.wire import (
    DTMF_DIGITS,
    MAX_AUDIO_BYTES,
    WireError,
    event_json,
    parse_audio,
    parse_control,
    parse_event,
)

# --- audio -----------------------------------------------------------------------------


def test_frame_size_is_20_ms_of_16k_s16le_mono() -> None:
    assert FRAME_BYTES == 640
    assert MAX_AUDIO_BYTES == 50 * 640  # one second


@pytest.mark.parametrize("frames", [1, 2, 7, 50])
def test_whole_frames_are_split_in_order(frames: int) -> None:
    data = bytes(i % 251 for i in range(frames * FRAME_BYTES))
    items = parse_audio(data)
    assert items == [AudioIn(data[i * FRAME_BYTES:(i + 1) * FRAME_BYTES]) for i in range(frames)]
    assert all(isinstance(item, AudioIn) and len(item.frame) == FRAME_BYTES for item in items)


@pytest.mark.parametrize(
    "size", [0, 1, 2, 320, 639, 641, 1279, 1281, 51 * FRAME_BYTES, 100 * FRAME_BYTES,
             MAX_AUDIO_BYTES + 2],
)
def test_bad_audio_sizes_are_rejected(size: int) -> None:
    with pytest.raises(WireError) as raised:
        parse_audio(bytes(size))
    assert raised.value.code == "bad_audio"


# --- control ---------------------------------------------------------------------------


@pytest.mark.parametrize("digit", sorted(DTMF_DIGITS))
def test_every_dtmf_digit(digit: str) -> None:
    assert parse_control(json.dumps({"type": "dtmf", "digit": digit})) == DtmfIn(digit)


def test_dtmf_digits_are_exactly_the_keypad() -> None:
    assert DTMF_DIGITS == set("0123456789*#ABCD")


def test_hangup() -> None:
    assert parse_control('{"type": "hangup"}') == HangupIn()
    assert parse_control('{"type": "hangup", "reason": "bye"}') == HangupIn()  # extras ignored


def test_extra_fields_on_dtmf_are_ignored() -> None:
    assert parse_control('{"digit": "#", "type": "dtmf", "ms": 80}') == DtmfIn("#")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "bad_json"),
        ("{", "bad_json"),
        ("hangup", "bad_json"),
        ("{'type': 'hangup'}", "bad_json"),
        ('{"type": "hangup"} x', "bad_json"),
        ("[]", "bad_message"),
        ('["hangup"]', "bad_message"),
        ('"hangup"', "bad_message"),
        ("null", "bad_message"),
        ("42", "bad_message"),
        ('{"type": "dtmf"}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": null}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": 5}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": ""}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": "55"}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": "a"}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": "E"}', "bad_dtmf"),
        ('{"type": "dtmf", "digit": ["5"]}', "bad_dtmf"),
        ("{}", "unknown_type"),
        ('{"type": null}', "unknown_type"),
        ('{"type": "DTMF", "digit": "5"}', "unknown_type"),
        ('{"type": "audio"}', "unknown_type"),
        ('{"type": ["hangup"]}', "unknown_type"),
        ('{"type": {"x": 1}}', "unknown_type"),
    ],
)
def test_bad_control_messages(text: str, code: str) -> None:
    with pytest.raises(WireError) as raised:
        parse_control(text)
    assert raised.value.code == code
    assert str(raised.value)  # a human-readable message for the client


def test_wire_error_to_json() -> None:
    error = WireError("bad_dtmf", 'dtmf digit must be one of 0-9 * # A-D, not "x"')
    assert json.loads(error.to_json()) == {
        "type": "error", "code": "bad_dtmf",
        "message": 'dtmf digit must be one of 0-9 * # A-D, not "x"',
    }


def test_wire_error_from_parsing_serializes() -> None:
    with pytest.raises(WireError) as raised:
        parse_control('{"type": "fax"}')
    message = json.loads(raised.value.to_json())
    assert message["type"] == "error" and message["code"] == "unknown_type"
    assert "fax" in message["message"]


def test_wire_error_is_the_clients_fault() -> None:
    assert issubclass(WireError, ValueError)


# --- events ----------------------------------------------------------------------------

AT = 1234.5

EVENTS: list[tuple[CallEvent, str]] = [
    (StateChanged(TurnState.AGENT_SPEAKING, AT), "state"),
    (CallerTranscript(2, "What are your hours?", 0.87654, AT), "transcript"),
    (AgentPhraseStarted(2, "We are open nine to five.", AT), "agent_phrase"),
    (BargeIn(3, "We are open", AT), "barge_in"),
    (AgentTurnDone(3, "We are open nine to five.", "We are open", True, AT), "agent_turn"),
    (TurnMetrics(2, {"endpoint": 400.0, "stt": 12.5}, 810.25, 1000.0, AT), "latency"),
    (BookingCommitted("bk_1", "cleaning", "2026-11-26T09:30:00-06:00", "Ana Ruiz", AT),
     "booking"),
    (MessageTaken("msg_1", "Ana", "Please call me back", AT), "message"),
    (TransferRequested("+15125550199", AT), "transfer"),
    (EscalationDecided("refund", "warm_transfer", "refund.refund", AT), "escalation"),
    (ClearAudio(AT), "clear"),
    (RecordingOptOut(3, AT), "recording_opt_out"),
    (RecordingDisclosed(0, AT), "recording_disclosed"),
    (RecordingStarted("var/recordings/shop/c1.wav", AT), "recording_started"),
    (RecordingStopped(True, AT), "recording_stopped"),
    (CallEnded(EndReason.CALLER_HANGUP, Outcome.BOOKED, AT, {"turns": 4}), "end"),
]


def test_every_member_of_the_event_union_is_covered() -> None:
    assert {type(event) for event, _ in EVENTS} == set(typing.get_args(CallEvent))


@pytest.mark.parametrize(("event", "kind"), EVENTS, ids=[kind for _, kind in EVENTS])
def test_every_event_gives_json_with_its_type(event: CallEvent, kind: str) -> None:
    message = event_json(event)
    assert message is not None
    assert message["type"] == kind
    assert json.loads(json.dumps(message)) == message  # plain JSON, no dataclasses or enums


def test_event_types_are_distinct() -> None:
    kinds = [kind for _, kind in EVENTS]
    assert len(set(kinds)) == len(kinds)


EXACT: list[tuple[CallEvent, dict[str, Any]]] = [
    (StateChanged(TurnState.CALLER_SPEAKING, AT), {"type": "state", "state": "caller_speaking"}),
    (CallerTranscript(2, "What are your hours?", 0.87654, AT),
     {"type": "transcript", "turn": 2, "text": "What are your hours?", "confidence": 0.877}),
    (AgentTurnDone(3, "We are open nine to five.", "We are open", True, AT),
     {"type": "agent_turn", "turn": 3, "planned": "We are open nine to five.",
      "played": "We are open", "interrupted": True}),
    (TurnMetrics(2, {"endpoint": 400.0}, None, 1000.0, AT),
     {"type": "latency", "turn": 2, "spans_ms": {"endpoint": 400.0}, "latency_ms": None,
      "budget_ms": 1000.0}),
    (BargeIn(3, "We are open", AT), {"type": "barge_in", "turn": 3, "played": "We are open"}),
    (ClearAudio(AT), {"type": "clear"}),
    (BookingCommitted("bk_1", "cleaning", "2026-11-26T09:30:00-06:00", "Ana Ruiz", AT),
     {"type": "booking", "booking_id": "bk_1", "service": "cleaning",
      "start": "2026-11-26T09:30:00-06:00", "name": "Ana Ruiz"}),
    (MessageTaken("msg_1", None, "Please call me back", AT),
     {"type": "message", "message_id": "msg_1", "text": "Please call me back"}),
    (TransferRequested("+15125550199", AT), {"type": "transfer", "number": "+15125550199"}),
    (CallEnded(EndReason.CALLER_HANGUP, Outcome.BOOKED, AT, {"turns": 4}),
     {"type": "end", "reason": "caller_hangup", "outcome": "booked"}),
]


@pytest.mark.parametrize(("event", "expected"), EXACT,
                         ids=[str(expected["type"]) for _, expected in EXACT])
def test_exact_event_json(event: CallEvent, expected: dict[str, Any]) -> None:
    assert event_json(event) == expected


# --- fuzz ------------------------------------------------------------------------------

FUZZ_RUNS = 2000

JSONISH = [
    "{", "}", "[", "]", ":", ",", '"', '"type"', '"dtmf"', '"hangup"', '"digit"', '"5"', '"#"',
    '"D"', '"x"', "null", "true", "false", "0", "-1", "1e9", "3.5", "NaN", " ", "\\", "\\u0000",
    "\\ud800", "é", "\x00", "\n",
]


def random_jsonish(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return "".join(rng.choice(JSONISH) for _ in range(rng.randint(0, 12)))
    if roll < 0.7:
        # a valid message with one character replaced, dropped or inserted
        text = rng.choice(['{"type": "dtmf", "digit": "5"}', '{"type": "hangup"}'])
        i = rng.randrange(len(text))
        ch = chr(rng.randrange(0x20, 0x7F))
        return rng.choice([text[:i] + ch + text[i + 1:], text[:i] + text[i + 1:],
                           text[:i] + ch + text[i:]])
    if roll < 0.9:
        return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randint(0, 40)))
    return rng.randbytes(rng.randint(0, 40)).decode("latin-1")


def test_fuzz_control_raises_only_wire_errors() -> None:
    rng = random.Random(20260425)
    outcomes: set[str] = set()
    for _ in range(FUZZ_RUNS):
        text = random_jsonish(rng)
        try:
            item = parse_control(text)
        except WireError as error:
            outcomes.add(error.code)
            json.loads(error.to_json())
        else:
            assert isinstance(item, DtmfIn | HangupIn), text
            outcomes.add(type(item).__name__)
    # the fuzzer reached every branch, so a silent change in one of them would show
    assert outcomes >= {"bad_json", "bad_message", "bad_dtmf", "unknown_type", "DtmfIn",
                        "HangupIn"}


def test_fuzz_audio_raises_only_wire_errors() -> None:
    rng = random.Random(20260426)
    accepted = rejected = 0
    for _ in range(FUZZ_RUNS):
        if rng.random() < 0.3:
            size = FRAME_BYTES * rng.randint(0, 60)
        else:
            size = rng.randint(0, MAX_AUDIO_BYTES + 2 * FRAME_BYTES)
        data = rng.randbytes(size)
        try:
            items = parse_audio(data)
        except WireError as error:
            assert error.code == "bad_audio"
            rejected += 1
        else:
            assert 0 < size <= MAX_AUDIO_BYTES and size % FRAME_BYTES == 0
            assert b"".join(item.frame for item in items if isinstance(item, AudioIn)) == data
            accepted += 1
    assert accepted > 100 and rejected > 100


# --- json.loads raises more than JSONDecodeError: all of it is the client's fault ------


def test_huge_integer_is_a_wire_error() -> None:
    with pytest.raises(WireError) as raised:
        parse_control('{"type": "hangup", "n": ' + "1" * 5000 + "}")
    assert raised.value.code == "bad_json"


def test_deep_nesting_is_a_wire_error() -> None:
    with pytest.raises(WireError) as raised:
        parse_control("[" * 100_000)
    assert raised.value.code == "bad_json"


@pytest.mark.parametrize(("event", "kind"), EVENTS)
def test_the_client_reads_back_what_the_server_sent(event: CallEvent, kind: str) -> None:
    message = event_json(event)
    assert message is not None
    back = parse_event(json.loads(json.dumps(message)), at=AT)
    if kind == "state":
        assert back is None  # the client does not act on state changes
    elif isinstance(event, MessageTaken):
        assert back == dataclasses.replace(event, caller_name=None)  # not on the wire
    elif isinstance(event, CallEnded):
        assert back == dataclasses.replace(event, details={})
    elif isinstance(event, RecordingStarted):  # the server's file path is not sent
        assert back == dataclasses.replace(event, path="")
    elif isinstance(event, CallerTranscript):  # confidence travels rounded to 3 places
        assert back == dataclasses.replace(event, confidence=round(event.confidence, 3))
    else:
        assert back == event


@pytest.mark.parametrize("message", [
    {"type": "agent_turn", "turn": 1},
    {"type": "end", "reason": "exploded", "outcome": "none"},
    {"type": "latency", "turn": 1, "spans_ms": [], "latency_ms": 5, "budget_ms": 1000},
])
def test_a_malformed_server_event_is_a_wire_error(message: dict[str, Any]) -> None:
    with pytest.raises(WireError) as raised:
        parse_event(message, at=AT)
    assert raised.value.code == "bad_event"
