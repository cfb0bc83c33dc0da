"""A scripted caller on an in-memory line, in real time.

The caller and the Call exchange one 20 ms frame each way per tick, like a phone line:
the caller's tick is the line's clock, and the agent's ``write`` returns only when the
caller took the frame, so the agent can never run more than one frame ahead (the same
bound a carrier's jitter buffer gives). The caller speaks each scripted line after the
agent's turn is over (an event, not a timer) or, for barge-in, after it heard a given
number of agent frames. Voice-to-voice latency is measured here, where a caller would:
from the caller's last speech frame sent to the first agent frame received.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from frontdesk.audio import FRAME_MS, SILENCE_FRAME, frame_dbfs
from frontdesk.call.events import (
    AgentPhraseStarted,
    AgentTurnDone,
    CallEnded,
    CallEvent,
    ClearAudio,
)
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn, Inbound

CallRunner = Callable[[AsyncIterator[Inbound]], Coroutine[Any, Any, CallEnded]]


@dataclass(frozen=True)
class CallerLine:
    frames: Sequence[bytes]  # the caller's speech, 20 ms frames
    text: str = ""  # what the line says (for reports); may be empty for WAV input
    barge_in_after_frames: int | None = None  # speak over the agent after N of its frames
    dtmf: str | None = None  # press this key (then play ``frames``, usually none)
    hangup: bool = False  # hang up instead (e.g. while the agent is still talking)


@dataclass
class CallReport:
    events: list[CallEvent] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # measured by the caller
    agent_frames: int = 0  # agent frames that reached the caller
    # per barge-in: agent frames heard after the engine's clear, before its next reply
    frames_after_clear: list[int] = field(default_factory=list)
    barge_ins_at: list[float] = field(default_factory=list)  # loop time each barge-in began
    ended: CallEnded | None = None


def last_voiced(frames: Sequence[bytes], floor_dbfs: float = -50.0) -> int:
    """1-based index of the last frame above ``floor_dbfs`` (TTS pads with silence); 0 when
    the line is all silence, which then has no latency to measure."""
    for index in range(len(frames), 0, -1):
        if frame_dbfs(frames[index - 1]) > floor_dbfs:
            return index
    return 0


class EventSource(Protocol):
    """Where the caller hears about the call: the Call's bus, or the WebSocket line."""

    def subscribe_all(self, handler: Callable[[CallEvent], None]) -> None: ...


class AgentAudio(Protocol):
    def take(self) -> bytes | None:
        """The agent frame that arrived for this tick, if any."""
        ...


class LoopbackLine:
    """The agent side of the in-memory line (an ``AudioOutput``)."""

    def __init__(self) -> None:
        self._slot: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)

    async def write(self, frame: bytes) -> None:
        await self._slot.put(frame)

    def clear(self) -> int:
        dropped = 0
        while not self._slot.empty():
            self._slot.get_nowait()
            dropped += 1
        return dropped

    def take(self) -> bytes | None:
        return None if self._slot.empty() else self._slot.get_nowait()


