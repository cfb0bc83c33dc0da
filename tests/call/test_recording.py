"""The recording tap on its own: consent gating, the stereo file, opt-out and the store.

The tap is driven through its two seams (a tapped output, a tapped inbound iterator) and
the events the Call would publish; the store is a real SQLite file and the WAV is read
back with the stdlib ``wave`` module.
"""

from __future__ import annotations

import asyncio
import threading
import wave
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from frontdesk.audio import FRAME_SAMPLES
from frontdesk.call.events import (
    AgentTurnDone,
    CallEvent,
    EventBus,
    RecordingDisclosed,
    RecordingOptOut,
    RecordingStarted,
    RecordingStopped,
)
from frontdesk.call.inbound import AudioIn, DtmfIn, Inbound
from frontdesk.call.recording import BATCH_FRAMES, CallRecording
from frontdesk.profile.models import Recording
from frontdesk.store import BusinessStore, Store, open_store

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
DISCLOSURE = "This call is recorded for quality and training."


def tone(level: int) -> bytes:
    """A frame whose every sample is ``level``: each frame is recognisable in the file."""
    return np.full(FRAME_SAMPLES, level, dtype="<i2").tobytes()


class Line:
    """An AudioOutput that accepts every frame; ``clear`` reports ``unplayed`` frames."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.unplayed = 0

    async def write(self, frame: bytes) -> None:
        self.written.append(frame)

    def clear(self) -> int:
        return self.unplayed


class Harness:
    def __init__(self, store: BusinessStore, config: Recording) -> None:
        self.call_id = store.create_call("+15125551234", "+15125550100", started_at=T0).id
        self.store = store
        self.bus = EventBus()
        self.events: list[CallEvent] = []
        self.bus.subscribe_all(self.events.append)
        self.rec = CallRecording(config, store, self.call_id, self.bus, now=lambda: T0)
        self.line = Line()
        self.output = self.rec.tap_output(self.line)

    async def caller(self, *frames: bytes) -> None:
        """Frames through the tapped inbound iterator, as the Call would read them."""
        async def source() -> AsyncIterator[Inbound]:
            for frame in frames:
                yield AudioIn(frame)

        async for _ in self.rec.tap_inbound(source()):
            pass

    def turn_done(self, turn: int, played: str, planned: str | None = None) -> None:
        self.bus.publish(AgentTurnDone(turn, planned or played, played,
                                       planned is not None, 0.0))

    async def run(self, script: Any) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.rec.run())
            await script()
            self.rec.close()
        assert self.rec.drained.is_set()

    def kinds(self) -> list[str]:
        return [e.kind for e in self.store.list_call_events(self.call_id)]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def shop(store: Store) -> BusinessStore:
    return store.for_business("main-street-auto")


@pytest.fixture
def on(tmp_path: Path) -> Recording:
    return Recording(enabled=True, directory=tmp_path / "recordings")


def channels(path: Path) -> tuple[list[int], list[int]]:
    """The file's frames as the level of each 20 ms frame, per channel (left, right)."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 16000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    frames = samples.reshape(-1, FRAME_SAMPLES, 2)
    assert (frames == frames[:, :1, :]).all()  # every frame is one level per channel
    return [int(v) for v in frames[:, 0, 0]], [int(v) for v in frames[:, 0, 1]]


async def test_nothing_is_written_before_the_disclosure_is_heard(
    shop: BusinessStore, on: Recording
) -> None:
    h = Harness(shop, on)

    async def script() -> None:
        await h.output.write(tone(1))  # the disclosure itself, before consent: not kept
        await h.caller(tone(100))
        h.turn_done(0, f"{DISCLOSURE} Thanks for calling.")
        await h.output.write(tone(2))
        await h.output.write(tone(3))
        await h.caller(tone(101), tone(102), tone(103))

    await h.run(script)
    assert h.line.written == [tone(1), tone(2), tone(3)]  # the line got everything
    assert channels(h.rec.path) == ([101, 102, 103], [2, 3, 0])
    assert h.rec.path == on.directory / "main-street-auto" / f"{h.call_id}.wav"
    call = shop.get_call(h.call_id)
    assert call is not None
    assert (call.recording, call.recording_path) == ("saved", str(h.rec.path))
    assert h.kinds() == ["recording.disclosed", "recording.started", "recording.saved"]
    disclosed, _, saved = shop.list_call_events(h.call_id)
    assert disclosed.data == {"turn": 0, "text": DISCLOSURE} and disclosed.at == T0
    assert saved.data == {"path": str(h.rec.path), "seconds": 0.06}
    # causal order on the bus, though the tap publishes from inside its AgentTurnDone handler
    assert [type(e) for e in h.events] == [
        AgentTurnDone, RecordingDisclosed, RecordingStarted, RecordingStopped]
    assert h.events[-1] == RecordingStopped(by_caller=False, at=h.events[-1].at)


async def test_agent_audio_is_queued_to_the_callers_clock_and_cleared_by_barge_in(
    shop: BusinessStore, on: Recording
) -> None:
    h = Harness(shop, on)

    async def script() -> None:
        h.turn_done(0, DISCLOSURE)
        for level in (1, 2, 3, 4):  # the agent runs ahead of the line by three frames
            await h.output.write(tone(level))
        h.line.unplayed = 2
        assert h.output.clear() == 2  # barge-in: 3 and 4 will never be heard
        await h.caller(tone(100), tone(101), tone(102))
        await h.output.write(tone(5))

    await h.run(script)
    # frame 5 was written after the caller's last frame: it goes in against silence
    assert channels(h.rec.path) == ([100, 101, 102, 0], [1, 2, 0, 5])


