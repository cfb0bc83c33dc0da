"""Stub providers: scripted, delayed on the event loop's clock, with recordable output."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from frontdesk.audio import FRAME_BYTES, pcm16_to_float
from frontdesk.speech.base import SpeechToText, TextToSpeech, Transcript
from frontdesk.speech.stub import StubSTT, StubTTS, tone_utterance


async def test_stt_returns_script_in_order_then_empty() -> None:
    stt: SpeechToText = StubSTT(0, ["hello", "book it"])
    audio = np.zeros(100, dtype=np.float32)
    results = [await stt.transcribe(audio) for _ in range(3)]
    assert results == [
        Transcript("hello", 0.95),
        Transcript("book it", 0.95),
        Transcript("", 0.0),
    ]


async def test_stt_waits_final_ms_on_the_loop_clock() -> None:
    loop = asyncio.get_running_loop()
    stt = StubSTT(30, ["x"])
    start = loop.time()
    await stt.transcribe(np.zeros(10, dtype=np.float32))
    assert loop.time() - start >= 0.03
    assert stt.heard_samples == [10]


async def test_tts_first_audio_after_delay_then_frames() -> None:
    loop = asyncio.get_running_loop()
    tts: TextToSpeech = StubTTS(first_audio_ms=25, ms_per_char=10)
    start = loop.time()
    stream = tts.stream("hello")  # 5 chars * 10 ms = 50 ms = 800 samples
    first = await anext(stream)
    assert loop.time() - start >= 0.025
    chunks = [first] + [c async for c in stream]
    assert [len(c) for c in chunks] == [FRAME_BYTES, FRAME_BYTES, 320]


async def test_tts_tone_level_frequency_and_record() -> None:
    tts = StubTTS(first_audio_ms=0)
    pcm = b"".join([c async for c in tts.stream("Your booking is confirmed.")])
    samples = pcm16_to_float(pcm)
    assert len(samples) == round(26 * 60 * 16)
    assert 20 * np.log10(np.max(np.abs(samples))) == pytest.approx(-12, abs=0.1)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * 16000 / len(samples) == pytest.approx(200, abs=1)
    assert tts.said == ["Your booking is confirmed."]


async def test_tts_records_even_when_cancelled_before_audio() -> None:
    tts = StubTTS(first_audio_ms=1000)

    async def speak() -> None:
        async for _ in tts.stream("Let me check."):
            pass

    task = asyncio.create_task(speak())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tts.said == ["Let me check."]


def test_tone_utterance_length_in_whole_frames() -> None:
    assert len(tone_utterance(1000)) == 50 * FRAME_BYTES
    assert len(tone_utterance(1010)) % FRAME_BYTES == 0
    assert tone_utterance(0) == b""
