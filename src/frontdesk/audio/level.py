"""Signal level in dBFS, the unit every energy threshold in the engine is written in."""

from __future__ import annotations

import math

import numpy as np

from frontdesk.audio.pcm import pcm16_to_float

# Level reported for digital silence: log10(0) is -inf, which poisons averages and
# comparisons; -120 dBFS is well below the 16-bit noise floor (about -98 dBFS).
SILENCE_DBFS = -120.0


def frame_dbfs(frame: bytes) -> float:
    """RMS level of an s16le frame in dBFS; a full-scale square wave is 0 dBFS.

    A full-scale sine reads about -3 dBFS (RMS convention). Empty or all-zero input
    returns ``SILENCE_DBFS``.
    """
    samples = pcm16_to_float(frame)
    if samples.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms))
