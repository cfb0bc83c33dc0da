"""Agent audio onto a WebSocket at the pace of a phone line: one 20 ms frame per 20 ms.

Sending faster would buffer audio in the client that barge-in can no longer take back;
so at most one frame is ever ahead of real time, and ``clear`` has nothing of ours to
drop (the client is told with a ``clear`` event to flush its own small buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from frontdesk.audio import FRAME_MS


class PacedSocketOutput:
    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._next_due: float | None = None
        self._lock = asyncio.Lock()

    async def write(self, frame: bytes) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next_due is None or self._next_due < now - FRAME_MS / 1000:
            self._next_due = now  # the line was idle: start a new run of frames now
        delay = self._next_due - now - FRAME_MS / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        self._next_due += FRAME_MS / 1000
        await self._send(frame)

    def clear(self) -> int:
        """Frames already sent but not yet due to play (0 or 1): the client drops them on
        the ``clear`` event, so the caller never hears them."""
        unplayed = 0
        if self._next_due is not None:
            last_due = self._next_due - FRAME_MS / 1000
            ahead = last_due - asyncio.get_running_loop().time()
            unplayed = max(0, math.ceil(ahead / (FRAME_MS / 1000)))
        self._next_due = None
        return unplayed

    async def send_text(self, text: str) -> None:
        async with self._lock:
            if self._ws.client_state is WebSocketState.CONNECTED:
                await self._ws.send_text(text)

    async def _send(self, frame: bytes) -> None:
        async with self._lock:
            if self._ws.client_state is WebSocketState.CONNECTED:
                await self._ws.send_bytes(frame)

    async def close(self) -> None:
        if self._ws.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await self._ws.close()
