"""Deterministic speech providers with fixed, configurable delays.

They let engine tests and latency benchmarks run without models: every delay is an
``asyncio.sleep``, so under a virtual-time event loop a 300 ms "STT" costs no wall time
and the measured turn latency is exactly the sum of the configured stage delays.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Sequence

import numpy as np

from frontdesk.audio.pcm import FRAME_SAMPLES, SAMPLE_RATE, float_to_pcm16
from frontdesk.speech.base import Samples, Transcript

STUB_CONFIDENCE = 0.95


class StubSTT:
    """Returns the next scripted line after ``final_ms``; "" with confidence 0 once exhausted."""

    name = "stub"

    def __init__(self, final_ms: float, script: Sequence[str]) -> None:
        self.final_ms = final_ms
        self._script = list(script)
        self._next = 0
        self.heard_samples: list[int] = []  # length of each utterance it was given

    async def transcribe(self, audio: Samples) -> Transcript:
        self.heard_samples.append(int(np.asarray(audio).size))
        await asyncio.sleep(self.final_ms / 1000)
        if self._next >= len(self._script):
            return Transcript("", 0.0)
        line = self._script[self._next]
        self._next += 1
        return Transcript(line, STUB_CONFIDENCE if line else 0.0)


class StubTTS:
    """After ``first_audio_ms``, streams a 200 Hz tone lasting ``len(text) * ms_per_char``.

    The tone's peak is -12 dBFS and it comes in 20 ms frames (the last one may be
    shorter). ``said`` records every text it was asked to speak, in order.
    """

    name = "stub"
    TONE_HZ = 200.0
    PEAK_DBFS = -12.0

    def __init__(self, first_audio_ms: float, ms_per_char: float = 60.0) -> None:
        self.first_audio_ms = first_audio_ms
        self.ms_per_char = ms_per_char
        self.said: list[str] = []

    async def stream(self, text: str) -> AsyncGenerator[bytes, None]:
        self.said.append(text)
        await asyncio.sleep(self.first_audio_ms / 1000)
        total = round(len(text) * self.ms_per_char * SAMPLE_RATE / 1000)
        amplitude = 10 ** (self.PEAK_DBFS / 20)
        for start in range(0, total, FRAME_SAMPLES):
            n = np.arange(start, min(start + FRAME_SAMPLES, total))
            yield float_to_pcm16(amplitude * np.sin(2 * math.pi * self.TONE_HZ * n / SAMPLE_RATE))


def tone_utterance(duration_ms: float) -> bytes:
    """Speech-like s16le audio for a stub caller: a buzzy 140 Hz voice with syllable rhythm.

    Harmonics up to ~3 kHz and a 4 Hz amplitude envelope that never falls below a tenth
    of its peak keep every frame well above an energy VAD's threshold, so the whole
    utterance is "speech" to ``EnergyVAD``. It is not speech to Silero, which is fine:
    tests that need Silero use real TTS audio. Length is rounded to whole 20 ms frames.
    """
    frames = max(0, round(duration_ms / 20))
    t = np.arange(frames * FRAME_SAMPLES) / SAMPLE_RATE
    voice = sum(np.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 22))
    envelope = 0.55 + 0.45 * np.sin(2 * math.pi * 4 * t)
    signal = 0.3 * envelope * voice / np.max(np.abs(voice), initial=1.0)
    return float_to_pcm16(signal)
