"""Anthropic's Messages API, streamed: a sans-IO decoder and a small httpx adapter.

:func:`request_body` turns the provider-neutral conversation into the JSON Anthropic
wants; :class:`AnthropicDecoder` turns the bytes of a streamed reply into
:data:`~frontdesk.brain.llm.stream.StreamEvent` (no sockets, no clock, tested by feeding
it bytes); :class:`AnthropicProvider` is the asyncio adapter that POSTs and feeds it.

Wire format (``event: <type>`` + ``data: <json>``): ``message_start``, then per content
block ``content_block_start`` / ``content_block_delta``... / ``content_block_stop``, then
``message_delta`` (stop reason, cumulative usage) and ``message_stop``; ``ping`` and event
types added later are ignored; an ``error`` event can come at any point.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from frontdesk.brain.llm.sse import SseParser
from frontdesk.brain.llm.stream import (
    ChatMessage,
    Finished,
    ProviderError,
    Started,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolSpec,
)

__all__ = ["AnthropicDecoder", "AnthropicProvider", "request_body"]

NAME = "anthropic"

# The HTTP status each documented error type is sent with. An ``error`` event inside a
# 200 stream carries only the type: the status it maps to says whether to retry.
_ERROR_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def request_body(model: str, max_tokens: int, system: str, messages: Sequence[ChatMessage],
                 tools: Sequence[ToolSpec]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": True,
                            "messages": _messages(messages)}
    if system:
        body["system"] = system
    if tools:
        body["tools"] = [{"name": t.name, "description": t.description,
                          "input_schema": t.parameters} for t in tools]
    return body


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Tool results travel in a user turn, and the API wants roles to alternate: runs of
    same-role messages become one message, tool_result blocks first (the API's order)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        blocks: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": r.call_id, "content": r.content}
            for r in m.tool_results]
        if m.text:
            blocks.append({"type": "text", "text": m.text})
        blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                   for c in m.tool_calls]
        role = "assistant" if m.role == "assistant" else "user"
        if not blocks:
            continue  # the API refuses empty content
        if out and out[-1]["role"] == role:
            out[-1]["content"] += blocks
        else:
            out.append({"role": role, "content": blocks})
    for message in out:
        if message["role"] == "user":
            message["content"].sort(key=lambda b: b["type"] != "tool_result")
    return out


@dataclass
class _Block:
    kind: str  # "text", "tool_use", or a block type this client does not use
    id: str = ""
    name: str = ""
    start_input: Any = None
    parts: list[str] = field(default_factory=list)


class AnthropicDecoder:
    """One streamed reply: bytes in, events out. Raises :class:`ProviderError` for an
    ``error`` event or a stream that is not Anthropic's JSON; ``finished`` turns True on
    ``message_stop`` and later bytes are ignored."""

    def __init__(self, model: str, request_id: str | None = None) -> None:
        self._sse = SseParser()
        self._model, self._request_id = model, request_id
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, int] = {}
        self._stop_reason = ""
        self.finished = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for sse in self._sse.feed(chunk):
            if self.finished:
                break
            try:
                payload = json.loads(sse.data)
            except ValueError as e:
                raise _malformed(sse.event, sse.data) from e
            events += self._event(payload if isinstance(payload, dict) else {"type": None},
                                  sse.event, sse.data)
        return events

    def _event(self, p: dict[str, Any], name: str, data: str) -> list[StreamEvent]:
        match p:
            case {"type": "message_start", "message": {**message}}:
                self._add_usage(message.get("usage"))
                model, message_id = message.get("model"), message.get("id")
                return [Started(model if isinstance(model, str) and model else self._model,
                                self._request_id or (
                                    message_id if isinstance(message_id, str) else None))]
            case {"type": "content_block_start", "index": int(index),
                  "content_block": {"type": str(kind), **block}}:
                self._blocks[index] = _Block(kind, str(block.get("id", "")),
                                             str(block.get("name", "")), block.get("input"))
                text = block.get("text") if kind == "text" else None
                return [TextDelta(text)] if isinstance(text, str) and text else []
            case {"type": "content_block_delta",
                  "delta": {"type": "text_delta", "text": str(text)}}:
                return [TextDelta(text)] if text else []
            case {"type": "content_block_delta", "index": int(index),
                  "delta": {"type": "input_json_delta", "partial_json": str(part)}}:
                if (open_block := self._blocks.get(index)) and open_block.kind == "tool_use":
                    open_block.parts.append(part)
                return []
            case {"type": "content_block_stop", "index": int(index)}:
                done = self._blocks.pop(index, None)
                return [_tool_call(done)] if done and done.kind == "tool_use" else []
            case {"type": "message_delta"}:
                match p.get("delta"):
                    case {"stop_reason": str(reason)}:
                        self._stop_reason = reason
                self._add_usage(p.get("usage"))
                return []
            case {"type": "message_stop"}:
                self.finished = True
                return [Finished(self._stop_reason or "unknown", dict(self._usage))]
            case {"type": "error", "error": {"type": str(kind), **error}}:
                status = _ERROR_STATUS.get(kind)
                raise ProviderError(f"{NAME}: {kind}: {error.get('message', '')}",
                                    status=status, retryable=status is not None
                                    and _retryable(status), provider=NAME)
            case {"type": "message_start" | "content_block_start" | "content_block_stop"
                  | "error" | None}:
                raise _malformed(name, data)
            case {"type": "content_block_delta", "delta": {"type": "text_delta"
                                                           | "input_json_delta"}}:
                raise _malformed(name, data)
        return []  # ping, thinking and signature deltas, and whatever the API adds later

    def _add_usage(self, usage: Any) -> None:
        """Usage counts are cumulative: the latest figure wins."""
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items()
                                if isinstance(v, int) and not isinstance(v, bool)})


def _malformed(name: str, data: str) -> ProviderError:
    return ProviderError(f"{NAME}: malformed {name!r} event: {data[:200]!r}",
                         retryable=False, provider=NAME)


def _tool_call(block: _Block) -> ToolCall:
    raw = "".join(block.parts)
    if not raw.strip():  # a tool without parameters streams no JSON at all
        start = block.start_input
        return ToolCall(block.id, block.name, start if isinstance(start, dict) else {}, raw)
    try:
        arguments = json.loads(raw)
    except ValueError as e:
        return ToolCall(block.id, block.name, {}, raw, error=f"invalid JSON: {e}")
    if not isinstance(arguments, dict):
        return ToolCall(block.id, block.name, {}, raw, error="not a JSON object")
    return ToolCall(block.id, block.name, arguments, raw)


def _http_error(status: int, body: bytes) -> ProviderError:
    try:
        error = json.loads(body)["error"]
        detail = f"{error['type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        detail = body[:200].decode("utf-8", "replace")
    return ProviderError(f"{NAME}: HTTP {status}: {detail}", status=status,
                         retryable=_retryable(status), provider=NAME)


class AnthropicProvider:
    """Streams replies from ``{base_url}/v1/messages``. ``read_timeout`` bounds the
    silence between two reads of the stream (Anthropic pings while the model thinks).
    An injected ``client`` stays the caller's to close."""

    name = NAME

    def __init__(self, model: str, api_key: str, *, base_url: str = "https://api.anthropic.com",
                 max_tokens: int = 300, anthropic_version: str = "2023-06-01",
                 connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.model, self.max_tokens = model, max_tokens
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._headers = {"x-api-key": api_key, "anthropic-version": anthropic_version,
                         "content-type": "application/json", "accept": "text/event-stream"}
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    async def stream(self, system: str, messages: Sequence[ChatMessage],
                     tools: Sequence[ToolSpec]) -> AsyncGenerator[StreamEvent, None]:
        body = request_body(self.model, self.max_tokens, system, messages, tools)
        try:
            async with self._client.stream("POST", self._url, json=body, headers=self._headers,
                                           timeout=self._timeout) as response:
                if response.status_code != 200:
                    raise _http_error(response.status_code, await response.aread())
                if not response.headers.get("content-type", "").startswith(
                        "text/event-stream"):
                    raise ProviderError(f"{NAME}: not an event stream: "
                                        f"{response.headers.get('content-type')!r}",
                                        status=200, retryable=False, provider=NAME)
                decoder = AnthropicDecoder(self.model, response.headers.get("request-id"))
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        yield event
                    if decoder.finished:
                        return
        except httpx.TimeoutException as e:
            raise ProviderError(f"{NAME}: {type(e).__name__}", retryable=True,
                                provider=NAME) from e
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as e:
            raise ProviderError(f"{NAME}: {e!r}", retryable=False, provider=NAME) from e
        except httpx.TransportError as e:  # refused, reset, cut mid-body
            raise ProviderError(f"{NAME}: {e!r}", retryable=True, provider=NAME) from e
        raise ProviderError(f"{NAME}: the stream ended before message_stop",
                            retryable=True, provider=NAME)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
