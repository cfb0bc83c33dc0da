"""A dependency-free energy VAD: level above an adaptive noise floor.

It is the fallback when the ``vad`` extra is missing, and the detector for synthetic
test audio. Telling a new steady noise (a fan, a car engine) from a voice by level alone
is impossible, so the floor uses one more cue: speech fluctuates by 10-20 dB from
syllable to syllable, stationary noise by a dB or two. While the level has been steady
for half a second the floor moves towards it quickly, whatever its height; while it
fluctuates, a level well above the floor is speech and the floor barely moves. A new
noise therefore reads as speech for about a second, which is why Silero is the default.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from frontdesk.audio.level import frame_dbfs


@dataclass(frozen=True)
class EnergyVADConfig:
    """Tuning in dB and frames; defaults suit 16 kHz telephone audio at 20 ms frames."""

    initial_floor_dbfs: float = -60.0
    min_floor_dbfs: float = -70.0  # digital silence must not drag the floor to -120
    margin_db: float = 12.0  # level this far above the floor gives probability 0.5
    slope_db: float = 3.0  # logistic width: +/- 3 dB moves the probability ~0.27
    gate_dbfs: float = -55.0  # quieter than this is never speech on a phone line
    steady_frames: int = 25  # half a second of history to judge steadiness
    steady_spread_db: float = 6.0  # max - min below this over the history = stationary
    fall: float = 0.3  # the floor follows a quieter background quickly ...
    rise: float = 0.05  # ... a louder stationary one within ~0.5 s more ...
    rise_speech: float = 0.0005  # ... and barely moves while the level fluctuates (~40 s)


class EnergyVAD:
    """Stateful per call; ``speech_probability`` maps (level - floor) through a logistic."""

    def __init__(self, config: EnergyVADConfig | None = None) -> None:
        self._config = config or EnergyVADConfig()
        self._history: deque[float] = deque(maxlen=self._config.steady_frames)
        self._floor = self._config.initial_floor_dbfs

    @property
    def noise_floor_dbfs(self) -> float:
        """The current estimate of the background level."""
        return self._floor

    def speech_probability(self, frame: bytes) -> float:
        cfg = self._config
        level = frame_dbfs(frame)
        self._history.append(level)
        above = level - self._floor
        steady = (
            len(self._history) == self._history.maxlen
            and max(self._history) - min(self._history) < cfg.steady_spread_db
        )
        if level < self._floor:
            rate = cfg.fall
        elif steady or above < cfg.margin_db:
            rate = cfg.rise
        else:
            rate = cfg.rise_speech
        self._floor = max(cfg.min_floor_dbfs, self._floor + rate * (level - self._floor))
        if level < cfg.gate_dbfs:
            return 0.0
        x = (above - cfg.margin_db) / cfg.slope_db
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))

    def reset(self) -> None:
        self._history.clear()
        self._floor = self._config.initial_floor_dbfs
