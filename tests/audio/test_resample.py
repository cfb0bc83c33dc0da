"""Resampling keeps the speech band and removes what would alias."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.audio import (
    HalfBandResampler,
    StreamResampler,
    float_to_pcm16,
    pcm16_to_float,
    resample,
)
from frontdesk.audio.resample import _HALF_BAND


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


# --- StreamResampler: soxr HQ over a chunked stream -------------------------------------


def _chunks(x: np.ndarray, size: int) -> list[np.ndarray]:
    return [x[i : i + size] for i in range(0, len(x), size)]


def test_stream_resampler_chunked_plus_flush_equals_one_shot() -> None:
    src = _tone(440, 16000)
    stream = StreamResampler(16000, 8000)
    parts = [stream.process_samples(c) for c in _chunks(src, 320)]
    held_back = pcm16_to_float(stream.flush())
    out = np.concatenate([*parts, held_back])
    assert len(held_back) > 0  # soxr holds the tail until told the stream ended
    np.testing.assert_allclose(out, resample(src, 16000, 8000), atol=1e-4)


def test_stream_resampler_bytes_api_keeps_level_across_chunks() -> None:
    pcm = float_to_pcm16(_tone(1000, 8000))
    stream = StreamResampler(8000, 16000)
    out = b"".join(stream.process(pcm[i : i + 321 * 2]) for i in range(0, len(pcm), 321 * 2))
    out += stream.flush()
    assert len(out) == 2 * len(pcm)
    assert abs(_rms_db(pcm16_to_float(out)) - _rms_db(pcm16_to_float(pcm))) < 0.1


def test_stream_resampler_reset_drops_what_it_held() -> None:
    stream = StreamResampler(16000, 8000)
    stream.process_samples(_tone(1000, 16000, seconds=0.2))
    stream.reset()
    after = stream.process_samples(np.zeros(16000, dtype=np.float32))
    tail = pcm16_to_float(stream.flush())
    assert np.max(np.abs(np.concatenate([after, tail]))) == 0.0


def test_stream_resampler_equal_rates_pass_through() -> None:
    stream = StreamResampler(16000, 16000)
    assert stream.process(b"\x01\x00\x02\x00") == b"\x01\x00\x02\x00"
    assert stream.flush() == b""
    with pytest.raises(ValueError, match="even"):
        stream.process(b"\x01")
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 8000)


# --- HalfBandResampler: exact 2:1 for live frames ----------------------------------------


def _reference_half_band(x: np.ndarray, down: bool) -> np.ndarray:
    """The textbook form: full-rate convolution, then keep every other / zero-stuff first.

    Down, an output is only produced once its pair of inputs is complete (an odd tail waits).
    """
    taps = _HALF_BAND.astype(np.float64)
    if len(x) == 0:
        return np.zeros(0)
    if down:
        return np.convolve(x.astype(np.float64), taps)[: len(x)][0::2][: len(x) // 2]
    stuffed = np.zeros(2 * len(x))
    stuffed[0::2] = x
    return np.convolve(stuffed, 2 * taps)[: len(stuffed)]


@settings(max_examples=60)
@given(
    st.lists(st.integers(0, 90), min_size=1, max_size=12),
    st.booleans(),
)
def test_half_band_any_chunking_equals_the_textbook_filter(sizes: list[int], down: bool) -> None:
    rng = np.random.default_rng(len(sizes))
    x = rng.standard_normal(sum(sizes)).astype(np.float32)
    r = HalfBandResampler(16000, 8000) if down else HalfBandResampler(8000, 16000)
    edges = np.cumsum([0, *sizes])
    out = np.concatenate([r.process_samples(x[a:b]) for a, b in itertools.pairwise(edges)])
    expected = _reference_half_band(x, down)
    assert len(out) == len(expected)  # exact sizes, whatever the chunking
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_half_band_frame_sizes_are_constant() -> None:
    down, up = HalfBandResampler(16000, 8000), HalfBandResampler(8000, 16000)
    for _ in range(5):
        assert len(down.process(bytes(640))) == 320
        assert len(up.process(bytes(320))) == 640


def test_half_band_keeps_the_phone_band_and_removes_what_would_alias() -> None:
    down = HalfBandResampler(16000, 8000)
    for hz, lo, hi in [(300, -0.01, 0.01), (1000, -0.01, 0.01), (3400, -0.01, 0.01)]:
        src = _tone(hz, 16000)
        assert lo < _rms_db(src) - _rms_db(down.process_samples(src)) < hi
    for hz in (4600, 5000, 7000):
        src = _tone(hz, 16000)
        assert _rms_db(src) - _rms_db(down.process_samples(src)) > 70


def test_half_band_interpolation_leaves_no_image() -> None:
    up = HalfBandResampler(8000, 16000)
    out = up.process_samples(_tone(1000, 8000))
    spectrum = np.abs(np.fft.rfft(out[1600:-1600] * np.hanning(len(out) - 3200)))
    freqs = np.fft.rfftfreq(len(out) - 3200, 1 / 16000)
    wanted = spectrum[np.abs(freqs - 1000) < 50].max()
    image = spectrum[np.abs(freqs - 7000) < 50].max()  # what zero-stuffing alone would leave
    assert 20 * np.log10(wanted / image) > 70


def test_half_band_delay_and_reset() -> None:
    up = HalfBandResampler(8000, 16000)
    assert up.delay == pytest.approx(31 / 16000)
    impulse = np.zeros(160, dtype=np.float32)
    impulse[0] = 1.0
    assert int(np.argmax(up.process_samples(impulse))) == 31
    up.process_samples(np.ones(160, dtype=np.float32))
    up.reset()
    assert np.max(np.abs(up.process_samples(np.zeros(160, dtype=np.float32)))) == 0.0


def test_half_band_rejects_other_ratios() -> None:
    with pytest.raises(ValueError, match="2:1"):
        HalfBandResampler(22050, 16000)
    with pytest.raises(ValueError, match="positive"):
        HalfBandResampler(-8000, 16000)
    with pytest.raises(ValueError, match="mono"):
        HalfBandResampler(16000, 8000).process_samples(np.zeros((2, 4), dtype=np.float32))
