"""OpenAI Chat Completions, streamed: OpenAI itself or any server that speaks its wire
format (vLLM, llama.cpp's server, OpenRouter, Azure's compatible endpoint, ...).

Two pure pieces and a thin adapter. :func:`request_body` turns the provider-neutral
conversation into the JSON body; :class:`ChunkDecoder` turns the Server-Sent Events of the
answer into :data:`StreamEvent` (sans-IO: no socket, no clock). :class:`OpenAIProvider`
POSTs the body with httpx and feeds the bytes through :class:`SseParser` and the decoder,
mapping every transport failure to :class:`ProviderError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from frontdesk.brain.llm.sse import SseEvent, SseParser
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

__all__ = ["ChunkDecoder", "OpenAIConfig", "OpenAIProvider", "request_body"]

NAME = "openai"


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str  # up to the version: "https://api.openai.com/v1"
    model: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # the longest silence allowed between two chunks
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. OpenRouter's X-Title
    # a spoken reply is a few sentences: a model that rambles on is cut here, not at the
    # end of its context (a small model on two cores takes a minute to fill 2048 tokens)
    max_tokens: int | None = 300


def request_body(model: str, system: str, messages: Sequence[ChatMessage],
                 tools: Sequence[ToolSpec], max_tokens: int | None = None) -> dict[str, Any]:
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        wire.extend(_message(message))
    body: dict[str, Any] = {"model": model, "messages": wire, "stream": True,
                            "stream_options": {"include_usage": True}}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if tools:  # OpenAI refuses an empty "tools" array
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": t.parameters,
        }} for t in tools]
    return body


def _message(message: ChatMessage) -> list[dict[str, Any]]:
    """One neutral message is one OpenAI message, except tool results: one each."""
    out: list[dict[str, Any]] = [{"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                                 for r in message.tool_results]
    if message.role == "tool":
        if message.text or not out:
            raise ValueError("a tool message carries tool_results and no text")
        return out
    if message.role == "assistant" and message.tool_calls:
        out.append({"role": "assistant", "content": message.text or None, "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": _arguments_text(c)}}
            for c in message.tool_calls]})
    elif message.text:
        out.append({"role": message.role, "content": message.text})
    return out


def _arguments_text(call: ToolCall) -> str:
    # the model's own text when it was valid (what it saw last time), else what was run
    if call.raw_arguments and call.error is None:
        return call.raw_arguments
    return json.dumps(call.arguments)


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChunkDecoder:
    """The events of one streamed answer, from its SSE events.

    ``Started`` at the first chunk; text as it comes; a tool call once its arguments are
    complete (at ``finish_reason``, or ``[DONE]`` for servers that omit it); ``Finished``
    at ``[DONE]``, after the usage chunk that precedes it. :meth:`end` is the end of the
    body: an answer without ``finish_reason`` or ``[DONE]`` was cut off.
    """

    def __init__(self, model: str, request_id: str | None = None) -> None:
        self._model, self._request_id = model, request_id
        self._started = False
        self._calls: dict[int, _PartialCall] = {}
        self._reason: str | None = None
        self._usage: dict[str, int] = {}
        self.done = False

    def feed(self, event: SseEvent) -> list[StreamEvent]:
        if self.done:
            return []
        if event.data.strip() == "[DONE]":
            return self._finish()
        try:
            chunk = json.loads(event.data)
        except ValueError:
            raise _malformed(f"a chunk that is not JSON: {event.data[:200]!r}") from None
        if not isinstance(chunk, dict):
            raise _malformed(f"a chunk that is not an object: {event.data[:200]!r}")
        if chunk.get("error") is not None:
            raise _stream_error(chunk["error"])
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            model, chunk_id = chunk.get("model"), chunk.get("id")
            out.append(Started(model if isinstance(model, str) and model else self._model,
                               self._request_id or (chunk_id if isinstance(chunk_id, str)
                                                    else None)))
        usage = _object(chunk.get("usage"))
        self._usage.update({k: usage[k] for k in ("prompt_tokens", "completion_tokens")
                            if isinstance(usage.get(k), int)})
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise _malformed(f"choices is not a list: {choices!r}"[:200])
        for choice in map(_object, choices):
            if choice.get("index", 0) == 0:  # n=1: there is no other choice
                out.extend(self._choice(choice))
        return out

    def end(self) -> list[StreamEvent]:
        if self.done:
            return []
        if self._reason is None:
            raise ProviderError("the stream was cut off before the answer finished",
                                retryable=True, provider=NAME)
        return self._finish()

    def _choice(self, choice: dict[str, Any]) -> list[StreamEvent]:
        delta = _object(choice.get("delta"))
        out: list[StreamEvent] = []
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.append(TextDelta(content))
        for position, piece in enumerate(map(_object, delta.get("tool_calls") or [])):
            index = piece.get("index", position)  # some servers leave it out
            call = self._calls.setdefault(index if isinstance(index, int) else position,
                                          _PartialCall())
            function = _object(piece.get("function"))
            if isinstance(piece.get("id"), str) and not call.id:
                call.id = piece["id"]
            if isinstance(function.get("name"), str) and not call.name:
                call.name = function["name"]
            if isinstance(function.get("arguments"), str):
                call.arguments.append(function["arguments"])
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._reason = reason
            out.extend(self._complete_calls())
        return out

    def _complete_calls(self) -> list[StreamEvent]:
        calls: list[StreamEvent] = [_tool_call(i, self._calls[i]) for i in sorted(self._calls)]
        self._calls.clear()
        return calls

    def _finish(self) -> list[StreamEvent]:
        self.done = True
        out = self._complete_calls()
        reason = self._reason or ("tool_calls" if out else "stop")
        return [*out, Finished(reason, dict(self._usage))]


def _tool_call(index: int, partial: _PartialCall) -> ToolCall:
    raw = "".join(partial.arguments)
    call_id = partial.id or f"call_{index}"
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        return ToolCall(call_id, partial.name, {}, raw, f"arguments are not JSON: {exc}")
    if not isinstance(arguments, dict):
        return ToolCall(call_id, partial.name, {}, raw, "arguments are not a JSON object")
    return ToolCall(call_id, partial.name, arguments, raw)


def _object(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(f"expected an object, got {value!r}"[:200])
    return value


def _malformed(message: str) -> ProviderError:
    return ProviderError(f"malformed stream: {message}", retryable=False, provider=NAME)


_TRANSIENT = ("rate_limit", "server", "overloaded", "unavailable", "timeout")


def _stream_error(error: object) -> ProviderError:
    """An error object sent inside a 200 stream: retryable when it says rate limit or
    server trouble, by name (OpenAI) or by an HTTP-like code (OpenRouter, vLLM)."""
    body = error if isinstance(error, dict) else {"message": error}
    code = body.get("code")
    names = " ".join(str(body.get(k) or "") for k in ("type", "code")).lower()
    status = code if isinstance(code, int) else None
    retryable = any(word in names for word in _TRANSIENT) or (
        status is not None and (status == 429 or status >= 500))
    return ProviderError(f"error in stream: {body.get('message') or body}"[:300],
                         status=status, retryable=retryable, provider=NAME)


def _http_error(response: httpx.Response) -> ProviderError:
    status = response.status_code
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    text = message if isinstance(message, str) and message else response.text[:200]
    return ProviderError(f"HTTP {status}: {text}", status=status,
                         retryable=status == 429 or status >= 500, provider=NAME)


class OpenAIProvider:
    name = NAME

    def __init__(self, config: OpenAIConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config, self.model = config, config.model
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        self._headers = {"accept": "text/event-stream", **config.headers}
        if config.api_key:
            self._headers["authorization"] = f"Bearer {config.api_key}"

    async def stream(self, system: str, messages: Sequence[ChatMessage],
                     tools: Sequence[ToolSpec]) -> AsyncGenerator[StreamEvent, None]:
        """An async generator, so a caller that stops early (barge-in) can close it at
        once with ``contextlib.aclosing``, which closes the HTTP response."""
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        body = request_body(self.model, system, messages, tools, self.config.max_tokens)
        decoder = ChunkDecoder(self.model)
        try:
            async with self._client.stream("POST", url, json=body, headers=self._headers,
                                           timeout=self._timeout) as response:
                if not response.is_success:
                    await response.aread()
                    raise _http_error(response)
                kind = response.headers.get("content-type", "").lower()
                if not kind.startswith("text/event-stream"):
                    raise _malformed(f"HTTP {response.status_code} with {kind or 'no'} "
                                     "content type, not text/event-stream")
                decoder = ChunkDecoder(self.model, response.headers.get("x-request-id"))
                parser = SseParser()
                # read on after [DONE] to the end of the body, as OpenAI's own client
                # does: a connection left mid-body cannot go back to the pool
                async for data in response.aiter_bytes():
                    for event in parser.feed(data) if data else ():
                        for item in decoder.feed(event):
                            yield item
                for item in decoder.end():
                    yield item
        except httpx.TransportError as exc:  # refused, timed out, reset, cut short
            if decoder.done:
                return  # after [DONE] the answer was whole: only the connection's end failed
            what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
            raise ProviderError(f"{what}: {type(exc).__name__}: {exc}", retryable=True,
                                provider=NAME) from exc

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
