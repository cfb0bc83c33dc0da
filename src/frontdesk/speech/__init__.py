"""Speech providers (STT, TTS, VAD) behind the small protocols in ``base``.

Model-backed providers (Whisper, Piper, Silero) live in their own modules and import
their optional dependencies lazily; import them directly or go through ``factory``.
"""

from frontdesk.speech.base import (
    MissingExtraError,
    SpeechError,
    SpeechToText,
    TextToSpeech,
    Transcript,
    VoiceActivityDetector,
)
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.factory import build_stt, build_tts, vad_factory

__all__ = [
    "EnergyVAD",
    "MissingExtraError",
    "SpeechError",
    "SpeechToText",
    "TextToSpeech",
    "Transcript",
    "VoiceActivityDetector",
    "build_stt",
    "build_tts",
    "vad_factory",
]
