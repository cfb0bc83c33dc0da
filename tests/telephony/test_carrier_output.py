"""CarrierOutput's books: marks say what the caller heard, clear cuts at the last mark."""

from __future__ import annotations

import asyncio
import json

from frontdesk.audio import FRAME_BYTES
from frontdesk.telephony.codec import PhoneAudio
from frontdesk.telephony.output import CarrierOutput

FRAME = b"\x10\x00" * (FRAME_BYTES // 2)


class Wire:
    """A stream writer that records JSON-ish messages."""

    def media(self, ulaw: bytes) -> str:
        assert len(ulaw) % 160 == 0
        return json.dumps({"event": "media", "frames": len(ulaw) // 160})

    def mark(self, name: str) -> str:
        return json.dumps({"event": "mark", "name": name})

    def clear(self) -> str:
        return json.dumps({"event": "clear"})


def _output() -> CarrierOutput:
    # a lead far beyond the test's frames: write() never waits on the clock here
    return CarrierOutput(Wire(), PhoneAudio(), lead_frames=10_000, mark_every=5)


async def _sent(output: CarrierOutput) -> list[dict[str, str]]:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    task = asyncio.create_task(output.run_sender(send))
    await asyncio.sleep(0)
    task.cancel()
    return [json.loads(m) for m in sent]


async def test_audio_is_followed_by_a_mark_every_five_frames() -> None:
    output = _output()
    for _ in range(12):
        await output.write(FRAME)
    events = [m["name"] if m["event"] == "mark" else f"media x{m['frames']}"
              for m in await _sent(output)]
    # frames queued together go out as one media message; marks keep their place
    assert events == ["media x5", "fd-1", "media x5", "fd-2", "media x2"]
    assert output.written == 12 and output.confirmed == 0


async def test_an_echoed_mark_confirms_the_frames_before_it_and_older_marks() -> None:
    output = _output()
    for _ in range(15):
        await output.write(FRAME)
    output.on_mark("fd-2")  # fd-1 was lost or is implied
    assert output.confirmed == 10
    output.on_mark("fd-1")  # late: already implied, changes nothing
    assert output.confirmed == 10
    output.on_mark("not-ours")
    assert output.confirmed == 10


async def test_clear_reports_everything_after_the_last_echoed_mark_as_unplayed() -> None:
    output = _output()
    for _ in range(13):
        await output.write(FRAME)
    await _sent(output)
    output.on_mark("fd-1")
    assert output.clear() == 8  # frames 6..13: the caller may not have heard them
    messages = await _sent(output)
    assert [m["event"] for m in messages] == ["clear"]
    output.on_mark("fd-2")  # returned by the carrier's clear: it means "dropped"
    assert output.confirmed == 5 and output.written == 5


async def test_clear_drops_messages_not_yet_sent() -> None:
    output = _output()
    for _ in range(3):
        await output.write(FRAME)
    assert output.clear() == 3
    assert [m["event"] for m in await _sent(output)] == ["clear"]


async def test_drain_waits_for_the_final_mark() -> None:
    output = _output()
    for _ in range(7):
        await output.write(FRAME)
    drained = asyncio.create_task(output.drain(timeout_s=5))
    await asyncio.sleep(0)
    names = [m["name"] for m in await _sent(output) if m["event"] == "mark"]
    assert names == ["fd-1", "fd-2"] and not drained.done()
    output.on_mark("fd-1")
    await asyncio.sleep(0)
    assert not drained.done()
    output.on_mark("fd-2")
    assert await drained is True


async def test_drain_gives_up_when_the_carrier_never_confirms() -> None:
    output = _output()
    await output.write(FRAME)
    assert await output.drain(timeout_s=0.01) is False


async def test_audio_is_paced_at_most_lead_frames_ahead_of_the_line() -> None:
    now = [100.0]
    output = CarrierOutput(Wire(), PhoneAudio(), lead_frames=2, mark_every=5,
                           clock=lambda: now[0])
    for _ in range(2):  # the frame playing now and one ahead: no wait
        await output.write(FRAME)
    third = asyncio.create_task(output.write(FRAME))
    await asyncio.sleep(0)
    assert not third.done() and output.written == 2  # it waits for the line
    third.cancel()
    now[0] += 1.0  # the line ran dry meanwhile: the next frame starts a new run at once
    await output.write(FRAME)
    assert output.written == 3


async def test_a_closed_output_sends_nothing_and_claims_nothing() -> None:
    output = _output()
    for _ in range(6):
        await output.write(FRAME)
    await _sent(output)
    output.close()
    assert output.clear() == 6
    blocked = asyncio.create_task(output.write(FRAME))
    await asyncio.sleep(0)
    assert not blocked.done() and output.written == 0
    blocked.cancel()
    assert await _sent(output) == []
    assert await output.drain(timeout_s=5) is True  # nothing left that could be heard
