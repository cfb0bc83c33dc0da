"""TurnClock: latency spans of one turn from marks taken with an injected clock."""

from __future__ import annotations

import pytest

from frontdesk.call.budget import STAGES, Stamp, TurnClock

ORDER = (Stamp.LAST_SPEECH, Stamp.END_OF_TURN, Stamp.TRANSCRIPT, Stamp.FIRST_PHRASE,
         Stamp.FIRST_AUDIO, Stamp.FIRST_FRAME)


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
    assert tuple(Stamp) == ORDER


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
    turn.mark(Stamp.LAST_SPEECH, at=0.0)
    turn.mark(Stamp.FIRST_FRAME)
    assert turn.marks[Stamp.LAST_SPEECH] == 0.0
    assert turn.total_ms() == 5000.0


def test_mark_keeps_the_first_value() -> None:
    clock = FakeClock(now=1.0)
    turn = TurnClock(clock)
    turn.mark(Stamp.FIRST_PHRASE)
    clock.now = 2.0
    turn.mark(Stamp.FIRST_PHRASE)  # every later phrase marks again: ignored
    turn.mark(Stamp.FIRST_PHRASE, at=3.0)
    assert turn.marks == {Stamp.FIRST_PHRASE: 1.0}


@pytest.mark.parametrize(
    ("missing", "expected_stages"),
    [
        ((), set(STAGES)),
        ((Stamp.TRANSCRIPT,), {"endpoint", "tts", "transport"}),
        ((Stamp.LAST_SPEECH,), {"stt", "brain", "tts", "transport"}),
        ((Stamp.FIRST_FRAME,), {"endpoint", "stt", "brain", "tts"}),
        ((Stamp.END_OF_TURN, Stamp.FIRST_AUDIO), {"brain"}),
        (ORDER, set()),
    ],
)
def test_missing_marks_omit_their_stages(
    missing: tuple[Stamp, ...], expected_stages: set[str]
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
    turn.mark(Stamp.LAST_SPEECH, at=20.0)
    turn.mark(Stamp.FIRST_FRAME, at=20.75)
    assert turn.spans_ms() == {}
    assert turn.total_ms() == 750.0


@pytest.mark.parametrize("only", [Stamp.LAST_SPEECH, Stamp.FIRST_FRAME])
def test_total_needs_both_ends(only: Stamp) -> None:
    turn = TurnClock(FakeClock())
    for name in ORDER:
        if name not in {Stamp.LAST_SPEECH, Stamp.FIRST_FRAME} or name == only:
            turn.mark(name, at=TIMES[name])
    assert turn.total_ms() is None


def test_spans_are_rounded_to_hundredths_of_a_millisecond() -> None:
    turn = TurnClock(FakeClock())
    turn.mark(Stamp.LAST_SPEECH, at=1.0)
    turn.mark(Stamp.END_OF_TURN, at=1.0 + 0.123456)
    turn.mark(Stamp.FIRST_FRAME, at=2.0 + 0.000004)
    assert turn.spans_ms() == {"endpoint": 123.46}
    assert turn.total_ms() == 1000.0
