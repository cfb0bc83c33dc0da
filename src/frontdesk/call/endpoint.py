"""Endpointing: from per-frame speech probabilities to speech start, pause and end of turn.

Sans-IO and clockless: time is counted in 20 ms frames of the caller's own audio, so the
decisions are the same in a real call, a faster-than-real-time test and a benchmark.
Hysteresis (a higher threshold to start than to continue) keeps breath noise from
chopping an utterance; a minimum speech length keeps a click from taking the floor.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from frontdesk.audio.pcm import FRAME_MS


class Mark(enum.Enum):
    SPEECH_STARTED = "speech_started"
    PAUSE = "pause"  # first pause long enough for a speculative transcription
    RESUMED = "resumed"  # speech again after a pause: the speculative pass is stale
    END_OF_TURN = "end_of_turn"
    NOISE = "noise"  # speech ended before it was long enough to count


@dataclass(frozen=True)
class EndpointConfig:
    start_threshold: float = 0.5
    continue_threshold: float = 0.35
    min_speech_ms: int = 100
    speculative_pause_ms: int = 160
    end_silence_ms: int = 400

    def frames(self, ms: int) -> int:
        return max(1, ms // FRAME_MS)


class Endpointer:
    """Feed one probability per frame; get at most one :class:`Mark` back."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self._in_speech = False
        self._started = False
        self._voiced = 0
        self._silent = 0
        self._paused = False

    @property
    def in_utterance(self) -> bool:
        """True from the first voiced frame until end of turn or noise."""
        return self._in_speech

    def reset(self) -> None:
        self._in_speech = self._started = self._paused = False
        self._voiced = self._silent = 0

    def feed(self, probability: float) -> Mark | None:
        c = self.config
        if not self._in_speech:
            if probability >= c.start_threshold:
                self._in_speech = True
                self._voiced, self._silent = 1, 0
                return self._maybe_start()
            return None
        voiced = probability >= c.continue_threshold
        if voiced:
            self._voiced += 1
            was_paused, self._paused = self._paused, False
            self._silent = 0
            mark = self._maybe_start()
            if mark is None and was_paused and self._started:
                return Mark.RESUMED
            return mark
        self._silent += 1
        if not self._started:
            self._voiced = 0  # the minimum speech must be one run: clicks do not add up
            if self._silent >= c.frames(c.speculative_pause_ms):
                self.reset()
                return Mark.NOISE
            return None
        if self._silent >= c.frames(c.end_silence_ms):
            self.reset()
            return Mark.END_OF_TURN
        if not self._paused and self._silent == c.frames(c.speculative_pause_ms):
            self._paused = True
            return Mark.PAUSE
        return None

    def _maybe_start(self) -> Mark | None:
        if not self._started and self._voiced >= self.config.frames(self.config.min_speech_ms):
            self._started = True
            return Mark.SPEECH_STARTED
        return None
