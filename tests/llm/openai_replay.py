"""A scripted OpenAI-compatible server on loopback, for the client's tests.

It speaks HTTP/1.1 over asyncio streams, so a test controls every byte: each
:class:`Reply` is a status, headers and a list of steps: bytes (sent as one chunk of a
chunked body and drained), :class:`Wait` (stop until the test sets the event, or the
client goes away) or :data:`CUT` (close the socket mid-body). It records every request,
and raises at exit any error its connection handlers hit, so a broken script fails the
test instead of vanishing into a log.

The chunk builders produce ``chat.completion.chunk`` objects as OpenAI streams them:
a first chunk with the role, content or tool-call pieces (the id, type and name in the
first piece of a call, its arguments in fragments after), a chunk with an empty delta and
the ``finish_reason``, the usage chunk with empty ``choices`` (``include_usage``), then
``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

MODEL = "gpt-4o-mini-2024-07-18"  # what OpenAI reports for "gpt-4o-mini"
CHUNK_ID = "chatcmpl-AbC123xyz"
USAGE = {"prompt_tokens": 57, "completion_tokens": 17, "total_tokens": 74,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                       "accepted_prediction_tokens": 0,
                                       "rejected_prediction_tokens": 0}}
DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class Wait:
    """Send nothing more until ``event`` is set (or the client closes the connection)."""

    event: asyncio.Event


class _Cut:
    pass


CUT = _Cut()  # close the connection here, without ending the chunked body
Step = bytes | Wait | _Cut


@dataclass
class Reply:
    steps: Sequence[Step]
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"content-type": "text/event-stream; charset=utf-8"})

    @classmethod
    def error(cls, status: int, message: str, type_: str, code: str | None = None) -> Reply:
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        return cls([json.dumps(body, indent=2).encode()], status,
                   {"content-type": "application/json"})


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: dict[str, Any]


def sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def chunk(delta: dict[str, Any], finish_reason: str | None = None, *, model: str = MODEL,
          chunk_id: str = CHUNK_ID) -> bytes:
    return sse({"id": chunk_id, "object": "chat.completion.chunk", "created": 1727000000,
                "model": model, "system_fingerprint": "fp_e2bde53e6e",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish_reason}],
                "usage": None})


def usage_chunk(usage: dict[str, Any] | None = None) -> bytes:
    return sse({"id": CHUNK_ID, "object": "chat.completion.chunk", "created": 1727000000,
                "model": MODEL, "system_fingerprint": "fp_e2bde53e6e", "choices": [],
                "usage": USAGE if usage is None else usage})


def text_steps(*pieces: str) -> list[Step]:
    return [chunk({"role": "assistant", "content": "", "refusal": None}),
            *(chunk({"content": p}) for p in pieces),
            chunk({}, "stop"), usage_chunk(), DONE]


def tool_steps(*calls: tuple[str, str, Sequence[str]]) -> list[Step]:
    """(id, name, argument fragments) per call, one call after the other, as OpenAI
    streams parallel calls."""
    steps: list[Step] = []
    for index, (call_id, name, fragments) in enumerate(calls):
        first = {"index": index, "id": call_id, "type": "function",
                 "function": {"name": name, "arguments": ""}}
        delta: dict[str, Any] = {"tool_calls": [first]}
        if index == 0:
            delta = {"role": "assistant", "content": None, "refusal": None, **delta}
        steps.append(chunk(delta))
        steps.extend(chunk({"tool_calls": [{"index": index, "function": {"arguments": f}}]})
                     for f in fragments)
    return [*steps, chunk({}, "tool_calls"), usage_chunk(), DONE]


@dataclass
class ReplayServer:
    replies: list[Reply]
    requests: list[Request] = field(default_factory=list)
    client_gone: asyncio.Event = field(default_factory=asyncio.Event)  # seen while waiting
    errors: list[BaseException] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        self.connections += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except ConnectionError:
            pass  # the client went away mid-reply: its own test checks what it saw
        except Exception as exc:  # kept, and raised by replay_server at exit
            self.errors.append(exc)
        finally:
            writer.close()
            del self._handlers[task]

    async def _exchange(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> bool:
        """One request and its scripted reply; False once the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed an idle keep-alive connection
        line, *fields = head.decode("latin-1").split("\r\n")[:-2]
        method, path, _ = line.split(" ")
        headers = {k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Request(method, path, headers, json.loads(body or b"{}")))
        reply = self.replies.pop(0)
        if reply.status != 200:  # an error: a plain JSON body, as OpenAI sends it
            payload = b"".join(s for s in reply.steps if isinstance(s, bytes))
            writer.write(_head(reply, {"content-length": str(len(payload))}) + payload)
            await writer.drain()
            return True
        writer.write(_head(reply, {"transfer-encoding": "chunked"}))
        for step in reply.steps:
            if isinstance(step, _Cut):
                return False
            if isinstance(step, Wait):
                if not await self._wait(step.event, reader):
                    return False
                continue
            writer.write(b"%x\r\n%s\r\n" % (len(step), step))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _wait(self, event: asyncio.Event, reader: asyncio.StreamReader) -> bool:
        """True when the test released the reply, False when the client closed first."""
        async with asyncio.TaskGroup() as tg:
            released = tg.create_task(event.wait())
            closed = tg.create_task(_closed(reader))
            await asyncio.wait([released, closed], return_when=asyncio.FIRST_COMPLETED)
            released.cancel()
            closed.cancel()
        if closed.cancelled():
            return True
        self.client_gone.set()
        return False


async def _closed(reader: asyncio.StreamReader) -> None:
    """Return when the client closes: while it waits for a reply it sends nothing else."""
    try:
        extra = await reader.read(1)
    except ConnectionError:
        return
    assert extra == b"", f"the client sent {extra!r} before the reply ended"


def _head(reply: Reply, framing: dict[str, str]) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests",
              500: "Internal Server Error"}.get(reply.status, "Status")
    lines = [f"HTTP/1.1 {reply.status} {reason}",
             *(f"{k}: {v}" for k, v in {**reply.headers, **framing}.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


@contextlib.asynccontextmanager
async def replay_server(*replies: Reply) -> AsyncIterator[ReplayServer]:
    server = ReplayServer(list(replies))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        # hang up on every client still connected: a handler on a Wait, or one idle in
        # keep-alive, sees its connection end and returns
        for writer in server._handlers.values():
            writer.close()
        if server._handlers:
            _, stuck = await asyncio.wait(server._handlers, timeout=5)
            for task in stuck:  # a handler that ignored the hang-up: a bug here
                task.cancel()
            assert not stuck, "a replay handler did not stop when its connection closed"
        await listener.wait_closed()
    if server.errors:
        raise server.errors[0]
