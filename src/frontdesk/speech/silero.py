"""Silero VAD v6 run directly with onnxruntime (no torch, no extra wrapper package).

The ONNX file ships inside faster-whisper, so the ``vad`` extra costs no download. The
model is stateful: each call takes 64 samples of context from the previous window plus
512 new samples (32 ms at 16 kHz) and an LSTM state (h, c). Frames arrive at 20 ms, so
we buffer them into 512-sample windows and report the latest window's probability.

One ``InferenceSession`` is shared by every call in the process (it is thread-safe and
~2 MB); the recurrent state lives in each ``SileroVAD`` instance, one per call. The
session runs single-threaded: one window is microseconds of work and many calls run in
parallel, so intra-op threads would only add contention.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from frontdesk.audio.pcm import pcm16_to_float
from frontdesk.speech.base import MissingExtraError
from frontdesk.speech.energy import EnergyVAD

__all__ = ["CONTEXT_SAMPLES", "WINDOW_SAMPLES", "EnergyVAD", "SileroVAD", "load_session"]

WINDOW_SAMPLES = 512  # the v6 model accepts exactly this at 16 kHz (256 at 8 kHz)
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)

_session: Any = None
_session_lock = threading.Lock()


def _model_path() -> Path:
    """Locate the ONNX file without importing faster_whisper (which pulls in ctranslate2)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("Silero VAD", "vad", "faster-whisper")
    for location in spec.submodule_search_locations:
        path = Path(location) / "assets" / "silero_vad_v6.onnx"
        if path.is_file():
            return path
    raise MissingExtraError("Silero VAD", "vad", "faster-whisper")


def load_session() -> Any:
    """Return the process-wide session, creating it on first use (thread-safe).

    Raises ``MissingExtraError`` when onnxruntime or faster-whisper is missing, so a
    misconfigured deployment fails at startup when the factory calls this eagerly.
    """
    global _session
    with _session_lock:
        if _session is None:
            try:
                import onnxruntime
            except ImportError as exc:
                raise MissingExtraError("Silero VAD", "vad", "onnxruntime") from exc
            path = _model_path()
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 4
            _session = onnxruntime.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        return _session


# Frames quieter than this are not run through the model: far below any speech on a
# phone line (-40..-10 dBFS), at or below a line's idle noise. Most of a call is the
# caller listening, and the model costs ~80 us a frame; one process carries 100+ calls.
QUIET_DBFS = -60.0


class SileroVAD:
    """Per-call streaming Silero detector fed with consecutive 20 ms s16le frames.

    ``quiet_dbfs``: frames below this level score 0.0 without running the model (None:
    run it on everything, as the reference does)."""

    def __init__(self, quiet_dbfs: float | None = QUIET_DBFS) -> None:
        self._session = load_session()
        self._quiet_power = None if quiet_dbfs is None else 10 ** (quiet_dbfs / 10)
        self.reset()

    def reset(self) -> None:
        """Forget the audio history (new call, or after the far end's audio was cut)."""
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._probability = 0.0

    def speech_probability(self, frame: bytes) -> float:
        """Feed one frame; return the probability of the most recent complete window.

        Until the first 512 samples have arrived the answer is 0.0 (nothing decided yet).
        Frames of any length work; the engine sends 320 samples.
        """
        samples = pcm16_to_float(frame)
        if self._quiet_power is not None and samples.size and \
                float(np.dot(samples, samples)) / samples.size < self._quiet_power:
            # the window in progress and the context are near silence too: start afresh
            self._pending = self._pending[:0]
            self._context[:] = 0.0
            self._probability = 0.0
            return 0.0
        self._pending = np.concatenate([self._pending, samples])
        while self._pending.size >= WINDOW_SAMPLES:
            window = self._pending[:WINDOW_SAMPLES]
            self._pending = self._pending[WINDOW_SAMPLES:]
            self._probability = self._run(window)
        return self._probability

    def _run(self, window: np.ndarray) -> float:
        batch = np.concatenate([self._context, window])[np.newaxis, :]
        probs, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = window[-CONTEXT_SAMPLES:]
        return float(np.asarray(probs).reshape(-1)[0])
