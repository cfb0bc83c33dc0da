"""The scripted caller over the generic WebSocket: dial a running ``frontdesk serve``.

The same :class:`ScriptedCaller` drives the call; this module is its line to the server.
Caller frames go out as binary messages, key presses and hang-ups as JSON; agent frames
come back paced by the server, and its JSON events are turned back into engine events so
the caller (and the printer) see exactly what an in-process call shows.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import websockets

from frontdesk.call.events import CallEnded, CallEvent, ClearAudio, EndReason, Outcome
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn, Inbound
from frontdesk.server.wire import WireError, parse_event


class WebSocketLine:
    def __init__(self, base_url: str, *, to_number: str, from_number: str) -> None:
        query = urlencode({"to": to_number, "caller": from_number})
        self.url = f"{base_url.rstrip('/')}/call?{query}"
        self.call_id: str | None = None
        self._frames: collections.deque[bytes] = collections.deque()
        self._listeners: list[Callable[[CallEvent], None]] = []

    def subscribe_all(self, listener: Callable[[CallEvent], None]) -> None:
        self._listeners.append(listener)

    def take(self) -> bytes | None:
        return self._frames.popleft() if self._frames else None

    async def run(self, inbound: AsyncIterator[Inbound]) -> CallEnded:
        """Send the caller's side until the server ends the call (or we hang up)."""
        async with websockets.connect(self.url) as ws, asyncio.TaskGroup() as tg:
            sender = tg.create_task(self._send(ws, inbound))
            ended = await self._receive(ws)
            sender.cancel()
        return ended

    async def _send(self, ws: Any, inbound: AsyncIterator[Inbound]) -> None:
        async for item in inbound:
            match item:
                case AudioIn(frame=frame):
                    await ws.send(frame)
                case DtmfIn(digit=digit):
                    await ws.send(json.dumps({"type": "dtmf", "digit": digit}))
                case HangupIn():
                    await ws.send(json.dumps({"type": "hangup"}))
                    return

    async def _receive(self, ws: Any) -> CallEnded:
        async for message in ws:
            if isinstance(message, bytes):
                self._frames.append(message)
                continue
            data = json.loads(message)
            if data.get("type") == "call":
                self.call_id = str(data["call_id"])
                continue
            if data.get("type") == "error":
                if self.call_id is None or data.get("code") == "internal":
                    raise WireError(str(data.get("code")), str(data.get("message")))
                continue  # the server refused one message of ours; the call goes on
            event = parse_event(data, time.perf_counter())
            if isinstance(event, ClearAudio):
                self._frames.clear()
            if event is not None:
                for listener in self._listeners:
                    listener(event)
            if isinstance(event, CallEnded):
                return event
        ended = CallEnded(EndReason.CALLER_HANGUP, Outcome.NONE, time.perf_counter())
        for listener in self._listeners:
            listener(ended)
        return ended
