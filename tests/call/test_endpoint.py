"""Endpointer: per-frame speech probabilities in, speech start / pause / end of turn out.

Scenarios are written as compact strings, one character per 20 ms frame:
``1`` = clear speech (0.9), ``h`` = between the thresholds (0.4: continues an utterance but
cannot start one), ``0`` = silence (0.0). Spaces are ignored and only there for reading.
"""

from __future__ import annotations

import pytest

from frontdesk.audio.pcm import FRAME_MS
from frontdesk.call.endpoint import EndpointConfig, Endpointer, Mark

LEVELS = {"1": 0.9, "h": 0.4, "0": 0.0}

SS, PAUSE, RES, EOT, NOISE = (
    Mark.SPEECH_STARTED, Mark.PAUSE, Mark.RESUMED, Mark.END_OF_TURN, Mark.NOISE,
)

DEFAULT = EndpointConfig()


def probabilities(pattern: str) -> list[float]:
    return [LEVELS[ch] for ch in pattern if ch != " "]


def run(pattern: str | list[float], config: EndpointConfig = DEFAULT) -> list[tuple[int, Mark]]:
    """Every (frame index, mark) the endpointer produced."""
    frames = probabilities(pattern) if isinstance(pattern, str) else pattern
    endpointer = Endpointer(config)
    marks: list[tuple[int, Mark]] = []
    for i, p in enumerate(frames):
        mark = endpointer.feed(p)
        if mark is not None:
            marks.append((i, mark))
    return marks


def test_default_config_in_frames() -> None:
    # the scenario table below is written against these numbers
    assert FRAME_MS == 20
    assert DEFAULT.frames(DEFAULT.min_speech_ms) == 5
    assert DEFAULT.frames(DEFAULT.speculative_pause_ms) == 8
    assert DEFAULT.frames(DEFAULT.end_silence_ms) == 20
    assert DEFAULT.frames(0) == 1 and DEFAULT.frames(19) == 1  # never zero frames


SCENARIOS: list[tuple[str, str, list[tuple[int, Mark]]]] = [
    ("nothing", "", []),
    ("silence", "0" * 40, []),
    ("between thresholds never starts", "h" * 40, []),
    ("one-frame click", "1 00000000", [(8, NOISE)]),
    ("click one frame short of min speech", "1111 00000000" + "0" * 10, [(11, NOISE)]),
    ("click kept up by h still too short", "1hhh 00000000", [(11, NOISE)]),
    ("speech then silence", "11111 " + "0" * 20 + "0000",
     [(4, SS), (12, PAUSE), (24, EOT)]),
    ("hysteresis carries the start", "1hhhh " + "0" * 20,
     [(4, SS), (12, PAUSE), (24, EOT)]),
    ("h cannot start, 1 can", "h11111 " + "0" * 20,
     [(5, SS), (13, PAUSE), (25, EOT)]),
    ("h keeps the utterance going", "11111 hhhhhhhhhh " + "0" * 20,
     [(4, SS), (22, PAUSE), (34, EOT)]),
    ("pause then resume then second pause", "11111 00000000 11 " + "0" * 20,
     [(4, SS), (12, PAUSE), (13, RES), (22, PAUSE), (34, EOT)]),
    ("gap shorter than a pause is not a pause", "11111 0000000 1 " + "0" * 20,
     [(4, SS), (20, PAUSE), (32, EOT)]),
    ("resume on the last frame before end of turn", "11111 " + "0" * 19 + "1 " + "0" * 20,
     [(4, SS), (12, PAUSE), (24, RES), (32, PAUSE), (44, EOT)]),
    ("two turns", "11111 " + "0" * 20 + "11111 " + "0" * 20,
     [(4, SS), (12, PAUSE), (24, EOT), (29, SS), (37, PAUSE), (49, EOT)]),
    ("noise then a real turn", "11 00000000 11111 " + "0" * 20,
     [(9, NOISE), (14, SS), (22, PAUSE), (34, EOT)]),
    ("long speech without end", "1" * 200, [(4, SS)]),
]


@pytest.mark.parametrize(("pattern", "expected"), [(p, e) for _, p, e in SCENARIOS],
                         ids=[name for name, _, _ in SCENARIOS])
def test_scenarios(pattern: str, expected: list[tuple[int, Mark]]) -> None:
    assert run(pattern) == expected


