"""Latency spans of one turn, against the budget (caller's last word → first agent audio).

The stages are the ones in ARCHITECTURE.md: endpoint (silence waited to decide the turn
ended), stt (transcript after that decision; ~0 when the speculative pass was reused),
brain (first speakable phrase, so it includes waiting for the phrase to be complete),
tts (first audio of that phrase), transport (first frame handed to the line). ``total``
is measured directly, not summed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field


class Stamp(enum.Enum):
    """The instants of a turn, in order."""

    LAST_SPEECH = "last_speech"
    END_OF_TURN = "end_of_turn"
    TRANSCRIPT = "transcript"
    FIRST_PHRASE = "first_phrase"
    FIRST_AUDIO = "first_audio"
    FIRST_FRAME = "first_frame"


STAGES = ("endpoint", "stt", "brain", "tts", "transport")
_ORDER = list(Stamp)


@dataclass
class TurnClock:
    """Stamps taken with an injected clock (seconds); spans come out in milliseconds."""

    clock: Callable[[], float]
    marks: dict[Stamp, float] = field(default_factory=dict)

    def mark(self, stamp: Stamp, at: float | None = None) -> None:
        """The first stamp of each kind wins (later phrases do not move it)."""
        self.marks.setdefault(stamp, self.clock() if at is None else at)

    def spans_ms(self) -> dict[str, float]:
        spans: dict[str, float] = {}
        for stage, a, b in zip(STAGES, _ORDER[:-1], _ORDER[1:], strict=True):
            if a in self.marks and b in self.marks:
                spans[stage] = round((self.marks[b] - self.marks[a]) * 1000, 2)
        return spans

    def total_ms(self) -> float | None:
        if Stamp.LAST_SPEECH in self.marks and Stamp.FIRST_FRAME in self.marks:
            span = self.marks[Stamp.FIRST_FRAME] - self.marks[Stamp.LAST_SPEECH]
            return round(span * 1000, 2)
        return None
