"""PhoneAudio: line μ-law 8 kHz <-> engine 16 kHz frames, exact sizes, clean filtering."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.audio import FRAME_BYTES, ULAW_SILENCE, ulaw_decode
from frontdesk.telephony.codec import LINE_FRAME_BYTES, PhoneAudio


def _tone_pcm(hz: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amp * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def _rms_db(x: np.ndarray) -> float:
    core = x[len(x) // 10 : -len(x) // 10]  # skip the filters' start-up
    return 20 * float(np.log10(np.sqrt(np.mean(np.square(core))) + 1e-9))


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def _encode_all(audio: PhoneAudio, pcm: bytes) -> bytes:
    return b"".join(audio.encode(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES))


def test_a_1khz_tone_survives_the_round_trip_with_frequency_and_level() -> None:
    src = _tone_pcm(1000, 16000)
    line = _encode_all(PhoneAudio(), src)
    assert len(line) == 8000
    assert _peak_hz(_samples(ulaw_decode(line)), 8000) == pytest.approx(1000, abs=2)
    back = b"".join(PhoneAudio().decode(line))
    assert len(back) == len(src)
    assert _peak_hz(_samples(back), 16000) == pytest.approx(1000, abs=2)
    assert abs(_rms_db(_samples(back)) - _rms_db(_samples(src))) < 0.3


def test_a_5khz_tone_is_filtered_out_not_folded_to_3khz() -> None:
    src = _tone_pcm(5000, 16000)
    line = _samples(ulaw_decode(_encode_all(PhoneAudio(), src)))
    # Taking every other sample would put the full tone at 3 kHz, in the speech band.
    assert _rms_db(_samples(src)) - _rms_db(line) > 40


def test_encode_returns_exactly_one_line_frame_for_every_engine_frame() -> None:
    audio = PhoneAudio()
    frames = [bytes(FRAME_BYTES), _tone_pcm(440, 16000, 0.02), b"\xff\x7f" * 320]
    assert [len(audio.encode(f)) for f in frames] == [LINE_FRAME_BYTES] * 3
    assert audio.encode(bytes(FRAME_BYTES)) != b""  # from the first call on: no priming gap
    with pytest.raises(ValueError, match="640"):
        audio.encode(bytes(FRAME_BYTES - 2))


def test_latency_is_the_filter_delay_from_the_first_frame_on() -> None:
    """A click comes out 31 engine samples (~2 ms) later, in frame 0 as in frame 5."""
    audio = PhoneAudio()
    out = []
    for n in range(8):
        frame = np.zeros(FRAME_BYTES // 2, dtype="<i2")
        if n in (0, 5):
            frame[100] = 20000
        out.append(audio.encode(frame.tobytes()))
    line = np.abs(_samples(ulaw_decode(b"".join(out))))
    first, second = (int(np.argmax(line[i * 160 : (i + 1) * 160])) for i in (0, 5))
    assert first == second == (100 + 31) // 2


@settings(max_examples=80)
@given(st.lists(st.integers(0, 700), max_size=15))
def test_decode_frames_are_exact_and_independent_of_chunking(sizes: list[int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    line = rng.integers(0, 256, sum(sizes), dtype=np.uint8).tobytes()
    chunked, whole = PhoneAudio(), PhoneAudio()
    frames: list[bytes] = []
    offset = 0
    for size in sizes:
        frames += chunked.decode(line[offset : offset + size])
        offset += size
    assert all(len(f) == FRAME_BYTES for f in frames)
    assert frames == whole.decode(line)
    assert len(frames) * FRAME_BYTES + chunked.pending_bytes == 4 * len(line)


@settings(max_examples=30)
@given(st.lists(st.binary(min_size=FRAME_BYTES, max_size=FRAME_BYTES), max_size=10))
def test_encode_sizes_are_exact_for_any_audio(frames: list[bytes]) -> None:
    audio = PhoneAudio()
    assert all(len(audio.encode(f)) == LINE_FRAME_BYTES for f in frames)


def test_one_line_frame_decodes_to_one_engine_frame() -> None:
    audio = PhoneAudio()
    for _ in range(3):
        frames = audio.decode(bytes([ULAW_SILENCE]) * LINE_FRAME_BYTES)
        assert [len(f) for f in frames] == [FRAME_BYTES]
    assert audio.pending_bytes == 0
    assert audio.decode(b"") == []


def test_reset_output_keeps_cleared_audio_out_of_the_next_reply() -> None:
    loud = b"\xff\x7f" * (FRAME_BYTES // 2)  # full-scale positive samples
    silence = bytes(FRAME_BYTES)
    bleeding = PhoneAudio()
    bleeding.encode(loud)
    assert bleeding.encode(silence) != bytes([ULAW_SILENCE]) * LINE_FRAME_BYTES
    clean = PhoneAudio()
    clean.encode(loud)
    clean.reset_output()
    assert clean.encode(silence) == bytes([ULAW_SILENCE]) * LINE_FRAME_BYTES
