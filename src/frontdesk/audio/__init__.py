"""Pure audio DSP for the engine: numpy and soxr only, no other frontdesk code."""

from frontdesk.audio.g711 import (
    ULAW_SILENCE,
    int16_to_ulaw,
    ulaw_decode,
    ulaw_encode,
    ulaw_to_int16,
)
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
from frontdesk.audio.resample import HalfBandResampler, StreamResampler, resample
from frontdesk.audio.wav import AudioFormatError, read_wav, write_wav

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "SILENCE_DBFS",
    "SILENCE_FRAME",
    "ULAW_SILENCE",
    "AudioFormatError",
    "HalfBandResampler",
    "Samples",
    "StreamResampler",
    "float_to_pcm16",
    "frame_dbfs",
    "int16_to_ulaw",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "split_frames",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_to_int16",
    "write_wav",
]
