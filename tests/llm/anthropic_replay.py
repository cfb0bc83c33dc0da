"""A local stand-in for api.anthropic.com: replays scripted replies over real HTTP/1.1.

Each request takes the next :class:`Reply` from the script and is recorded (method, path,
headers, JSON body). A streamed reply is sent with chunked encoding, one chunk per step,
so a :class:`Cut` (the socket closed before the last chunk) is what a dropped connection
looks like to the client, and a :class:`Pause` holds the stream on an event the test owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

MODEL = "claude-sonnet-4-5-20250929"  # what the replayed server says answered


def sse(kind: str, payload: dict[str, Any] | None = None) -> bytes:
    """One event in the documented shape: the SSE name matches the JSON ``type``."""
    body = {"type": kind, **(payload or {})}
    return f"event: {kind}\ndata: {json.dumps(body)}\n\n".encode()


def message_start(input_tokens: int = 25, model: str = MODEL,
                  message_id: str = "msg_01XFDUDYJgAACzvnptvVoYEL") -> bytes:
    return sse("message_start", {"message": {
        "id": message_id, "type": "message", "role": "assistant", "content": [],
        "model": model, "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})


def text_block(index: int, *pieces: str) -> list[bytes]:
    return [sse("content_block_start",
                {"index": index, "content_block": {"type": "text", "text": ""}}),
            *(sse("content_block_delta",
                  {"index": index, "delta": {"type": "text_delta", "text": piece}})
              for piece in pieces),
            sse("content_block_stop", {"index": index})]


def tool_block(index: int, tool_id: str, name: str, *fragments: str) -> list[bytes]:
    return [sse("content_block_start", {"index": index, "content_block": {
                "type": "tool_use", "id": tool_id, "name": name, "input": {}}}),
            *(sse("content_block_delta",
                  {"index": index, "delta": {"type": "input_json_delta",
                                             "partial_json": fragment}})
              for fragment in fragments),
            sse("content_block_stop", {"index": index})]


def finish(stop_reason: str = "end_turn", output_tokens: int = 15) -> list[bytes]:
    return [sse("message_delta", {"delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                  "usage": {"output_tokens": output_tokens}}),
            sse("message_stop")]


def error_event(kind: str, message: str) -> bytes:
    return sse("error", {"error": {"type": kind, "message": message}})


@dataclass(frozen=True)
class Pause:
    """Send nothing more until the test sets ``gate``."""

    gate: asyncio.Event


@dataclass(frozen=True)
class Cut:
    """Close the socket mid-body: no terminating chunk."""


Step = bytes | Pause | Cut


@dataclass(frozen=True)
class Reply:
    status: int = 200
    steps: Sequence[Step] = ()  # a 200's event stream
    body: bytes = b""  # a non-streamed body (an error's JSON)
    headers: dict[str, str] = field(default_factory=lambda: {"request-id": "req_replay"})


def stream(*steps: Step | list[bytes], request_id: str | None = "req_replay") -> Reply:
    flat: list[Step] = []
    for step in steps:
        flat += step if isinstance(step, list) else [step]
    headers = {"content-type": "text/event-stream; charset=utf-8"}
    if request_id is not None:
        headers["request-id"] = request_id
    return Reply(200, flat, headers=headers)


def http_error(status: int, kind: str, message: str) -> Reply:
    """The Messages API's error body, as sent with a non-200 status."""
    body = {"type": "error", "error": {"type": kind, "message": message},
            "request_id": "req_error"}
    return Reply(status, body=json.dumps(body).encode(),
                 headers={"content-type": "application/json", "request-id": "req_error"})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any


class ReplayServer:
    """``async with ReplayServer(replies) as server``: listens on 127.0.0.1 at a free
    port until the block ends, then closes the listener and cancels any handler still
    running (one held by a Pause nobody released)."""

    def __init__(self, replies: Sequence[Reply] = ()) -> None:
        self.replies = list(replies)
        self.requests: list[Recorded] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> ReplayServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up first (it timed out, or gave up on a stream)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        headers = dict((name.strip().lower(), value.strip()) for name, _, value in
                       (line.partition(":") for line in head[1:] if line))
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Recorded(method, path, headers, json.loads(raw) if raw else None))
        reply = self.replies.pop(0)
        lines = [f"HTTP/1.1 {reply.status} Replay", "connection: close",
                 *(f"{name}: {value}" for name, value in reply.headers.items())]
        if reply.status != 200 or not reply.steps:
            lines.append(f"content-length: {len(reply.body)}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body)
            await writer.drain()
            return
        lines.append("transfer-encoding: chunked")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        for step in reply.steps:
            match step:
                case Pause(gate):
                    await gate.wait()
                case Cut():
                    return
                case bytes():
                    writer.write(b"%x\r\n%s\r\n" % (len(step), step))
                    await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
