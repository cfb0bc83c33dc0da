"""The caller side of ``concurrency.py``: many emulated Twilio calls in one process.

Each call is a :class:`TwilioEmulator` driven by a :class:`ScriptedCaller` that takes
turns by ear, exactly as in the single-call tests; every emulator posts its webhooks
through one shared HTTP client (a new client costs ~24 ms of CPU, and 100+ calls start
within two seconds) and hooks itself into the fake REST API for its own call. Added
for load:

* a deadline: the caller hangs up (Twilio ``stop``) once the call has lasted its fixed
  length, whatever the script still holds.

The script alternates normal lines with barge-in lines (spoken over the agent's reply
after ``barge_in_after_frames`` of it). Latencies come back in script order, one per line
that was answered, so they can be split into normal turns and turns after a barge-in.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx

from frontdesk.audio import FRAME_MS, frame_dbfs
from frontdesk.call.events import CallEnded, EndReason
from frontdesk.call.inbound import HangupIn, Inbound
from frontdesk.client.caller import CallerLine, ScriptedCaller
from frontdesk.client.carrier import Dial, TwilioEmulator
from frontdesk.client.carrier_api import CarrierApi

VOICED_DBFS = -50.0  # the floor ScriptedCaller uses for "the caller is speaking"
LATE_BARGE_S = 2.0  # a barge-in this close to the hang-up may go unanswered


@dataclass(frozen=True)
class Plan:
    """What every caller says, and for how long the call lasts."""

    lines: Sequence[CallerLine]
    call_seconds: float

    @classmethod
    def cycle(cls, normal: Sequence[CallerLine], barge: CallerLine, *, every: int,
              call_seconds: float) -> Plan:
        """Normal lines in turn with a barge-in after every ``every`` of them (the first
        one early, after the first normal line), enough lines to outlast the call."""
        lines: list[CallerLine] = []
        source = itertools.cycle(normal)
        lines += [next(source), barge]
        while len(lines) < call_seconds:  # a turn takes several seconds: plenty
            lines += [next(source) for _ in range(every)] + [barge]
        return cls(lines, call_seconds)


@dataclass
class CallResult:
    call_sid: str
    started_at: float = 0.0
    duration_s: float = 0.0
    normal_ms: list[float] = field(default_factory=list)  # voice-to-voice, normal turns
    after_barge_ms: list[float] = field(default_factory=list)  # voice-to-voice after barge-in
    barge_to_clear_ms: list[float] = field(default_factory=list)
    barge_ins: int = 0
    barge_ins_without_clear: int = 0
    clears: int = 0
    ended_by: str = ""  # "deadline" (we hung up), "agent" (frontdesk ended it), "error"
    error: str | None = None

    @property
    def failed(self) -> bool:
        return (self.error is not None or self.ended_by != "deadline"
                or self.barge_ins_without_clear > 0 or not self.normal_ms)


def describe(error: BaseException) -> str:
    """The innermost errors of a (nested) exception group, else the error itself."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(sorted({describe(inner) for inner in error.exceptions}))
    return f"{type(error).__name__}: {error}"


def first_voiced(line: CallerLine) -> int:
    """0-based index of the line's first frame of speech (TTS may lead with silence)."""
    for index, frame in enumerate(line.frames):
        if frame_dbfs(frame) > VOICED_DBFS:
            return index
    return 0


async def _until(inbound: AsyncIterator[Inbound], deadline: float) -> AsyncIterator[Inbound]:
    """The caller's side of the line until ``deadline`` (loop time), then a hang-up."""
    loop = asyncio.get_running_loop()
    async for item in inbound:
        if loop.time() >= deadline:
            yield HangupIn()
            return
        yield item
        if isinstance(item, HangupIn):
            return


async def place(dial: Dial, account_sid: str, auth_token: str, api: CarrierApi,
                plan: Plan, delay_s: float, http: httpx.AsyncClient) -> CallResult:
    """One call, started after ``delay_s``; never raises (a failure is in the result)."""
    await asyncio.sleep(delay_s)
    emulator = TwilioEmulator(dial, account_sid=account_sid, auth_token=auth_token,
                              api=api, http=http)
    loop = asyncio.get_running_loop()
    result = CallResult(emulator.call_sid, started_at=loop.time())
    deadline = result.started_at + plan.call_seconds
    caller = ScriptedCaller(plan.lines, line=emulator, turns_from_audio=True)
    caller.attach(emulator)
    try:
        async def run_line(inbound: AsyncIterator[Inbound]) -> CallEnded:
            return await emulator.run(_until(inbound, deadline))

        report = await caller.run(run_line)
        ended = report.ended
        result.ended_by = ("deadline" if ended is not None
                           and ended.reason is EndReason.CALLER_HANGUP else "agent")
    except Exception as error:  # the bench reports a failed call; it does not stop
        result.ended_by, result.error = "error", describe(error)
        report = caller.report
    result.duration_s = loop.time() - result.started_at
    for line, ms in zip(plan.lines, report.latencies_ms, strict=False):
        (result.after_barge_ms if line.barge_in_after_frames is not None
         else result.normal_ms).append(ms)
    onsets = [first_voiced(line) * FRAME_MS / 1000 for line in plan.lines
              if line.barge_in_after_frames is not None]
    clears = list(emulator.log.clears_at)
    result.clears = len(clears)
    starts = report.barge_ins_at
    for k, began in enumerate(starts):
        spoke = began + onsets[k]
        until = starts[k + 1] if k + 1 < len(starts) else float("inf")
        hit = next((c for c in clears if began <= c < until), None)
        if hit is None:
            if deadline - began < LATE_BARGE_S:
                continue  # cut off by the hang-up before a clear could come: not a miss
            result.barge_ins_without_clear += 1
        else:
            result.barge_to_clear_ms.append(round((hit - spoke) * 1000, 1))
    result.barge_ins = len(starts)
    return result
