"""G.711 μ-law matches the reference tables and stays within its quantization error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.audio import ULAW_SILENCE, int16_to_ulaw, ulaw_decode, ulaw_encode, ulaw_to_int16

with warnings.catch_warnings():
    # audioop is deprecated (gone in 3.13); here it is only the reference oracle.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int64)
ALL_PCM = ALL_SAMPLES.astype("<i2").tobytes()
LOUDEST_LEVEL = 32124  # the largest magnitude μ-law can code


def test_decode_table_matches_audioop_for_all_256_codes() -> None:
    codes = bytes(range(256))
    assert ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)


def test_encode_matches_audioop_for_every_16_bit_sample() -> None:
    assert ulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM, 2)


def test_well_known_codes() -> None:
    assert ulaw_encode(np.array([0, 32767, -32768], dtype="<i2").tobytes()) == b"\xff\x80\x00"
    assert ulaw_encode(bytes(2)) == bytes([ULAW_SILENCE])
    decoded = np.frombuffer(ulaw_decode(b"\xff\x7f\x80\x00"), dtype="<i2")
    assert decoded.tolist() == [0, 0, LOUDEST_LEVEL, -LOUDEST_LEVEL]


def test_array_helpers_agree_with_the_byte_functions() -> None:
    codes = bytes(range(256))
    samples = ulaw_to_int16(codes)
    assert samples.dtype == np.int16
    assert samples.astype("<i2").tobytes() == ulaw_decode(codes)
    assert int16_to_ulaw(samples) == ulaw_encode(ulaw_decode(codes))


def test_lengths_and_odd_input() -> None:
    assert ulaw_decode(b"") == b"" and ulaw_encode(b"") == b""
    assert len(ulaw_decode(bytes(160))) == 320
    assert len(ulaw_encode(bytes(640))) == 320
    with pytest.raises(ValueError, match="even"):
        ulaw_encode(bytes(3))


@given(st.integers(0, 255))
def test_encode_of_decode_is_identity_except_negative_zero(code: int) -> None:
    # 0x7F and 0xFF both mean zero; zero is coded as 0xFF.
    expected = ULAW_SILENCE if code == 0x7F else code
    assert ulaw_encode(ulaw_decode(bytes([code]))) == bytes([expected])


def test_encode_of_decode_for_all_256_codes_at_once() -> None:
    codes = bytes(c for c in range(256) if c != 0x7F)
    assert ulaw_encode(ulaw_decode(codes)) == codes


@given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=400))
def test_round_trip_error_is_within_mu_law_quantization(values: list[int]) -> None:
    x = np.array(values, dtype=np.int64)
    y = np.frombuffer(ulaw_decode(ulaw_encode(x.astype("<i2").tobytes())), dtype="<i2")
    y = y.astype(np.int64)
    in_range = np.abs(x) <= LOUDEST_LEVEL
    # 4 mantissa bits: the step is 1/16 of the segment, so the error is about 1/32 of
    # the value, plus a small constant in the finest segment.
    assert np.all(np.abs(y - x)[in_range] <= np.abs(x[in_range]) // 32 + 8)
    # Beyond the loudest level the codec saturates; the sign survives.
    assert np.all(y[~in_range] == np.sign(x[~in_range]) * LOUDEST_LEVEL)


def test_the_error_bound_is_tight_over_every_sample() -> None:
    """The hypothesis bound above is checked exhaustively, and it is not slack."""
    y = np.frombuffer(ulaw_decode(ulaw_encode(ALL_PCM)), dtype="<i2").astype(np.int64)
    in_range = np.abs(ALL_SAMPLES) <= LOUDEST_LEVEL
    slack = (np.abs(ALL_SAMPLES) // 32 + 8 - np.abs(y - ALL_SAMPLES))[in_range]
    assert slack.min() == 0
