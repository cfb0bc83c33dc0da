"""WAV input is normalised to 16 kHz mono; bad files are a typed error."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from frontdesk.audio import AudioFormatError, float_to_pcm16, read_wav, write_wav


def _write(path: Path, data: bytes, *, channels: int, width: int, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    samples = (0.25 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    path = tmp_path / "a.wav"
    write_wav(path, float_to_pcm16(samples))
    back = read_wav(path)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, samples, atol=1 / 32768)


def test_8khz_stereo_is_mixed_and_resampled(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    left = 0.4 * np.sin(2 * np.pi * 500 * t)
    right = np.zeros_like(left)
    interleaved = np.column_stack([left, right]).reshape(-1)
    path = tmp_path / "stereo.wav"
    _write(path, float_to_pcm16(interleaved), channels=2, width=2, rate=8000)
    out = read_wav(path)
    assert len(out) == 16000  # one second at 16 kHz
    core = out[1600:-1600]
    peak = float(np.max(np.abs(core)))
    assert peak == pytest.approx(0.2, abs=0.01)  # mean of the two channels
    spectrum = np.abs(np.fft.rfft(core))
    assert np.argmax(spectrum) * 16000 / len(core) == pytest.approx(500, abs=2)


def test_8bit_unsigned_is_centred(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    _write(path, bytes([128, 255, 0, 128] * 4000), channels=1, width=1, rate=16000)
    out = read_wav(path)
    assert out[:4].tolist() == pytest.approx([0.0, 127 / 128, -1.0, 0.0])


def test_garbage_file_raises_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not audio at all, just text pretending" * 10)
    with pytest.raises(AudioFormatError, match="garbage.wav"):
        read_wav(path)


def test_truncated_header_raises_typed_error(tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    write_wav(good, bytes(640))
    bad = tmp_path / "cut.wav"
    bad.write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioFormatError):
        read_wav(bad)


def test_24bit_is_rejected_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "s24.wav"
    _write(path, bytes(300), channels=1, width=3, rate=16000)
    with pytest.raises(AudioFormatError, match="24-bit"):
        read_wav(path)
    assert issubclass(AudioFormatError, ValueError)
