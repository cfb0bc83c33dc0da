"""EnergyVAD: level over an adaptive noise floor."""

from __future__ import annotations

import numpy as np

from frontdesk.audio import FRAME_BYTES, float_to_pcm16, split_frames
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import tone_utterance


def _noise(seconds: float, dbfs: float, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    return float_to_pcm16(rng.standard_normal(int(16000 * seconds)) * 10 ** (dbfs / 20))


def test_silence_is_never_speech() -> None:
    vad = EnergyVAD()
    assert all(vad.speech_probability(bytes(FRAME_BYTES)) == 0.0 for _ in range(100))


def test_tone_utterance_after_quiet_room_is_speech() -> None:
    vad = EnergyVAD()
    for frame in split_frames(_noise(1.0, -60)):
        assert vad.speech_probability(frame) < 0.5
    probs = [vad.speech_probability(f) for f in split_frames(tone_utterance(2000))]
    assert np.mean(np.array(probs) > 0.5) > 0.95


def test_steady_noise_stops_counting_as_speech() -> None:
    vad = EnergyVAD()
    probs = [vad.speech_probability(f) for f in split_frames(_noise(6.0, -30))]
    assert probs[0] > 0.5  # a sudden new noise looks like speech at first ...
    assert max(probs[-50:]) < 0.5  # ... and is background once the floor has adapted
    assert -36 < vad.noise_floor_dbfs < -28


def test_floor_barely_moves_during_speech() -> None:
    vad = EnergyVAD()
    for frame in split_frames(_noise(1.0, -60)):
        vad.speech_probability(frame)
    before = vad.noise_floor_dbfs
    for frame in split_frames(tone_utterance(3000)):
        vad.speech_probability(frame)
    assert vad.noise_floor_dbfs - before < 6


def test_reset_restores_the_initial_floor() -> None:
    vad = EnergyVAD()
    initial = vad.noise_floor_dbfs
    for frame in split_frames(_noise(3.0, -30)):
        vad.speech_probability(frame)
    assert vad.noise_floor_dbfs != initial
    vad.reset()
    assert vad.noise_floor_dbfs == initial