def test_scenario_table_is_large_enough() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("min_speech_ms", [20, 40, 100, 200, 210])
def test_speech_started_at_exactly_min_speech_frames(min_speech_ms: int) -> None:
    config = EndpointConfig(min_speech_ms=min_speech_ms)
    n = min_speech_ms // FRAME_MS
    assert run([0.9] * (n - 1), config) == []
    assert run([0.9] * n, config) == [(n - 1, SS)]


@pytest.mark.parametrize(("pause_ms", "end_ms"), [(160, 400), (20, 40), (100, 120), (200, 1000)])
def test_pause_and_end_of_turn_at_exactly_their_silent_frame_counts(
    pause_ms: int, end_ms: int
) -> None:
    config = EndpointConfig(min_speech_ms=20, speculative_pause_ms=pause_ms,
                            end_silence_ms=end_ms)
    pause_n, end_n = pause_ms // FRAME_MS, end_ms // FRAME_MS
    # one voiced frame starts (min speech is one frame), then silent frames 1..end_n
    marks = run([0.9] + [0.0] * (end_n + 10), config)
    assert marks == [(0, SS), (pause_n, PAUSE), (end_n, EOT)]


def test_pause_is_not_reported_when_end_of_turn_comes_first() -> None:
    config = EndpointConfig(min_speech_ms=20, speculative_pause_ms=400, end_silence_ms=200)
    assert run([0.9] + [0.0] * 30, config) == [(0, SS), (10, EOT)]


def test_a_click_never_reports_speech_started() -> None:
    for length in range(1, 5):
        marks = run("1" * length + "0" * 30)
        assert SS not in [m for _, m in marks]
        assert marks == [(length + 7, NOISE)]


def test_thresholds_are_inclusive() -> None:
    config = EndpointConfig(start_threshold=0.6, continue_threshold=0.3, min_speech_ms=40)
    # exactly the start threshold starts; exactly the continue threshold continues
    assert run([0.6, 0.3], config) == [(1, SS)]
    # just under the continue threshold is silence: no second voiced frame, so no start
    assert run([0.6, 0.29] + [0.0] * 10, config) == [(8, NOISE)]
    # just under the start threshold does not start at all
    assert run([0.59] * 10, config) == []


def test_in_utterance_tracks_the_first_voiced_frame_to_end_of_turn() -> None:
    endpointer = Endpointer(DEFAULT)
    assert not endpointer.in_utterance
    assert endpointer.feed(0.4) is None
    assert not endpointer.in_utterance  # between thresholds does not open an utterance
    assert endpointer.feed(0.9) is None
    assert endpointer.in_utterance  # before SPEECH_STARTED already
    for _ in range(4):
        endpointer.feed(0.9)
    assert endpointer.in_utterance
    for _ in range(19):
        assert endpointer.feed(0.0) in (None, PAUSE)
        assert endpointer.in_utterance  # still during the pause
    assert endpointer.feed(0.0) is EOT
    assert not endpointer.in_utterance


def test_in_utterance_ends_with_noise() -> None:
    endpointer = Endpointer(DEFAULT)
    endpointer.feed(0.9)
    marks = [endpointer.feed(0.0) for _ in range(8)]
    assert marks[-1] is NOISE
    assert not endpointer.in_utterance


def test_reset_forgets_a_started_utterance() -> None:
    endpointer = Endpointer(DEFAULT)
    marks = [endpointer.feed(0.9) for _ in range(5)]
    assert marks[-1] is SS and endpointer.in_utterance
    endpointer.reset()
    assert not endpointer.in_utterance
    # after reset, silence yields nothing (no PAUSE, no END_OF_TURN of the old utterance)
    assert [endpointer.feed(0.0) for _ in range(40)] == [None] * 40
    # and a new utterance needs the start threshold and min speech again
    assert endpointer.feed(0.4) is None
    assert [endpointer.feed(0.9) for _ in range(5)] == [None] * 4 + [SS]


def test_reset_forgets_a_pause() -> None:
    endpointer = Endpointer(DEFAULT)
    for p in probabilities("11111 00000000"):
        endpointer.feed(p)
    endpointer.reset()
    # without reset the next voiced frame would be RESUMED
    assert [endpointer.feed(p) for p in probabilities("11111")] == [None] * 4 + [SS]


def test_clicks_do_not_add_up_to_speech() -> None:
    """Five one-frame clicks, each a short gap apart, never take the floor."""
    endpointer = Endpointer(EndpointConfig())
    marks = [endpointer.feed(1.0 if c == "1" else 0.0) for c in ("1" + "0" * 7) * 5]
    assert Mark.SPEECH_STARTED not in marks
