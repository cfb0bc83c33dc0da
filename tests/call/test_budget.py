"""TurnClock: latency spans of one turn from marks taken with an injected clock."""

from __future__ import annotations

import pytest

from frontdesk.call.budget import STAGES, TurnClock

ORDER = ("last_speech", "end_of_turn", "transcript", "first_phrase", "first_audio",
         "first_frame")


class FakeClock:
    """A virtual clock in seconds; tests move it by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now


# binary-exact times so the expected milliseconds are exact
TIMES = dict(zip(ORDER, (10.0, 10.5, 10.625, 11.0, 11.25, 11.3125), strict=True))
FULL_SPANS = {"endpoint": 500.0, "stt": 125.0, "brain": 375.0, "tts": 250.0,
              "transport": 62.5}


def test_stages_match_the_documented_order() -> None:
    assert STAGES == ("endpoint", "stt", "brain", "tts", "transport")


def test_spans_from_clock_marks() -> None:
    clock = FakeClock()
    turn = TurnClock(clock)
    for name in ORDER:
        clock.now = TIMES[name]
        turn.mark(name)
    assert turn.marks == TIMES
    assert turn.spans_ms() == FULL_SPANS
    assert turn.total_ms() == 1312.5
    assert clock.calls == len(ORDER)


def test_spans_from_explicit_times_do_not_read_the_clock() -> None:
    clock = FakeClock()
    turn = TurnClock(clock)
    for name in ORDER:
        turn.mark(name, at=TIMES[name])
    assert clock.calls == 0
    assert turn.spans_ms() == FULL_SPANS


def test_explicit_time_zero_is_a_time_not_a_missing_value() -> None:
    turn = TurnClock(FakeClock(now=5.0))
    turn.mark("last_speech", at=0.0)
    turn.mark("first_frame")
    assert turn.marks["last_speech"] == 0.0
    assert turn.total_ms() == 5000.0


def test_mark_keeps_the_first_value() -> None:
    clock = FakeClock(now=1.0)
    turn = TurnClock(clock)
    turn.mark("first_phrase")
    clock.now = 2.0
    turn.mark("first_phrase")  # every later phrase marks again: ignored
    turn.mark("first_phrase", at=3.0)
    assert turn.marks == {"first_phrase": 1.0}


@pytest.mark.parametrize(
    ("missing", "expected_stages"),
    [
        ((), set(STAGES)),
        (("transcript",), {"endpoint", "tts", "transport"}),
        (("last_speech",), {"stt", "brain", "tts", "transport"}),
        (("first_frame",), {"endpoint", "stt", "brain", "tts"}),
        (("end_of_turn", "first_audio"), {"brain"}),
        (ORDER, set()),
    ],
)
def test_missing_marks_omit_their_stages(
    missing: tuple[str, ...], expected_stages: set[str]
) -> None:
    turn = TurnClock(FakeClock())
    for name in ORDER:
        if name not in missing:
            turn.mark(name, at=TIMES[name])
    spans = turn.spans_ms()
    assert set(spans) == expected_stages
    for stage in expected_stages:
        assert spans[stage] == FULL_SPANS[stage]


def test_total_is_measured_not_summed() -> None:
    # only the two ends: no stage spans, but the total is still known
    turn = TurnClock(FakeClock())
    turn.mark("last_speech", at=20.0)
    turn.mark("first_frame", at=20.75)
    assert turn.spans_ms() == {}
    assert turn.total_ms() == 750.0


@pytest.mark.parametrize("only", ["last_speech", "first_frame"])
def test_total_needs_both_ends(only: str) -> None:
    turn = TurnClock(FakeClock())
    for name in ORDER:
        if name not in {"last_speech", "first_frame"} or name == only:
            turn.mark(name, at=TIMES[name])
    assert turn.total_ms() is None


def test_spans_are_rounded_to_hundredths_of_a_millisecond() -> None:
    turn = TurnClock(FakeClock())
    turn.mark("last_speech", at=1.0)
    turn.mark("end_of_turn", at=1.0 + 0.123456)
    turn.mark("first_frame", at=2.0 + 0.000004)
    assert turn.spans_ms() == {"endpoint": 123.46}
    assert turn.total_ms() == 1000.0


def test_unknown_marks_are_kept_but_do_not_make_spans() -> None:
    turn = TurnClock(FakeClock())
    turn.mark("speculative_hit", at=1.0)
    assert turn.marks == {"speculative_hit": 1.0}
    assert turn.spans_ms() == {}
    assert turn.total_ms() is None
