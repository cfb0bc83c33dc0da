"""Shared audio for the speech tests (the models come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from frontdesk.speech.piper import PiperTTS


@pytest.fixture(scope="session")
def oil_change_pcm(piper: PiperTTS) -> bytes:
    return piper.synthesize("I'd like to book an oil change on Thursday at 3 PM")
