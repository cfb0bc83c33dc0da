"""PCM of the engine: 16 kHz mono, signed 16-bit little-endian, 20 ms frames, and the
conversions between wire bytes and float32 model input."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
SILENCE_FRAME = bytes(FRAME_BYTES)

Samples = npt.NDArray[np.float32]

_INT16_SCALE = 32768.0


def pcm16_to_float(pcm: bytes) -> Samples:
    """Decode s16le bytes to float32 in [-1, 1).

    Dividing by 32768 (not 32767) keeps the mapping exact and symmetric with
    ``float_to_pcm16`` so a round trip is lossless.
    """
    if len(pcm) % 2:
        raise ValueError(f"s16le PCM must have an even byte count, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(_INT16_SCALE)


def float_to_pcm16(samples: npt.ArrayLike) -> bytes:
    """Encode float samples to s16le bytes, clipping instead of wrapping around.

    Wrap-around on overflow would turn a loud peak into a full-scale click; clipping is
    the audible lesser evil.
    """
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * _INT16_SCALE)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def split_frames(pcm: bytes) -> list[bytes]:
    """Cut s16le PCM into 20 ms frames; the last one is zero-padded.

    Every consumer downstream (VAD, transports) assumes exactly ``FRAME_BYTES`` per frame,
    so a short tail is padded with silence rather than dropped: dropping it would lose the
    end of a word.
    """
    if len(pcm) % 2:
        raise ValueError(f"s16le PCM must have an even byte count, got {len(pcm)}")
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1].ljust(FRAME_BYTES, b"\x00")
    return frames
