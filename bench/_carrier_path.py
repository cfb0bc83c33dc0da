"""The carrier half of ``latency.py --carrier``: one scripted call through the emulator.

frontdesk is served on a real uvicorn on loopback (``carrier_harness``) and the call is
placed exactly as the carrier places it: signed webhook, TwiML, media WebSocket with
20 ms μ-law frames, marks and clear, REST hang-up. The caller measures voice-to-voice on
its side of the emulated line; the engine's view of each turn (its own latency and
spans) is read back from the store, because a carrier reports no engine events.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from frontdesk.brain.base import Brain
from frontdesk.call.engine import AudioOutput
from frontdesk.call.escalate import AfterTransfer
from frontdesk.client.caller import CallerLine
from frontdesk.client.harness import carrier_harness
from frontdesk.profile import Profile, ProfileRegistry
from frontdesk.runtime import OpenCall, Runtime, Speech
from frontdesk.softphone import place_call_via_carrier
from frontdesk.store import StoredTurn, open_store


def _no_brain() -> Brain | None:
    return None


@dataclass
class BenchRuntime(Runtime):
    """A Runtime that gives each call a fresh brain from ``new_brain`` (None: the default
    receptionist). The carrier edge opens its calls itself, without a brain; comparing the
    two paths fairly needs the same (stub) brain on both."""

    new_brain: Callable[[], Brain | None] = _no_brain

    async def open_call(
        self,
        *,
        to_number: str,
        from_number: str,
        output: AudioOutput,
        brain: Brain | None = None,
        call_id: str | None = None,
        after: AfterTransfer | None = None,
    ) -> OpenCall:
        return await super().open_call(
            to_number=to_number, from_number=from_number, output=output,
            brain=brain if brain is not None else self.new_brain(), call_id=call_id,
            after=after)


@dataclass(frozen=True)
class CarrierRun:
    caller_ms: list[float]  # voice-to-voice per turn, measured by the caller
    turns: list[StoredTurn]  # the engine's view of each turn, from the store
    status: str | None
    outcome: str | None
    clears: int
    marks_echoed: int
    hung_up_by_agent: bool


async def carrier_call(
    carrier: str,
    profile: Profile,
    speech: Speech,
    lines: Sequence[CallerLine],
    *,
    brain: Callable[[], Brain | None],
    now: Callable[[], datetime],
) -> CarrierRun:
    """One call through the emulated ``carrier`` on a fresh store and a fresh server."""
    number = profile.business.phone_numbers[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        try:
            runtime = BenchRuntime(ProfileRegistry([profile]), store, speech, now=now,
                                   new_brain=brain)
            async with carrier_harness(runtime) as harness:
                placed = await place_call_via_carrier(runtime, harness, carrier, lines,
                                                      to_number=number)
            # the server has stopped: every turn of the call is in the store
            business = store.for_business(profile.business.id)
            record = business.get_call(placed.call_id)
            turns = business.list_turns(placed.call_id)
        finally:
            store.close()
    return CarrierRun(
        caller_ms=list(placed.report.latencies_ms), turns=turns,
        status=record.status if record else None, outcome=record.outcome if record else None,
        clears=placed.line.clears, marks_echoed=placed.line.marks_echoed,
        hung_up_by_agent=placed.line.hung_up_by_agent)


def paired(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> list[float]:
    """Per-turn differences b - a, call by call and turn by turn; calls whose turn counts
    differ are skipped (their turns cannot be matched)."""
    return [round(y - x, 1) for xs, ys in zip(a, b, strict=True) if len(xs) == len(ys)
            for x, y in zip(xs, ys, strict=True)]
