"""PiperTTS streams per sentence, at 16 kHz, and stops when its consumer goes away."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass

import numpy as np
import pytest

from frontdesk.audio import frame_dbfs
from frontdesk.speech.base import MissingExtraError, SpeechError
from frontdesk.speech.piper import PiperTTS

THREE_SENTENCES = "Hello there. I can book that for you. What time works best on Thursday?"


async def test_stream_yields_one_chunk_per_sentence(piper: PiperTTS) -> None:
    chunks = [chunk async for chunk in piper.stream(THREE_SENTENCES)]
    assert len(chunks) == 3
    assert all(len(c) % 2 == 0 and len(c) > 0 for c in chunks)
    assert frame_dbfs(b"".join(chunks)) > -40  # real audio, not silence


async def test_output_is_16khz(piper: PiperTTS) -> None:
    pcm = piper.synthesize("Hello there.")
    seconds = len(pcm) / 2 / 16000
    assert 0.4 < seconds < 2.0  # at 22050 Hz mislabelled as 16 kHz it would be ~38% longer
    spectrum = np.abs(np.fft.rfft(np.frombuffer(pcm, dtype="<i2").astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm) // 2, 1 / 16000)
    assert spectrum[freqs > 7900].sum() < 0.01 * spectrum.sum()  # anti-aliased at 8 kHz


async def test_cancelled_consumer_leaves_the_voice_usable(piper: PiperTTS) -> None:
    first_chunk = asyncio.Event()
    release = asyncio.Event()  # never set: the consumer is stuck until cancelled

    async def consume() -> None:
        async with aclosing(piper.stream(THREE_SENTENCES * 3)) as stream:
            async for _ in stream:
                first_chunk.set()
                await release.wait()

    task = asyncio.create_task(consume())
    await first_chunk.wait()  # mid-stream, with sentences still to synthesize
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The worker gave up the executor: a new stream completes promptly.
    async with asyncio.timeout(5):
        chunks = [c async for c in piper.stream("Still here.")]
    assert chunks


@dataclass
class _Chunk:
    audio_float_array: np.ndarray
    sample_rate: int = 22050


class _GatedVoice:
    """Yields sentence 1, then waits for ``gate`` before computing each further sentence."""

    def __init__(self, sentences: int = 3) -> None:
        self.sentences = sentences
        self.gate = threading.Event()
        self.computed = 0
        self.finished = threading.Event()

    def synthesize(self, text: str, syn_config: object = None) -> Iterator[_Chunk]:
        try:
            for i in range(self.sentences):
                if i:
                    assert self.gate.wait(5), "test never opened the gate"
                self.computed += 1
                yield _Chunk(np.full(2205, 0.1, dtype=np.float32))
        finally:
            self.finished.set()


async def test_first_sentence_arrives_before_the_rest_is_synthesized() -> None:
    voice = _GatedVoice()
    tts = PiperTTS(voice=voice)
    try:
        async with aclosing(tts.stream("a. b. c.")) as stream:
            first = await anext(stream)
            assert len(first) == 2 * 1600  # 0.1 s resampled to 16 kHz
            assert voice.computed == 1  # sentence 2 is still blocked
            voice.gate.set()
            rest = [c async for c in stream]
        assert len(rest) == 2
    finally:
        tts.close()


async def test_closing_the_stream_stops_the_worker_between_sentences() -> None:
    voice = _GatedVoice(sentences=10)
    tts = PiperTTS(voice=voice)
    try:
        async with aclosing(tts.stream("many sentences")) as stream:
            await anext(stream)
        voice.gate.set()
        assert await asyncio.to_thread(voice.finished.wait, 5)
        assert voice.computed <= 2  # at most the sentence in progress, never all ten
    finally:
        tts.close()


class _BrokenVoice:
    def synthesize(self, text: str, syn_config: object = None) -> Iterator[_Chunk]:
        raise RuntimeError("espeak exploded")
        yield  # pragma: no cover


async def test_voice_failure_is_a_speech_error() -> None:
    tts = PiperTTS(voice=_BrokenVoice())
    try:
        with pytest.raises(SpeechError, match="espeak exploded") as info:
            async for _ in tts.stream("hi"):
                pass
        assert info.value.retryable is False
    finally:
        tts.close()


def test_missing_piper_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)
    with pytest.raises(MissingExtraError, match=r"piper-tts.*frontdesk\[tts\]"):
        PiperTTS()


def test_a_steady_voice_renders_the_same_text_identically() -> None:
    steady = PiperTTS(steady=True)
    try:
        first = steady.synthesize("Thursday at 3 PM.")
        second = steady.synthesize("Thursday at 3 PM.")
    finally:
        steady.close()
    assert first == second and len(first) > 16000
