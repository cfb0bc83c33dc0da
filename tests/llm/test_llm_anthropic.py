"""The Anthropic client against a local replay of the Messages API's wire format (see
anthropic_replay), plus its sans-IO decoder fed bytes directly."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

import pytest
from anthropic_replay import (
    MODEL,
    Cut,
    Pause,
    ReplayServer,
    Reply,
    error_event,
    finish,
    http_error,
    message_start,
    sse,
    stream,
    text_block,
    tool_block,
)

from frontdesk.brain.llm.anthropic import AnthropicDecoder, AnthropicProvider, request_body
from frontdesk.brain.llm.stream import (
    ChatMessage,
    Finished,
    Provider,
    ProviderError,
    Started,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)

ASKED = "claude-sonnet-4-5"  # the alias asked for; the server answers with the dated MODEL
HELLO = [ChatMessage("user", "Hello")]
BOOK = ToolSpec("book", "Book an appointment", {
    "type": "object", "properties": {"service": {"type": "string"}, "start": {"type": "string"}},
    "required": ["service", "start"]})


@asynccontextmanager
async def replay(*replies: Reply, read_timeout: float = 5.0
                 ) -> AsyncIterator[tuple[ReplayServer, AnthropicProvider]]:
    async with asyncio.timeout(10), ReplayServer(replies) as server:  # a bound, not a guess
        provider = AnthropicProvider(ASKED, "sk-ant-test", base_url=server.url,
                                     read_timeout=read_timeout)
        try:
            yield server, provider
        finally:
            await provider.aclose()


async def collect(provider: AnthropicProvider, messages: Sequence[ChatMessage] = HELLO,
                  tools: Sequence[ToolSpec] = (), into: list[StreamEvent] | None = None,
                  system: str = "You are a receptionist.") -> list[StreamEvent]:
    events = [] if into is None else into
    async for event in provider.stream(system, messages, tools):
        events.append(event)
    return events


async def failure(reply: Reply, **kwargs: float) -> tuple[ProviderError, list[StreamEvent]]:
    """The error a reply ends in, and what was yielded before it."""
    events: list[StreamEvent] = []
    async with replay(reply, **kwargs) as (_, provider):
        with pytest.raises(ProviderError) as caught:
            await collect(provider, into=events)
    assert caught.value.provider == "anthropic"
    return caught.value, events


def texts(events: Sequence[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# -- replies ---------------------------------------------------------------------------------


async def test_text_streams_in_pieces_between_started_and_finished() -> None:
    async with replay(stream(message_start(), text_block(0, "Hello", "! How can", " I help?"),
                             finish("end_turn", 12))) as (_, provider):
        events = await collect(provider)
    assert events == [Started(MODEL, "req_replay"), TextDelta("Hello"), TextDelta("! How can"),
                      TextDelta(" I help?"),
                      Finished("end_turn", {"input_tokens": 25, "output_tokens": 12})]


async def test_started_falls_back_to_the_message_id_without_a_request_id_header() -> None:
    reply = stream(message_start(model="claude-haiku-4-5-20251001", message_id="msg_42"),
                   text_block(0, "Hi"), finish(), request_id=None)
    async with replay(reply) as (_, provider):
        events = await collect(provider)
    assert events[0] == Started("claude-haiku-4-5-20251001", "msg_42")


async def test_a_tool_input_in_fragments_becomes_one_complete_call() -> None:
    reply = stream(message_start(), tool_block(0, "toolu_01", "book", "", '{"serv',
                                               'ice": "cut", "st', 'art": "2025-06-02T09:00"}'),
                   finish("tool_use", 40))
    async with replay(reply) as (_, provider):
        events = await collect(provider, tools=[BOOK])
    raw = '{"service": "cut", "start": "2025-06-02T09:00"}'
    assert events[1:] == [
        ToolCall("toolu_01", "book", {"service": "cut", "start": "2025-06-02T09:00"}, raw),
        Finished("tool_use", {"input_tokens": 25, "output_tokens": 40})]


async def test_text_then_a_tool_call_in_one_reply() -> None:
    reply = stream(message_start(), text_block(0, "Let me check", " that."),
                   tool_block(1, "toolu_02", "book", '{"service": ', '"cut", ',
                              '"start": "tomorrow"}'),
                   finish("tool_use"))
    async with replay(reply) as (_, provider):
        events = await collect(provider, tools=[BOOK])
    assert [type(e) for e in events] == [Started, TextDelta, TextDelta, ToolCall, Finished]
    assert texts(events) == "Let me check that."
    call = events[3]
    assert isinstance(call, ToolCall)
    assert (call.id, call.arguments, call.error) == (
        "toolu_02", {"service": "cut", "start": "tomorrow"}, None)


async def test_malformed_tool_input_is_a_call_with_an_error_not_an_exception() -> None:
    reply = stream(message_start(), tool_block(0, "toolu_03", "book", '{"service": ', "cut}"),
                   finish("tool_use"))
    async with replay(reply) as (_, provider):
        events = await collect(provider, tools=[BOOK])
    [call] = [e for e in events if isinstance(e, ToolCall)]
    assert (call.arguments, call.raw_arguments) == ({}, '{"service": cut}')
    assert call.error is not None and "invalid JSON" in call.error
    assert isinstance(events[-1], Finished)


async def test_tool_input_that_is_json_but_not_an_object_is_an_error() -> None:
    reply = stream(message_start(), tool_block(0, "toolu_04", "book", "[1, ", "2]"),
                   finish("tool_use"))
    async with replay(reply) as (_, provider):
        events = await collect(provider, tools=[BOOK])
    [call] = [e for e in events if isinstance(e, ToolCall)]
    assert (call.arguments, call.error) == ({}, "not a JSON object")


async def test_a_tool_without_input_gets_empty_arguments() -> None:
    hang_up = ToolSpec("hang_up", "End the call", {"type": "object", "properties": {}})
    reply = stream(message_start(), tool_block(0, "toolu_05", "hang_up", ""),
                   tool_block(1, "toolu_06", "hang_up"), finish("tool_use"))
    async with replay(reply) as (_, provider):
        events = await collect(provider, tools=[hang_up])
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [ToolCall("toolu_05", "hang_up", {}), ToolCall("toolu_06", "hang_up", {})]


async def test_pings_comments_unknown_events_and_unknown_deltas_are_ignored() -> None:
    reply = stream(
        message_start(), sse("ping"), b": keep-alive\n\n",
        sse("content_block_start", {"index": 0, "content_block": {
            "type": "thinking", "thinking": ""}}),
        sse("content_block_delta", {"index": 0, "delta": {
            "type": "thinking_delta", "thinking": "<plan>book it</plan>"}}),
        sse("content_block_delta", {"index": 0, "delta": {
            "type": "signature_delta", "signature": "EqQBCgIYAhIM"}}),
        sse("content_block_stop", {"index": 0}),
        sse("message_annotation", {"annotation": {"kind": "future"}}),
        text_block(1, "Sure."), sse("ping"), finish())
    async with replay(reply) as (_, provider):
        events = await collect(provider)
    assert events == [Started(MODEL, "req_replay"), TextDelta("Sure."),
                      Finished("end_turn", {"input_tokens": 25, "output_tokens": 15})]


async def test_usage_is_the_latest_cumulative_count() -> None:
    reply = stream(message_start(input_tokens=300), text_block(0, "a"),
                   sse("message_delta", {"delta": {"stop_reason": None}, "usage": {
                       "output_tokens": 5}}),
                   sse("message_delta", {"delta": {"stop_reason": "max_tokens"}, "usage": {
                       "output_tokens": 9, "cache_read_input_tokens": 280}}),
                   sse("message_stop"))
    async with replay(reply) as (_, provider):
        events = await collect(provider)
    assert events[-1] == Finished("max_tokens", {
        "input_tokens": 300, "output_tokens": 9, "cache_read_input_tokens": 280})


# -- the request -----------------------------------------------------------------------------


async def test_the_request_carries_headers_system_tools_and_merged_turns() -> None:
    call = ToolCall("toolu_07", "book", {"service": "cut", "start": "tomorrow"})
    conversation = [
        ChatMessage("user", "Hi."),
        ChatMessage("user", "I'd like a haircut tomorrow."),
        ChatMessage("assistant", "Let me book that.", tool_calls=(call,)),
        ChatMessage("tool", tool_results=(ToolResult("toolu_07", "book", '{"ok": true}'),)),
        ChatMessage("user", "Thanks!"),
    ]
    async with replay(stream(message_start(), text_block(0, "Done."), finish())) as (
            server, provider):
        await collect(provider, conversation, [BOOK], system="You answer for Ann's Salon.")
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "model": ASKED, "max_tokens": 300, "stream": True,
        "system": "You answer for Ann's Salon.",
        "tools": [{"name": "book", "description": "Book an appointment",
                   "input_schema": BOOK.parameters}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi."},
                                         {"type": "text", "text": "I'd like a haircut tomorrow."}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me book that."},
                {"type": "tool_use", "id": "toolu_07", "name": "book",
                 "input": {"service": "cut", "start": "tomorrow"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_07", "content": '{"ok": true}'},
                {"type": "text", "text": "Thanks!"}]},
        ]}


def test_tool_results_lead_a_merged_user_turn_and_empty_turns_are_dropped() -> None:
    body = request_body("m", 64, "", [
        ChatMessage("assistant", tool_calls=(ToolCall("t1", "book", {}),)),
        ChatMessage("assistant", ""),
        ChatMessage("user", "Also, are you open Sunday?"),
        ChatMessage("tool", tool_results=(ToolResult("t1", "book", "{}"),)),
    ], [])
    assert "system" not in body and "tools" not in body
    assert body["messages"] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "book", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "{}"},
            {"type": "text", "text": "Also, are you open Sunday?"}]}]


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit_error"),
                                              (529, "overloaded_error"), (500, "api_error")])
async def test_rate_limits_overload_and_server_errors_are_retryable(status: int,
                                                                    kind: str) -> None:
    error, events = await failure(http_error(status, kind, "Try again later"))
    assert (error.status, error.retryable, events) == (status, True, [])
    assert kind in str(error)


@pytest.mark.parametrize(("status", "kind"), [(400, "invalid_request_error"),
                                              (401, "authentication_error")])
async def test_a_refused_request_is_not_retryable(status: int, kind: str) -> None:
    error, events = await failure(http_error(status, kind, "messages: field required"))
    assert (error.status, error.retryable, events) == (status, False, [])
    assert "messages: field required" in str(error)


async def test_an_overloaded_error_mid_stream_is_retryable() -> None:
    error, events = await failure(stream(message_start(), text_block(0, "One moment"),
                                         error_event("overloaded_error", "Overloaded")))
    assert (error.status, error.retryable) == (529, True)
    assert "overloaded_error" in str(error)
    assert texts(events) == "One moment"


async def test_an_invalid_request_error_mid_stream_is_not_retryable() -> None:
    error, _ = await failure(stream(message_start(),
                                    error_event("invalid_request_error", "bad tool")))
    assert (error.status, error.retryable) == (400, False)


async def test_a_connection_cut_mid_stream_is_retryable() -> None:
    error, events = await failure(stream(message_start(), text_block(0, "Half a sen"), Cut()))
    assert (error.status, error.retryable) == (None, True)
    assert texts(events) == "Half a sen"
    assert not any(isinstance(e, Finished) for e in events)


async def test_a_stream_that_ends_cleanly_without_message_stop_is_retryable() -> None:
    error, events = await failure(stream(message_start(), text_block(0, "Half")))
    assert error.retryable and "message_stop" in str(error)
    assert texts(events) == "Half"


async def test_silence_longer_than_the_read_timeout_is_retryable() -> None:
    gate = asyncio.Event()  # never set while the client waits: only its timeout can end it
    try:
        error, events = await failure(
            stream(message_start(), text_block(0, "Let me"), Pause(gate), finish()),
            read_timeout=0.2)
    finally:
        gate.set()
    assert (error.status, error.retryable) == (None, True)
    assert "Timeout" in str(error)
    assert texts(events) == "Let me"


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: a connect is refused, and nothing can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_a_refused_connection_is_retryable_without_a_status() -> None:
    with refusing_port() as port:
        provider = AnthropicProvider(ASKED, "k", base_url=f"http://127.0.0.1:{port}")
        try:
            with pytest.raises(ProviderError) as caught:
                await collect(provider)
        finally:
            await provider.aclose()
    assert (caught.value.status, caught.value.retryable) == (None, True)


async def test_malformed_data_is_an_error_never_text() -> None:
    error, events = await failure(stream(message_start(), text_block(0, "Hi"),
                                         b"event: content_block_delta\ndata: <html>oops\n\n",
                                         finish()))
    assert error.retryable is False
    assert texts(events) == "Hi"


async def test_a_200_that_is_not_an_event_stream_is_an_error_never_text() -> None:
    page = Reply(200, body=b"<html>captive portal</html>",
                 headers={"content-type": "text/html"})
    error, events = await failure(page)
    assert (error.status, error.retryable, events) == (200, False, [])


# -- the decoder alone -----------------------------------------------------------------------


def wire(*steps: bytes | list[bytes]) -> bytes:
    return b"".join(b"".join(s) if isinstance(s, list) else s for s in steps)


REPLY = wire(message_start(), text_block(0, "Booked for ", "9 o’clock."),
             tool_block(1, "toolu_08", "book", '{"service": "c', 'ut", "start": "9"}'),
             finish("tool_use"))


def decode(chunks: Sequence[bytes]) -> list[StreamEvent]:
    decoder = AnthropicDecoder(ASKED)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    assert decoder.finished
    return events


def test_the_decoder_yields_the_same_events_however_the_bytes_are_split() -> None:
    whole = decode([REPLY])
    assert texts(whole) == "Booked for 9 o’clock."
    assert whole[-2] == ToolCall("toolu_08", "book", {"service": "cut", "start": "9"},
                                 '{"service": "cut", "start": "9"}')
    for cut in range(1, len(REPLY)):
        assert decode([REPLY[:cut], REPLY[cut:]]) == whole
    assert decode([REPLY[i:i + 1] for i in range(len(REPLY))]) == whole


def test_the_decoder_ignores_what_follows_message_stop() -> None:
    decoder = AnthropicDecoder(ASKED)
    events = decoder.feed(wire(message_start(), finish(), text_block(0, "late")))
    assert [type(e) for e in events] == [Started, Finished]
    assert decoder.feed(sse("error", {"error": {"type": "api_error", "message": "x"}})) == []


def test_an_error_event_with_an_unknown_type_is_not_retried() -> None:
    decoder = AnthropicDecoder(ASKED)
    with pytest.raises(ProviderError) as caught:
        decoder.feed(error_event("brand_new_error", "?"))
    assert (caught.value.status, caught.value.retryable) == (None, False)


def test_a_data_line_that_is_json_but_not_an_object_is_malformed() -> None:
    with pytest.raises(ProviderError) as caught:
        AnthropicDecoder(ASKED).feed(b"event: message_start\ndata: " + json.dumps([1]).encode()
                                     + b"\n\n")
    assert caught.value.retryable is False


def test_a_text_delta_that_is_not_a_string_is_malformed_not_text() -> None:
    decoder = AnthropicDecoder(ASKED)
    decoder.feed(wire(message_start(), sse("content_block_start", {
        "index": 0, "content_block": {"type": "text", "text": ""}})))
    with pytest.raises(ProviderError) as caught:
        decoder.feed(sse("content_block_delta", {"index": 0, "delta": {
            "type": "text_delta", "text": {"html": "<b>hi</b>"}}}))
    assert caught.value.retryable is False


async def test_the_provider_fits_the_provider_protocol() -> None:
    provider: Provider = AnthropicProvider(ASKED, "k")  # mypy checks the fit
    assert (provider.name, provider.model) == ("anthropic", ASKED)
    await provider.aclose()
