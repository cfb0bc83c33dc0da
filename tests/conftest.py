"""Real local models, loaded once per test session (each takes ~0.5-1 s to load)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from frontdesk.speech.piper import PiperTTS
from frontdesk.speech.whisper import WhisperSTT


@pytest.fixture(scope="session")
def piper() -> Iterator[PiperTTS]:
    tts = PiperTTS()
    yield tts
    tts.close()


@pytest.fixture(scope="session")
def whisper() -> Iterator[WhisperSTT]:
    stt = WhisperSTT()
    yield stt
    stt.close()


@pytest.fixture(scope="session")
def caller_piper() -> Iterator[PiperTTS]:
    """The scripted caller's voice: steady, so every run hears the same audio."""
    tts = PiperTTS(steady=True)
    yield tts
    tts.close()
