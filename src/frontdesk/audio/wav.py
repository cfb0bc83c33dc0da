"""WAV files in and out, with the stdlib ``wave`` module only.

Used for fixtures, the test caller and recordings. Input is normalised to what the
engine runs on (16 kHz mono float32); anything we cannot read becomes an
``AudioFormatError`` naming the file and the reason, never a bare ``wave.Error`` or
``struct.error`` from deep inside the stdlib (bad input is a typed error at the edge).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from frontdesk.audio.pcm import SAMPLE_RATE, Samples
from frontdesk.audio.resample import resample


class AudioFormatError(ValueError):
    """The audio data is not in a format we accept (garbage, compressed, 24-bit, ...)."""


def read_wav(path: str | Path) -> Samples:
    """Read an 8- or 16-bit PCM WAV of any rate and channel count as 16 kHz mono float32.

    Channels are averaged (a phone recording in stereo is usually the same voice twice,
    or caller and agent on separate legs; either way the mix is what a listener hears).
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: not a readable PCM WAV file ({exc})") from exc
    if width not in (1, 2):
        raise AudioFormatError(
            f"{path}: {8 * width}-bit samples are not supported (only 8- and 16-bit PCM)"
        )
    if channels < 1 or rate <= 0:
        raise AudioFormatError(f"{path}: invalid header ({channels} channels, {rate} Hz)")
    usable = len(raw) - len(raw) % (width * channels)
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        ints = np.frombuffer(raw[:usable], dtype=np.uint8).astype(np.float32) - 128.0
        samples = ints / np.float32(128.0)
    else:
        samples = np.frombuffer(raw[:usable], dtype="<i2").astype(np.float32) / np.float32(32768.0)
    mono = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return resample(mono, rate, SAMPLE_RATE)


def write_wav(path: str | Path, pcm16: bytes, rate: int = SAMPLE_RATE) -> None:
    """Write mono s16le PCM as a WAV file."""
    if len(pcm16) % 2:
        raise ValueError(f"s16le PCM must have an even byte count, got {len(pcm16)}")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm16)
