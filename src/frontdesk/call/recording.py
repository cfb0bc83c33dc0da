"""Local call recording with consent: one stereo WAV per call (left = caller, right = agent,
16 kHz s16le), started only once the caller has heard the disclosure in full.

The tap sits on the two audio seams of a Call, never inside it: it wraps the inbound
iterator (caller frames) and the ``AudioOutput`` (agent frames), and follows the consent
story on the event bus:

* ``AgentTurnDone`` whose *played* text holds the whole disclosure → recording starts.
  Played text is the engine's account of what reached the caller, so a disclosure cut by
  barge-in does not count (the brain repeats it at the start of its next reply).
* ``RecordingOptOut`` (the caller said "don't record this") → writing stops in that very
  event, and the partial file is deleted: the caller asked not to be recorded, and keeping
  the audio up to that moment would keep exactly what they objected to.

Timing. The caller's line is the clock: each caller frame is paired with the oldest agent
frame written and not yet paired (or silence), so both channels advance at the line's 20 ms
pace. Agent frames are taken once ``write`` returned (the line accepted them); a barge-in's
``clear`` takes the frames it reports unplayed back off the queue, but a frame already
paired with a caller frame stays: on a paced line the recording may hold at most one
frame (20 ms) of agent audio the caller never heard.

Nothing here blocks the audio path: the hooks only append to memory, and one writer task
per call does every file and database operation in a worker thread, in order.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import re
import threading
import time
import wave
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from frontdesk.audio import FRAME_BYTES, SAMPLE_RATE, SILENCE_FRAME
from frontdesk.call.engine import AudioOutput
from frontdesk.call.events import (
    AgentTurnDone,
    EventBus,
    RecordingDisclosed,
    RecordingOptOut,
    RecordingStarted,
    RecordingStopped,
)
from frontdesk.call.inbound import AudioIn, Inbound
from frontdesk.profile.models import Recording
from frontdesk.store import (
    RECORDING_OFF,
    RECORDING_PENDING,
    RECORDING_RECORDING,
    RECORDING_SAVED,
    RECORDING_STOPPED_BY_CALLER,
    BusinessStore,
)

__all__ = ["BATCH_FRAMES", "CallRecording"]

BATCH_FRAMES = 25  # stereo frames held in memory before a write (0.5 s)


@dataclasses.dataclass(frozen=True)
class _Note:
    kind: str
    data: dict[str, Any]
    at: datetime


@dataclasses.dataclass(frozen=True)
class _Start:
    path: Path
    at: datetime


@dataclasses.dataclass(frozen=True)
class _Audio:
    pairs: tuple[tuple[bytes, bytes], ...]  # (caller frame, agent frame)


@dataclasses.dataclass(frozen=True)
class _Discard:
    turn: int
    at: datetime


@dataclasses.dataclass(frozen=True)
class _Finish:
    state: str  # the tap's state when the call ended
    at: datetime


_Command = _Note | _Start | _Audio | _Discard | _Finish


class CallRecording:
    """The recording of one call. ``tap_output``/``tap_inbound`` wrap the seams, ``run`` is
    the writer task (owned by the call's TaskGroup), ``close`` ends it after the call."""

    def __init__(
        self,
        config: Recording,
        store: BusinessStore,
        call_id: str,
        bus: EventBus,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config
        self.store = store
        self.call_id = call_id
        self.path = config.directory / store.business_id / f"{_safe(call_id)}.wav"
        self.state = RECORDING_PENDING if config.enabled else RECORDING_OFF
        self.drained = asyncio.Event()
        self._bus = bus
        self._now = now
        self._clock = clock
        self._closed = False
        self._agent: collections.deque[bytes] = collections.deque()  # written, not paired
        self._batch: list[tuple[bytes, bytes]] = []
        self._queue: asyncio.Queue[_Command] = asyncio.Queue()
        self._wav: wave.Wave_write | None = None  # touched only under _lock, in a thread
        self._lock = threading.Lock()
        if config.enabled:
            bus.subscribe(AgentTurnDone, self._on_turn_done)
            bus.subscribe(RecordingOptOut, self._on_opt_out)

    # -- the seams ---------------------------------------------------------------------

    def tap_output(self, output: AudioOutput) -> AudioOutput:
        return _TappedOutput(output, self) if self.config.enabled else output

    def tap_inbound(self, inbound: AsyncIterator[Inbound]) -> AsyncIterator[Inbound]:
        return _TappedInbound(inbound, self) if self.config.enabled else inbound

    def _caller_frame(self, frame: bytes) -> None:
        if self.state != RECORDING_RECORDING or self._closed:
            return
        agent = self._agent.popleft() if self._agent else SILENCE_FRAME
        self._batch.append((frame, agent))
        if len(self._batch) >= BATCH_FRAMES:
            self._flush()

    def _agent_frame(self, frame: bytes) -> None:
        if self.state == RECORDING_RECORDING and not self._closed:
            self._agent.append(frame)

    def _agent_cleared(self, unplayed: int) -> None:
        for _ in range(min(unplayed, len(self._agent))):
            self._agent.pop()  # the newest frames are the ones the line dropped

    def _flush(self) -> None:
        if self._batch:
            self._queue.put_nowait(_Audio(tuple(self._batch)))
            self._batch = []

    # -- consent -----------------------------------------------------------------------

    def _on_turn_done(self, event: AgentTurnDone) -> None:
        if self.state != RECORDING_PENDING or self._closed:
            return
        if self.config.heard_in(event.played_text):
            self.state = RECORDING_RECORDING
            at = self._now()
            self._queue.put_nowait(_Note("recording.disclosed",
                                         {"turn": event.turn, "text": self.config.disclosure}, at))
            self._queue.put_nowait(_Start(self.path, at))
            self._bus.publish(RecordingDisclosed(event.turn, self._clock()))
            self._bus.publish(RecordingStarted(str(self.path), self._clock()))
        elif self.config.heard_in(event.planned_text):
            self._queue.put_nowait(_Note("recording.disclosure_interrupted",
                                         {"turn": event.turn, "played": event.played_text},
                                         self._now()))

    def _on_opt_out(self, event: RecordingOptOut) -> None:
        if self.state not in (RECORDING_PENDING, RECORDING_RECORDING) or self._closed:
            return
        self.state = RECORDING_STOPPED_BY_CALLER  # from this frame on nothing is kept
        self._batch.clear()
        self._agent.clear()
        self._queue.put_nowait(_Discard(event.turn, self._now()))
        self._bus.publish(RecordingStopped(by_caller=True, at=self._clock()))

    # -- the writer --------------------------------------------------------------------

    def close(self) -> None:
        """The call is over: what was written is kept (agent frames still queued go in
        against caller silence), then the writer records the final state and stops."""
        if self._closed:
            return
        if self.state == RECORDING_RECORDING:
            self._batch.extend((SILENCE_FRAME, agent) for agent in self._agent)
            self._agent.clear()
            self._flush()
        self._closed = True
        self._queue.put_nowait(_Finish(self.state, self._now()))

    async def run(self) -> None:
        initial = RECORDING_PENDING if self.config.enabled else RECORDING_OFF
        try:
            await asyncio.to_thread(self.store.set_recording, self.call_id, state=initial)
            finished = False
            while not finished:
                commands = [await self._queue.get()]
                while not self._queue.empty():
                    commands.append(self._queue.get_nowait())
                finished = await asyncio.to_thread(self._apply, commands)
            if self.state == RECORDING_RECORDING:
                self.state = RECORDING_SAVED
                self._bus.publish(RecordingStopped(by_caller=False, at=self._clock()))
        except asyncio.CancelledError:
            # torn down mid-call: finish the WAV header so the file stays playable (the
            # row keeps saying "recording" with its path), then let the cancel through
            await asyncio.shield(asyncio.to_thread(self._close_file))
            raise
        finally:
            self.drained.set()

    def _apply(self, commands: list[_Command]) -> bool:
        """In a worker thread: file and store work, in queue order; True after _Finish."""
        with self._lock:
            for command in commands:
                match command:
                    case _Audio(pairs=pairs):
                        if self._wav is not None:
                            self._wav.writeframes(_interleave(pairs))
                    case _Note(kind=kind, data=data, at=at):
                        self.store.add_call_event(self.call_id, kind, data, at=at)
                    case _Start(path=path, at=at):
                        self._open(path)
                        self.store.set_recording(self.call_id, state=RECORDING_RECORDING,
                                                 path=str(path))
                        self.store.add_call_event(self.call_id, "recording.started",
                                                  {"path": str(path)}, at=at)
                    case _Discard(turn=turn, at=at):
                        deleted = self._wav is not None
                        self._close_wav()
                        self.path.unlink(missing_ok=True)
                        self.store.set_recording(self.call_id, state=RECORDING_STOPPED_BY_CALLER)
                        self.store.add_call_event(self.call_id, "recording.stopped_by_caller",
                                                  {"turn": turn, "deleted_file": deleted}, at=at)
                    case _Finish(state=state, at=at):
                        self._finish(state, at)
                        return True
        return False

    def _finish(self, state: str, at: datetime) -> None:
        if state == RECORDING_RECORDING:
            seconds = self._close_wav()
            self.store.set_recording(self.call_id, state=RECORDING_SAVED, path=str(self.path))
            self.store.add_call_event(self.call_id, "recording.saved",
                                      {"path": str(self.path), "seconds": seconds}, at=at)
        elif state == RECORDING_PENDING:  # the call ended before the disclosure was heard
            self.store.set_recording(self.call_id, state=RECORDING_OFF)
            self.store.add_call_event(self.call_id, "recording.not_started",
                                      {"reason": "disclosure not heard"}, at=at)

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        wav = wave.open(str(path), "wb")  # closed by _close_wav, at the end or on opt-out
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        self._wav = wav

    def _close_wav(self) -> float:
        """Close the file (the header gets its final length); its duration in seconds."""
        wav, self._wav = self._wav, None
        if wav is None:
            return 0.0
        frames = wav.getnframes()
        wav.close()
        return round(frames / SAMPLE_RATE, 3)

    def _close_file(self) -> None:
        with self._lock:
            self._close_wav()


class _TappedOutput:
    """The Call's ``AudioOutput``, reporting each frame the line accepted to the tap."""

    def __init__(self, inner: AudioOutput, tap: CallRecording) -> None:
        self._inner = inner
        self._tap = tap

    async def write(self, frame: bytes) -> None:
        await self._inner.write(frame)
        self._tap._agent_frame(frame)

    def clear(self) -> int:
        unplayed = self._inner.clear()
        self._tap._agent_cleared(unplayed)
        return unplayed


class _TappedInbound:
    """The transport's inbound items, unchanged, with each caller frame shown to the tap
    first. A plain iterator (not a generator), so nothing is left to finalise when the
    Call stops reading."""

    def __init__(self, inner: AsyncIterator[Inbound], tap: CallRecording) -> None:
        self._inner = inner
        self._tap = tap

    def __aiter__(self) -> _TappedInbound:
        return self

    async def __anext__(self) -> Inbound:
        item = await anext(self._inner)
        if isinstance(item, AudioIn):
            self._tap._caller_frame(item.frame)
        return item


def _interleave(pairs: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """Stereo s16le from (left, right) mono frames; short frames are padded with silence."""
    left = np.frombuffer(b"".join(c.ljust(FRAME_BYTES, b"\0")[:FRAME_BYTES] for c, _ in pairs),
                         dtype="<i2")
    right = np.frombuffer(b"".join(a.ljust(FRAME_BYTES, b"\0")[:FRAME_BYTES] for _, a in pairs),
                          dtype="<i2")
    return np.column_stack((left, right)).tobytes()


def _safe(call_id: str) -> str:
    """A file name from a call id that may come from a carrier: no separators, no dots."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id) or "call"
