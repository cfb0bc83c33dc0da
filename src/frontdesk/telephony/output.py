"""Agent audio to a carrier media stream, with marks that say what the caller heard.

Twilio and Telnyx queue the audio we send and play it in order; a ``mark`` we send comes
back when everything queued before it has played, and ``clear`` empties their queue
(marks still pending come back too, and mean "not played"). So:

* frames are paced to at most ``lead_frames`` ahead of real time (sent in bursts of a
  few frames, one media message each): the carrier never holds more than that of ours,
  and the engine's turn states (speaking, listening) stay true to what the caller hears;
* every ``mark_every`` frames a uniquely named mark follows the audio; its echo moves
  ``confirmed`` (frames the caller has heard) forward;
* ``clear()`` sends ``clear`` ahead of anything not yet sent and reports as unplayed
  every frame after the last echoed mark, so the transcript is cut at the last played
  mark, never later. Echoes of marks sent before a clear are ignored.

Messages are queued here and sent by :meth:`run_sender` (a task the session owns),
because ``clear()`` is synchronous: it runs in the same frame as the VAD decision.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Protocol

from frontdesk.audio import FRAME_MS
from frontdesk.telephony.codec import PhoneAudio

_FRAME_S = FRAME_MS / 1000


class StreamWriter(Protocol):
    """The send side of a carrier's sans-IO media protocol."""

    def media(self, ulaw: bytes) -> str: ...

    def mark(self, name: str) -> str: ...

    def clear(self) -> str: ...


class CarrierOutput:
    def __init__(
        self,
        stream: StreamWriter,
        codec: PhoneAudio,
        *,
        lead_frames: int = 4,
        mark_every: int = 6,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._stream = stream
        self._codec = codec
        self._lead = lead_frames * _FRAME_S
        self._mark_every = mark_every
        self._clock = clock
        self._next_due: float | None = None
        # μ-law audio (bytes) or a ready message (str); consecutive audio goes out as one
        # media message
        self._outgoing: collections.deque[bytes | str] = collections.deque()
        self._wake = asyncio.Event()
        self._marks: dict[str, int] = {}  # outstanding mark name -> frames written before it
        self._mark_seq = 0
        self._marked = 0  # frames covered by the newest mark sent
        self._heard = asyncio.Event()
        self._closed = asyncio.Event()
        self.written = 0  # engine frames handed to the carrier (minus cleared ones)
        self.confirmed = 0  # frames the carrier reported as played
        self.clears = 0

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def write(self, frame: bytes) -> None:
        if self._closed.is_set():
            await asyncio.Future()  # the line is gone: wait to be cancelled, claim nothing
        now = self._now()
        if self._next_due is None or self._next_due < now:
            self._next_due = now  # the line was idle: this frame plays now
        if self._next_due - now > self._lead - 1e-6:  # (float sums of 20 ms steps)
            # full: sleep until one frame is left queued, then send a few in one go (one
            # wake-up and one message per ~60 ms instead of per 20 ms: the CPU cost of a
            # call is mostly per message)
            await asyncio.sleep(self._next_due - now - _FRAME_S)
            if self._closed.is_set():  # the caller hung up while we waited
                await asyncio.Future()
        self._next_due += _FRAME_S
        self._send(self._codec.encode(frame))
        self.written += 1
        if self.written - self._marked >= self._mark_every:
            self._send_mark()

    def close(self) -> None:
        """The stream has stopped: send nothing more (the carrier would refuse it)."""
        self._closed.set()
        self._outgoing.clear()
        self._heard.set()

    def clear(self) -> int:
        """Drop what the caller has not heard; return how many written frames that is."""
        unplayed = self.written - self.confirmed
        if self._closed.is_set():
            self.written = self.confirmed
            return unplayed
        self._outgoing.clear()  # not sent yet: it never reaches the carrier
        self._outgoing.append(self._stream.clear())
        self._wake.set()
        self._marks.clear()  # their echoes now mean "dropped", not "played"
        self.written = self._marked = self.confirmed
        self._next_due = None
        self._codec.reset_output()
        self.clears += 1
        self._heard.set()
        return unplayed

    def on_mark(self, name: str) -> None:
        """The carrier played everything before mark ``name``."""
        if name not in self._marks:
            return  # sent before a clear, or not ours
        for earlier in list(self._marks):  # marks come back in order; older ones are implied
            frames = self._marks.pop(earlier)
            if earlier == name:
                self.confirmed = max(self.confirmed, frames)
                break
        if self.confirmed >= self.written:
            self._heard.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until the caller has heard everything written (e.g. "goodbye" before the
        hang-up); False if the carrier did not confirm it in time."""
        if self.written > self._marked:
            self._send_mark()
        try:
            async with asyncio.timeout(timeout_s):
                while self.confirmed < self.written and not self._closed.is_set():
                    self._heard.clear()
                    await self._heard.wait()
        except TimeoutError:
            return False
        return self.confirmed >= self.written

    async def run_sender(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send queued messages in order until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outgoing:
                item = self._outgoing.popleft()
                if isinstance(item, bytes):
                    audio = [item]
                    while self._outgoing and isinstance(self._outgoing[0], bytes):
                        audio.append(self._outgoing.popleft())  # type: ignore[arg-type]
                    item = self._stream.media(b"".join(audio))
                await send(item)

    def _send_mark(self) -> None:
        if self._closed.is_set():
            return
        self._mark_seq += 1
        name = f"fd-{self._mark_seq}"
        self._marks[name] = self.written
        self._marked = self.written
        self._send(self._stream.mark(name))

    def _send(self, message: bytes | str) -> None:
        if self._closed.is_set():
            return
        self._outgoing.append(message)
        self._wake.set()
