"""Sample-rate conversion with an anti-aliasing filter.

Naive decimation (taking every n-th sample) folds everything above the new Nyquist back
into the speech band; on a phone line that is audible hiss and confuses the VAD. soxr's
high-quality mode filters first, and is fast enough to run per TTS sentence (``resample``,
and ``StreamResampler`` for chunked streams). Live 20 ms line frames need a constant, small
delay instead, which soxr's block processing cannot give: ``HalfBandResampler``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from frontdesk.audio.pcm import Samples, float_to_pcm16, pcm16_to_float


def resample(samples: npt.ArrayLike, src_rate: int, dst_rate: int) -> Samples:
    """Return mono float32 ``samples`` converted from ``src_rate`` to ``dst_rate`` Hz.

    Equal rates return the input as float32 unchanged (no filtering, no copy if it
    already is float32), so callers can resample unconditionally.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"resample expects mono 1-D audio, got shape {audio.shape}")
    if src_rate == dst_rate or audio.size == 0:
        return audio
    out = soxr.resample(audio, src_rate, dst_rate, quality="HQ")
    return np.asarray(out, dtype=np.float32)


class StreamResampler:
    """soxr's high-quality resampler for a stream cut into chunks, filter state kept between them.

    Use it for audio that arrives in bursts larger than the filter, such as TTS output at
    22.05 or 24 kHz: soxr HQ computes its filter in ~100 ms blocks, so output lags input by up
    to that much and comes out in uneven lumps (measured at 16 -> 8 kHz with 20 ms chunks: a
    first output after 120 ms, then ~830 samples every ~100 ms). That is harmless for a
    synthesizer that runs ahead of real time, and wrong for live 20 ms line frames: those use
    ``HalfBandResampler``, which has 2 ms of delay and a constant output size.

    ``flush`` at the end of an utterance releases the held tail; ``reset`` drops it (after a
    barge-in, so cleared audio cannot come out at the start of the next reply).
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = (
            None
            if src_rate == dst_rate
            else soxr.ResampleStream(src_rate, dst_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, pcm: bytes) -> bytes:
        """Resample s16le bytes; the output length varies with what the filter holds back."""
        if self._stream is None:
            if len(pcm) % 2:
                raise ValueError(f"s16le PCM must have an even byte count, got {len(pcm)}")
            return bytes(pcm)
        return float_to_pcm16(self.process_samples(pcm16_to_float(pcm)))

    def process_samples(self, samples: npt.ArrayLike) -> Samples:
        """Resample mono float samples (any scale; the filter is linear)."""
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"StreamResampler expects mono 1-D audio, got shape {audio.shape}")
        if self._stream is None:
            return audio
        return np.asarray(self._stream.resample_chunk(audio), dtype=np.float32)

    def flush(self) -> bytes:
        """Return the held tail as s16le and start afresh (end of a continuous stream)."""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream.clear()
        return float_to_pcm16(tail)

    def reset(self) -> None:
        """Drop the filter state and whatever it holds back."""
        if self._stream is not None:
            self._stream.clear()


_HALF_BAND_TAPS = 63
_HALF_BAND_CENTER = (_HALF_BAND_TAPS - 1) // 2
_HALF_BAND_KAISER_BETA = 7.3


def _design_half_band() -> npt.NDArray[np.float64]:
    """A 63-tap Kaiser-windowed half-band low-pass at a quarter of the high rate.

    At 16 kHz: flat to 3.4 kHz (ripple < 0.002 dB), >= 73 dB down from 4.6 kHz, so nothing
    that folds into the 300-3400 Hz telephone band survives. A half-band filter has every
    other tap exactly zero except the centre (0.5), which is what makes the polyphase form
    in ``HalfBandResampler`` cost only 32 multiplies per output sample.
    """
    offsets = np.arange(_HALF_BAND_TAPS) - _HALF_BAND_CENTER
    taps: npt.NDArray[np.float64] = (
        0.5 * np.sinc(0.5 * offsets) * np.kaiser(_HALF_BAND_TAPS, _HALF_BAND_KAISER_BETA)
    )
    odd = offsets % 2 == 1
    taps[~odd] = 0.0
    taps[odd] *= 0.5 / taps[odd].sum()  # exact unity gain at DC
    taps[_HALF_BAND_CENTER] = 0.5
    return taps


_HALF_BAND = _design_half_band()
# With an odd centre (31), the non-zero off-centre taps sit at even indices. The filter is
# symmetric, so correlating with these taps is the same as convolving (and cheaper in numpy).
_EVEN_TAPS = _HALF_BAND[0::2].astype(np.float32)
_UP_TAPS = 2 * _EVEN_TAPS  # zero-stuffing halves the level; the doubled taps restore it
_UP_HISTORY = len(_EVEN_TAPS) - 1
_UP_ODD_DELAY = _HALF_BAND_CENTER // 2  # input samples behind the newest, for odd outputs
_DOWN_HISTORY = 2 * _UP_HISTORY


class HalfBandResampler:
    """Exact 2:1 or 1:2 rate change for live frames: constant size out, 31 samples of delay.

    The phone line is 8 kHz and the engine 16 kHz, a ratio of exactly two, so a fixed
    linear-phase FIR does the job with ~2 ms of delay and no block buffering: every 320
    samples in give exactly 160 out (and 160 give 320), which is what keeps one outbound
    line frame per engine frame. A stream of odd length carries one sample to the next call.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
        if src_rate == 2 * dst_rate:
            self._down = True
        elif dst_rate == 2 * src_rate:
            self._down = False
        else:
            raise ValueError(f"HalfBandResampler needs a 2:1 ratio, got {src_rate} -> {dst_rate}")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self.reset()

    @property
    def delay(self) -> float:
        """Group delay in seconds (the same both ways: 31 samples at the high rate)."""
        return _HALF_BAND_CENTER / max(self.src_rate, self.dst_rate)

    def reset(self) -> None:
        """Forget the past input: the filter starts again from silence."""
        self._tail = np.zeros(_DOWN_HISTORY if self._down else _UP_HISTORY, dtype=np.float32)

    def process(self, pcm: bytes) -> bytes:
        """Resample s16le bytes: exactly twice or half the samples (modulo an odd carry)."""
        if len(pcm) % 2:
            raise ValueError(f"s16le PCM must have an even byte count, got {len(pcm)}")
        out = self.process_samples(np.frombuffer(pcm, dtype="<i2").astype(np.float32))
        return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()

    def process_samples(self, samples: npt.ArrayLike) -> Samples:
        """Resample mono float samples (any scale; the filter is linear)."""
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"HalfBandResampler expects mono 1-D audio, got shape {audio.shape}")
        buf = np.concatenate((self._tail, audio))
        return self._decimate(buf) if self._down else self._interpolate(buf)

    def _interpolate(self, buf: Samples) -> Samples:
        # Zero-stuffing then filtering splits into two phases: even outputs are the even taps
        # (doubled) over the input; odd outputs meet only the centre tap (2 * 0.5 = 1), i.e.
        # they are the input delayed by 15 samples.
        n = len(buf) - _UP_HISTORY
        self._tail = buf[n:]
        out = np.empty(2 * n, dtype=np.float32)
        if n:  # np.correlate would swap its arguments on a too-short input
            out[0::2] = np.correlate(buf, _UP_TAPS, mode="valid")
            start = _UP_HISTORY - _UP_ODD_DELAY
            out[1::2] = buf[start : start + n]
        return out

    def _decimate(self, buf: Samples) -> Samples:
        # Output m = sum_k h[k] x[2m-k]: the even taps meet the even samples, and the only odd
        # tap (the centre, 0.5) meets one odd sample, 31 back from the newest.
        pairs = (len(buf) - _DOWN_HISTORY) // 2
        self._tail = buf[2 * pairs :]  # the history plus an unpaired sample, if any
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        out = np.correlate(buf[0 : _DOWN_HISTORY + 2 * pairs : 2], _EVEN_TAPS, mode="valid")
        centre = buf[_HALF_BAND_CENTER : _HALF_BAND_CENTER + 2 * pairs : 2]
        out += np.float32(0.5) * centre
        return out
