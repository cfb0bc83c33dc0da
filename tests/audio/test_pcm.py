"""PCM conversions and framing."""

from __future__ import annotations

import numpy as np
import pytest

from frontdesk.audio import (
    FRAME_BYTES,
    float_to_pcm16,
    frame_dbfs,
    pcm16_to_float,
    split_frames,
)
from frontdesk.audio.level import SILENCE_DBFS


def test_pcm_round_trip_is_lossless() -> None:
    ints = np.array([-32768, -32767, -1, 0, 1, 12345, 32767], dtype="<i2")
    pcm = ints.tobytes()
    floats = pcm16_to_float(pcm)
    assert floats.dtype == np.float32
    assert floats.min() >= -1.0 and floats.max() < 1.0
    assert float_to_pcm16(floats) == pcm


def test_float_to_pcm16_clips_instead_of_wrapping() -> None:
    out = np.frombuffer(float_to_pcm16(np.array([1.5, -1.5, 1.0, -1.0])), dtype="<i2")
    assert out.tolist() == [32767, -32768, 32767, -32768]


def test_odd_byte_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="even"):
        pcm16_to_float(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="even"):
        split_frames(b"\x00")


def test_split_frames_pads_only_the_last_frame() -> None:
    pcm = bytes(range(256)) * 6  # 1536 bytes = 2 frames + 256 bytes
    frames = split_frames(pcm)
    assert [len(f) for f in frames] == [FRAME_BYTES] * 3
    assert b"".join(frames)[: len(pcm)] == pcm
    assert frames[-1][256:] == bytes(FRAME_BYTES - 256)


def test_split_frames_exact_multiple_and_empty() -> None:
    assert len(split_frames(bytes(FRAME_BYTES * 4))) == 4
    assert split_frames(b"") == []


def test_frame_dbfs_silence_and_full_scale() -> None:
    assert frame_dbfs(bytes(FRAME_BYTES)) == SILENCE_DBFS
    square = np.frombuffer(float_to_pcm16(np.tile([1.0, -1.0], 160)), dtype="<i2")
    assert frame_dbfs(square.tobytes()) == pytest.approx(0.0, abs=0.01)
    sine = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(320) / 16000)
    assert frame_dbfs(float_to_pcm16(sine)) == pytest.approx(-9.03, abs=0.05)  # -6 - 3.01


def test_audio_package_imports_no_other_frontdesk_code() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, frontdesk.audio\n"
        "bad = [m for m in sys.modules if m.startswith('frontdesk.')"
        " and not m.startswith('frontdesk.audio')]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
