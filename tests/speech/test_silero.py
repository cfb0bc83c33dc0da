"""Silero VAD through onnxruntime on real TTS speech, silence and noise."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from frontdesk.audio import FRAME_BYTES, float_to_pcm16, frame_dbfs, split_frames
from frontdesk.speech import silero
from frontdesk.speech.base import MissingExtraError
from frontdesk.speech.silero import SileroVAD


def _probs(vad: SileroVAD, pcm: bytes) -> list[float]:
    return [vad.speech_probability(f) for f in split_frames(pcm)]


def test_speech_is_detected(oil_change_pcm: bytes) -> None:
    frames = split_frames(oil_change_pcm)
    vad = SileroVAD()
    probs = np.array([vad.speech_probability(f) for f in frames])
    voiced = np.array([frame_dbfs(f) > -35 for f in frames])
    assert voiced.sum() > 50
    assert probs[voiced].mean() > 0.6
    assert (probs[voiced] > 0.5).mean() > 0.7


def test_digital_silence_is_not_speech() -> None:
    probs = _probs(SileroVAD(), bytes(FRAME_BYTES * 100))
    assert max(probs) < 0.1


def test_white_noise_is_mostly_not_speech() -> None:
    rng = np.random.default_rng(1234)
    noise = rng.standard_normal(16000 * 3) * 10 ** (-30 / 20)
    probs = np.array(_probs(SileroVAD(), float_to_pcm16(noise)))
    assert (probs > 0.5).mean() < 0.1


def test_first_frame_has_no_decision_and_second_completes_a_window(
    oil_change_pcm: bytes,
) -> None:
    frames = split_frames(oil_change_pcm)[40:42]  # inside the speech
    vad = SileroVAD()
    assert vad.speech_probability(frames[0]) == 0.0  # 320 of 512 samples
    assert vad.speech_probability(frames[1]) > 0.0  # 640 samples: one window decided


def test_reset_forgets_history(oil_change_pcm: bytes) -> None:
    frames = split_frames(oil_change_pcm)[:60]
    used = SileroVAD()
    _probs(used, oil_change_pcm)
    used.reset()
    fresh = SileroVAD()
    assert [used.speech_probability(f) for f in frames] == [
        fresh.speech_probability(f) for f in frames
    ]


def test_instances_share_one_session_but_not_state(oil_change_pcm: bytes) -> None:
    a, b = SileroVAD(), SileroVAD()
    assert a._session is b._session
    _probs(a, oil_change_pcm)
    assert b.speech_probability(SILENCE := bytes(FRAME_BYTES)) == 0.0
    assert b.speech_probability(SILENCE) < 0.1


def test_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(silero, "_session", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"onnxruntime.*frontdesk\[vad\]"):
        SileroVAD()


def test_missing_faster_whisper_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(silero, "_session", None)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(MissingExtraError, match=r"faster-whisper.*frontdesk\[vad\]"):
        SileroVAD()


def test_streaming_matches_faster_whisper_batched_reference(oil_change_pcm: bytes) -> None:
    """Carrying h/c and the 64-sample context window by window equals the batched run."""
    from faster_whisper.vad import SileroVADModel

    samples = np.frombuffer(oil_change_pcm, dtype="<i2").astype(np.float32) / 32768
    samples = samples[: len(samples) // 512 * 512]
    reference = np.asarray(SileroVADModel(str(silero._model_path()))(samples)).reshape(-1)
    vad = SileroVAD(quiet_dbfs=None)
    streamed = [
        vad.speech_probability(float_to_pcm16(samples[i : i + 512]))
        for i in range(0, len(samples), 512)
    ]
    assert len(streamed) == len(reference) > 50
    np.testing.assert_allclose(streamed, reference, atol=1e-4)


def test_quiet_frames_skip_the_model_and_speech_after_them_is_still_heard(
    oil_change_pcm: bytes,
) -> None:
    rng = np.random.default_rng(7)
    hiss = float_to_pcm16(rng.standard_normal(16000) * 10 ** (-70 / 20))  # line noise
    vad = SileroVAD()
    calls = 0
    run = vad._run

    def counted(window: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        return run(window)

    vad._run = counted  # type: ignore[method-assign]
    assert max(_probs(vad, hiss)) == 0.0 and calls == 0
    frames = split_frames(oil_change_pcm)
    probs = np.array([vad.speech_probability(f) for f in frames])
    voiced = np.array([frame_dbfs(f) > -35 for f in frames])
    assert calls > 0 and (probs[voiced] > 0.5).mean() > 0.7