class ScriptedCaller:
    def __init__(
        self,
        lines: Sequence[CallerLine],
        *,
        gap_ms: int = 400,
        tail_ms: int = 10_000,
        realtime: bool = True,
        line: AgentAudio | None = None,
        turns_from_audio: bool = False,
        agent_pause_ms: int = 500,
    ) -> None:
        self.lines = list(lines)
        self.gap_frames = gap_ms // FRAME_MS
        self.tail_frames = tail_ms // FRAME_MS
        self.realtime = realtime
        self.report = CallReport()
        self._turns_done = 0
        self._ended = False
        self._after_clear: int | None = None
        self.line: AgentAudio = line if line is not None else LoopbackLine()
        # A carrier line reports no turns; the caller then does what a person does: the
        # agent's turn is over when its voice has stopped for ``agent_pause_ms``.
        self._turns_from_audio = turns_from_audio
        self._agent_pause_frames = agent_pause_ms // FRAME_MS
        self._agent_quiet: int | None = None  # frames since the agent's last frame

    def attach(self, events: EventSource) -> None:
        events.subscribe_all(self._on_event)

    def _on_event(self, event: CallEvent) -> None:
        self.report.events.append(event)
        match event:
            case AgentTurnDone() if not self._turns_from_audio:
                self._turns_done += 1
            case ClearAudio():
                self._after_clear = 0
            case AgentPhraseStarted() if self._after_clear is not None:
                self.report.frames_after_clear.append(self._after_clear)
                self._after_clear = None
            case CallEnded():
                self._ended = True
                self.report.ended = event
            case _:
                pass

    async def run(self, run_call: CallRunner) -> CallReport:
        """Place the call: ``run_call`` is ``Call.run`` or ``OpenCall.run``."""
        inbound: asyncio.Queue[Inbound] = asyncio.Queue()

        async def source() -> AsyncIterator[Inbound]:
            while True:
                item = await inbound.get()
                yield item
                if isinstance(item, HangupIn):
                    return

        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(run_call(source()))
            await self._drive(inbound, runner)
        return self.report

    async def _drive(
        self, inbound: asyncio.Queue[Inbound], runner: asyncio.Task[CallEnded]
    ) -> None:
        loop = asyncio.get_running_loop()
        tick = loop.time()
        pending = list(self.lines)
        speaking: list[bytes] = []
        expect = 1  # agent turns that must be over before the next line (1: the greeting)
        heard = 0  # agent frames heard since our last line ended
        waited = 0  # silent frames since the agent's turn ended
        last_sent_at: float | None = None
        voiced_left = 0  # frames until the last voiced frame of the line being spoken
        idle = 0
        while not runner.done():
            if self.realtime:
                tick += FRAME_MS / 1000
                await asyncio.sleep(max(0.0, tick - loop.time()))
            else:
                await asyncio.sleep(0)
            agent_frame = self.line.take()
            self._track_agent_voice(agent_frame is not None)
            if agent_frame is not None:
                heard += 1
                self.report.agent_frames += 1
                if self._after_clear is not None:
                    self._after_clear += 1
                if last_sent_at is not None:
                    self.report.latencies_ms.append(round((loop.time() - last_sent_at) * 1000, 1))
                    last_sent_at = None
            if not speaking and pending and self._ready(pending[0], expect, heard, waited):
                line = pending.pop(0)
                if line.hangup:
                    inbound.put_nowait(HangupIn())
                    break
                if line.dtmf is not None:  # a key press instead of speech, in this tick
                    inbound.put_nowait(DtmfIn(line.dtmf))
                    expect, heard, waited = self._turns_done + 1, 0, 0
                speaking = list(line.frames)
                voiced_left = last_voiced(speaking)
                if line.barge_in_after_frames is not None:
                    self.report.barge_ins_at.append(loop.time())
            if speaking:
                inbound.put_nowait(AudioIn(speaking.pop(0)))
                voiced_left -= 1
                if voiced_left == 0:
                    last_sent_at = loop.time()  # the caller's last speech frame
                if not speaking:
                    expect, heard, waited = self._turns_done + 1, 0, 0
                continue
            inbound.put_nowait(AudioIn(SILENCE_FRAME))
            waited = waited + 1 if self._turns_done >= expect else 0
            if not pending:
                idle += 1
                if self._ended or idle >= self.tail_frames:
                    inbound.put_nowait(HangupIn())
                    break

    def _track_agent_voice(self, heard: bool) -> None:
        if not self._turns_from_audio:
            return
        if heard:
            self._agent_quiet = 0
        elif self._agent_quiet is not None:
            self._agent_quiet += 1
            if self._agent_quiet >= self._agent_pause_frames:
                self._agent_quiet = None
                self._turns_done += 1

    def _ready(self, line: CallerLine, expect: int, heard: int, waited: int) -> bool:
        if line.barge_in_after_frames is not None:
            return heard >= line.barge_in_after_frames
        return self._turns_done >= expect and waited >= self.gap_frames
