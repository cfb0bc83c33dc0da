"""Build speech providers from configuration strings.

Model-backed providers are constructed here, at startup, so a missing extra or model
fails loudly before the first call rather than in the middle of one. Heavy modules are
imported only for the kind asked for: choosing ``stub`` never imports faster-whisper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from frontdesk.speech.base import SpeechToText, TextToSpeech, VoiceActivityDetector
from frontdesk.speech.energy import EnergyVAD

STT_KINDS = ("whisper", "stub")
TTS_KINDS = ("piper", "stub")
VAD_KINDS = ("silero", "energy")


def _unknown(what: str, kind: str, kinds: Sequence[str]) -> ValueError:
    return ValueError(f"unknown {what} kind {kind!r}; expected one of {', '.join(kinds)}")


def build_stt(kind: str, *, final_ms: float = 0.0, script: Sequence[str] = ()) -> SpeechToText:
    """``whisper`` (local model) or ``stub`` (``final_ms`` delay, scripted lines)."""
    if kind == "whisper":
        from frontdesk.speech.whisper import WhisperSTT

        return WhisperSTT()
    if kind == "stub":
        from frontdesk.speech.stub import StubSTT

        return StubSTT(final_ms, script)
    raise _unknown("STT", kind, STT_KINDS)


def build_tts(kind: str, *, first_audio_ms: float = 0.0, ms_per_char: float = 60.0) -> TextToSpeech:
    """``piper`` (local voice) or ``stub`` (tone after ``first_audio_ms``)."""
    if kind == "piper":
        from frontdesk.speech.piper import PiperTTS

        return PiperTTS()
    if kind == "stub":
        from frontdesk.speech.stub import StubTTS

        return StubTTS(first_audio_ms, ms_per_char)
    raise _unknown("TTS", kind, TTS_KINDS)


def vad_factory(kind: str) -> Callable[[], VoiceActivityDetector]:
    """A constructor for per-call detectors (VAD state is per call, the model is shared).

    For ``silero`` the shared ONNX session is loaded now, so a missing extra raises here.
    """
    if kind == "silero":
        from frontdesk.speech.silero import SileroVAD, load_session

        load_session()
        return SileroVAD
    if kind == "energy":
        return EnergyVAD
    raise _unknown("VAD", kind, VAD_KINDS)
