"""Resampling keeps the speech band and removes what would alias."""

from __future__ import annotations

import numpy as np
import pytest

from frontdesk.audio import resample


def _tone(hz: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _rms_db(x: np.ndarray) -> float:
    core = x[len(x) // 10 : -len(x) // 10]  # ignore the filter's edge transients
    return 20 * float(np.log10(np.sqrt(np.mean(np.square(core.astype(np.float64))))))


def test_tone_above_new_nyquist_is_removed() -> None:
    src = _tone(7000, 16000)
    out = resample(src, 16000, 8000)
    assert len(out) == 8000
    assert _rms_db(src) - _rms_db(out) > 40  # naive decimation would alias it to 1 kHz


def test_tone_in_band_keeps_its_level() -> None:
    src = _tone(1000, 16000)
    out = resample(src, 16000, 8000)
    assert abs(_rms_db(src) - _rms_db(out)) < 1.0


def test_upsampling_from_piper_rate_keeps_level_and_length() -> None:
    src = _tone(440, 22050)
    out = resample(src, 22050, 16000)
    assert out.dtype == np.float32
    assert len(out) == 16000
    assert abs(_rms_db(src) - _rms_db(out)) < 1.0


def test_equal_rates_are_identity() -> None:
    src = _tone(300, 16000)
    out = resample(src, 16000, 16000)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, src)


def test_rejects_multichannel_and_bad_rates() -> None:
    with pytest.raises(ValueError, match="mono"):
        resample(np.zeros((2, 100), dtype=np.float32), 16000, 8000)
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(100, dtype=np.float32), 0, 8000)