async def test_a_cut_disclosure_does_not_start_recording(
    shop: BusinessStore, on: Recording
) -> None:
    h = Harness(shop, on)

    async def script() -> None:
        h.turn_done(0, "This call is recorded for", planned=f"{DISCLOSURE} Hello.")
        await h.output.write(tone(1))
        await h.caller(tone(100))
        h.turn_done(1, "We're open nine to five.")  # no disclosure in it at all
        await h.caller(tone(101))
        assert h.rec.state == "pending"
        h.turn_done(2, f"{DISCLOSURE} We're open nine to five.")  # repeated, heard
        await h.caller(tone(102))

    await h.run(script)
    assert channels(h.rec.path) == ([102], [0])
    assert h.kinds() == ["recording.disclosure_interrupted", "recording.disclosed",
                         "recording.started", "recording.saved"]
    interrupted = shop.list_call_events(h.call_id)[0]
    assert interrupted.data == {"turn": 0, "played": "This call is recorded for"}


async def test_opt_out_stops_at_once_and_deletes_the_file(
    shop: BusinessStore, on: Recording
) -> None:
    h = Harness(shop, on)

    async def script() -> None:
        h.turn_done(0, DISCLOSURE)
        await h.caller(*[tone(100)] * (BATCH_FRAMES + 3))  # one batch reached the file
        h.bus.publish(RecordingOptOut(3, 0.0))
        await h.output.write(tone(1))
        await h.caller(tone(101))
        h.turn_done(4, DISCLOSURE)  # heard again later: still no recording

    await h.run(script)
    assert not h.rec.path.exists()
    assert h.rec.state == "stopped_by_caller"
    call = shop.get_call(h.call_id)
    assert call is not None and (call.recording, call.recording_path) == (
        "stopped_by_caller", None)
    assert h.kinds() == ["recording.disclosed", "recording.started",
                         "recording.stopped_by_caller"]
    stopped = shop.list_call_events(h.call_id, kind="recording.stopped_by_caller")[0]
    assert stopped.data == {"turn": 3, "deleted_file": True}
    assert [e for e in h.events if isinstance(e, RecordingStopped)] == [
        RecordingStopped(by_caller=True, at=next(
            e.at for e in h.events if isinstance(e, RecordingStopped)))]


async def test_opt_out_before_the_disclosure_means_never_recording(
    shop: BusinessStore, on: Recording
) -> None:
    h = Harness(shop, on)

    async def script() -> None:
        h.bus.publish(RecordingOptOut(0, 0.0))
        h.turn_done(1, DISCLOSURE)
        await h.output.write(tone(1))
        await h.caller(tone(100))

    await h.run(script)
    assert not on.directory.exists()
    assert h.kinds() == ["recording.stopped_by_caller"]
    assert shop.list_call_events(h.call_id)[0].data == {"turn": 0, "deleted_file": False}
    assert not any(isinstance(e, RecordingStarted) for e in h.events)


async def test_a_call_that_ends_before_the_disclosure_is_not_recorded(
    shop: BusinessStore, on: Recording
) -> None:
    h = Harness(shop, on)

    async def script() -> None:
        await h.output.write(tone(1))
        await h.caller(tone(100))

    await h.run(script)
    call = shop.get_call(h.call_id)
    assert call is not None and (call.recording, call.recording_path) == ("off", None)
    assert h.kinds() == ["recording.not_started"]
    assert not on.directory.exists()


async def test_recording_off_touches_nothing_but_the_row(
    shop: BusinessStore, tmp_path: Path
) -> None:
    h = Harness(shop, Recording(enabled=False, directory=tmp_path / "recordings"))
    assert h.output is h.line

    async def source() -> AsyncGenerator[Inbound, None]:
        yield DtmfIn("1")

    items = source()
    assert h.rec.tap_inbound(items) is items
    await items.aclose()

    async def script() -> None:
        h.turn_done(0, DISCLOSURE)
        h.bus.publish(RecordingOptOut(1, 0.0))
        await h.output.write(tone(1))

    await h.run(script)
    call = shop.get_call(h.call_id)
    assert call is not None and call.recording == "off"
    assert h.kinds() == []
    assert not (tmp_path / "recordings").exists()
    assert [e for e in h.events if not isinstance(e, AgentTurnDone | RecordingOptOut)] == []


class SlowStore(BusinessStore):
    """The first ``set_recording`` waits for the test: a slow database under the writer."""

    def __init__(self, store: Store, business_id: str) -> None:
        super().__init__(store, business_id)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released_in_time: bool | None = None

    def set_recording(self, call_id: str, *, state: str, path: str | None = None) -> Any:
        if not self.entered.is_set():
            self.entered.set()
            self.released_in_time = self.release.wait(timeout=10)
        return super().set_recording(call_id, state=state, path=path)


async def test_a_slow_database_never_holds_up_the_audio(store: Store, on: Recording) -> None:
    slow = SlowStore(store, "main-street-auto")
    h = Harness(slow, on)

    async def script() -> None:
        await asyncio.to_thread(slow.entered.wait)  # the writer is stuck in the database
        h.turn_done(0, DISCLOSURE)
        for level in range(1, 2 * BATCH_FRAMES + 1):  # two batches' worth, meanwhile
            await h.output.write(tone(level))
            await h.caller(tone(1000 + level))
        slow.release.set()  # only possible because the event loop kept running

    await h.run(script)
    assert slow.released_in_time is True
    left, right = channels(h.rec.path)
    assert left == [1000 + n for n in range(1, 2 * BATCH_FRAMES + 1)]
    assert right == list(range(1, 2 * BATCH_FRAMES + 1))
