"""Pure audio DSP for the engine: numpy and soxr only, no other frontdesk code."""

from frontdesk.audio.level import SILENCE_DBFS, frame_dbfs
from frontdesk.audio.pcm import (
    FRAME_BYTES,
    FRAME_MS,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    SILENCE_FRAME,
    Samples,
    float_to_pcm16,
    pcm16_to_float,
    split_frames,
)
from frontdesk.audio.resample import resample
from frontdesk.audio.wav import AudioFormatError, read_wav, write_wav

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "SILENCE_DBFS",
    "SILENCE_FRAME",
    "AudioFormatError",
    "Samples",
    "float_to_pcm16",
    "frame_dbfs",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "split_frames",
    "write_wav",
]
