"""Latency spans of one turn, against the budget (caller's last word → first agent audio).

The stages are the ones in ARCHITECTURE.md: endpoint (silence waited to decide the turn
ended), stt (transcript after that decision; ~0 when the speculative pass was reused),
brain (first speakable phrase), tts (first audio of that phrase), transport (first frame
handed to the line). ``total`` is measured directly, not summed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ("endpoint", "stt", "brain", "tts", "transport")


@dataclass
class TurnClock:
    """Marks taken with an injected clock (seconds); spans come out in milliseconds."""

    clock: Callable[[], float]
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks.setdefault(name, self.clock() if at is None else at)

    def spans_ms(self) -> dict[str, float]:
        order = ("last_speech", "end_of_turn", "transcript", "first_phrase", "first_audio",
                 "first_frame")
        spans: dict[str, float] = {}
        for stage, (a, b) in zip(STAGES, zip(order, order[1:], strict=False), strict=True):
            if a in self.marks and b in self.marks:
                spans[stage] = round((self.marks[b] - self.marks[a]) * 1000, 2)
        return spans

    def total_ms(self) -> float | None:
        if "last_speech" in self.marks and "first_frame" in self.marks:
            return round((self.marks["first_frame"] - self.marks["last_speech"]) * 1000, 2)
        return None
