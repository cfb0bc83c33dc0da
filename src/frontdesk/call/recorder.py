"""Stores each turn of a call as it ends, and closes the call row with its true outcome.

Bus handlers only queue (they run on the event loop, in the middle of the audio path);
one writer task per call does the database work in a worker thread, in order. The call's
outcome is read back from the store, so a booking committed in a reply that barge-in or a
hang-up cancelled still counts.
"""

from __future__ import annotations

import asyncio

from frontdesk.call.events import (
    AgentTurnDone,
    CallEnded,
    CallerTranscript,
    EndReason,
    EventBus,
    Outcome,
    TurnMetrics,
)
from frontdesk.store import BusinessStore, TurnRecord


class TurnRecorder:
    def __init__(self, store: BusinessStore, call_id: str) -> None:
        self.store = store
        self.call_id = call_id
        self._caller: dict[int, CallerTranscript] = {}
        self._metrics: dict[int, TurnMetrics] = {}
        self._queue: asyncio.Queue[TurnRecord | CallEnded | None] = asyncio.Queue()
        self.drained = asyncio.Event()

    def watch(self, bus: EventBus) -> None:
        bus.subscribe(CallerTranscript, lambda e: self._caller.__setitem__(e.turn, e))
        bus.subscribe(TurnMetrics, lambda e: self._metrics.__setitem__(e.turn, e))
        bus.subscribe(AgentTurnDone, self._on_done)
        bus.subscribe(CallEnded, self._queue.put_nowait)

    def close(self) -> None:
        """No more events: the writer finishes what is queued, then stops."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        try:
            while (item := await self._queue.get()) is not None:
                match item:
                    case TurnRecord():
                        await asyncio.to_thread(self.store.add_turn, self.call_id, item)
                    case CallEnded():
                        await asyncio.to_thread(self._end, item)
        finally:
            self.drained.set()

    def _on_done(self, event: AgentTurnDone) -> None:
        caller = self._caller.pop(event.turn, None)
        metrics = self._metrics.pop(event.turn, None)
        self._queue.put_nowait(TurnRecord(
            index=event.turn,
            caller_text=caller.text if caller else "",
            caller_confidence=caller.confidence if caller else None,
            agent_text=event.planned_text,
            agent_text_played=event.played_text,
            interrupted=event.interrupted,
            spans=metrics.spans_ms if metrics else {},
            latency_ms=metrics.latency_ms if metrics else None,
        ))

    def _end(self, event: CallEnded) -> None:
        outcome = event.outcome
        if self.store.bookings_for_call(self.call_id):
            outcome = Outcome.BOOKED
        status = {EndReason.ERROR: "failed", EndReason.DROPPED: "dropped"}.get(
            event.reason, "completed")
        self.store.end_call(self.call_id, status=status, outcome=outcome.value,
                            end_reason=event.reason.value)
