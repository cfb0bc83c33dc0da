"""The OpenAI-compatible client against a scripted server speaking the real wire format
(tests/llm/openai_replay.py), and its sans-IO decoder alone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from openai_replay import (
    CHUNK_ID,
    CUT,
    DONE,
    MODEL,
    ReplayServer,
    Reply,
    Step,
    Wait,
    chunk,
    replay_server,
    sse,
    text_steps,
    tool_steps,
    usage_chunk,
)

from frontdesk.brain.llm.openai import ChunkDecoder, OpenAIConfig, OpenAIProvider, request_body
from frontdesk.brain.llm.sse import SseEvent, SseParser
from frontdesk.brain.llm.stream import (
    ChatMessage,
    Finished,
    ProviderError,
    Started,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)

SYSTEM = "You are the front desk of Joe's Garage."
HELLO = [ChatMessage("user", "Hi, can I book an oil change?")]
USAGE = {"prompt_tokens": 57, "completion_tokens": 17}
BOOK = ToolSpec("book_appointment", "Book a service slot.", {
    "type": "object",
    "properties": {"service": {"type": "string"}, "when": {"type": "string"}},
    "required": ["service", "when"],
})


@contextlib.asynccontextmanager
async def provider(base_url: str, **config: Any) -> AsyncIterator[OpenAIProvider]:
    p = OpenAIProvider(OpenAIConfig(base_url, "gpt-4o-mini", **config))
    try:
        yield p
    finally:
        await p.aclose()


async def run(server: ReplayServer, messages: Sequence[ChatMessage] = HELLO,
              tools: Sequence[ToolSpec] = (), **config: Any) -> list[StreamEvent]:
    async with provider(server.base_url, api_key="sk-test", **config) as p:
        return [e async for e in p.stream(SYSTEM, messages, tools)]


async def run_to_error(base_url: str, **config: Any) -> tuple[list[StreamEvent], ProviderError]:
    """The events that came before the stream failed, and the failure."""
    seen: list[StreamEvent] = []
    async with provider(base_url, **config) as p:
        with pytest.raises(ProviderError) as caught:
            async for event in p.stream(SYSTEM, HELLO, ()):
                seen.append(event)
    assert caught.value.provider == "openai"
    return seen, caught.value


# -- what comes back ---------------------------------------------------------------------

async def test_text_streams_as_deltas_then_finished_with_usage() -> None:
    reply = Reply(text_steps("Sure!", " What day", " suits you?"))
    reply.headers["x-request-id"] = "req_5f2a9c"
    async with replay_server(reply) as server:
        assert await run(server) == [
            Started(MODEL, "req_5f2a9c"),
            TextDelta("Sure!"), TextDelta(" What day"), TextDelta(" suits you?"),
            Finished("stop", USAGE),
        ]


async def test_started_names_the_model_that_answered_and_the_chunk_id() -> None:
    async with replay_server(Reply(text_steps("Hi"))) as server:
        async with provider(server.base_url) as p:
            events = [e async for e in p.stream(SYSTEM, HELLO, ())]
    assert p.model == "gpt-4o-mini"  # what was asked for ...
    assert events[0] == Started("gpt-4o-mini-2024-07-18", CHUNK_ID)  # ... and what answered


async def test_tool_call_arguments_in_fragments_come_as_one_call() -> None:
    fragments = ['{"serv', 'ice": "oil ch', 'ange", "when": "Thurs', 'day 3 PM"}']
    async with replay_server(Reply(tool_steps(("call_Qx7", "book_appointment",
                                               fragments)))) as server:
        events = await run(server, tools=[BOOK])
    assert events == [
        Started(MODEL, CHUNK_ID),
        ToolCall("call_Qx7", "book_appointment",
                 {"service": "oil change", "when": "Thursday 3 PM"}, "".join(fragments)),
        Finished("tool_calls", USAGE),
    ]


async def test_tool_call_is_yielded_at_finish_reason_before_usage_and_done() -> None:
    gate = asyncio.Event()
    steps = tool_steps(("call_1", "book_appointment", ['{"service": ', '"tyres", ',
                                                       '"when": "now"}']))
    steps.insert(-2, Wait(gate))  # hold back the usage chunk and [DONE]
    async with replay_server(Reply(steps)) as server, provider(server.base_url) as p:
        async with asyncio.timeout(5), \
                contextlib.aclosing(p.stream(SYSTEM, HELLO, [BOOK])) as stream:
            assert isinstance(await anext(stream), Started)
            call = await anext(stream)
            assert not gate.is_set()
            assert call == ToolCall("call_1", "book_appointment",
                                    {"service": "tyres", "when": "now"},
                                    '{"service": "tyres", "when": "now"}')
            gate.set()
            assert await anext(stream) == Finished("tool_calls", USAGE)
            with pytest.raises(StopAsyncIteration):
                await anext(stream)


async def test_two_parallel_tool_calls() -> None:
    steps = tool_steps(("call_A", "check_availability", ['{"day":', ' "Thursday"', '}']),
                       ("call_B", "lookup_customer", ['{"phone": "+1555', '0100"}']))
    async with replay_server(Reply(steps)) as server:
        events = await run(server, tools=[BOOK])
    assert events[1:] == [
        ToolCall("call_A", "check_availability", {"day": "Thursday"}, '{"day": "Thursday"}'),
        ToolCall("call_B", "lookup_customer", {"phone": "+15550100"},
                 '{"phone": "+15550100"}'),
        Finished("tool_calls", USAGE),
    ]


async def test_malformed_tool_arguments_give_a_call_with_an_error() -> None:
    steps = tool_steps(("call_bad", "book_appointment", ['{"when": "Thurs', 'day']),
                       ("call_list", "book_appointment", ["[1, 2]"]),
                       ("call_ok", "book_appointment", ['{"service": "wash"}']))
    async with replay_server(Reply(steps)) as server:
        events = await run(server, tools=[BOOK])
    bad, listed, ok = (e for e in events if isinstance(e, ToolCall))
    assert (bad.arguments, bad.raw_arguments) == ({}, '{"when": "Thursday')
    assert bad.error is not None and "not JSON" in bad.error
    assert (listed.arguments, listed.error) == ({}, "arguments are not a JSON object")
    assert ok == ToolCall("call_ok", "book_appointment", {"service": "wash"},
                          '{"service": "wash"}')
    assert events[-1] == Finished("tool_calls", USAGE)


# -- what is sent ------------------------------------------------------------------------

async def test_request_carries_the_conversation_tools_and_stream_flags() -> None:
    checked = ToolCall("call_1", "check_availability", {"day": "Thursday"},
                       '{"day":"Thursday"}')
    conversation = [
        ChatMessage("user", "Can I book an oil change on Thursday?"),
        ChatMessage("assistant", "", tool_calls=(checked,)),
        ChatMessage("tool", tool_results=(
            ToolResult("call_1", "check_availability", '{"free": ["15:00"]}'),)),
        ChatMessage("assistant", "Thursday at 3 PM is free. Shall I book it?"),
        ChatMessage("user", "Yes please."),
    ]
    async with replay_server(Reply(text_steps("Done."))) as server:
        await run(server, conversation, [BOOK], headers={"X-Title": "frontdesk"})
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-title"] == "frontdesk"
    assert request.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Can I book an oil change on Thursday?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "check_availability",
                              "arguments": '{"day":"Thursday"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"free": ["15:00"]}'},
            {"role": "assistant", "content": "Thursday at 3 PM is free. Shall I book it?"},
            {"role": "user", "content": "Yes please."},
        ],
        "stream": True,
        "stream_options": {"include_usage": True}, "max_tokens": 300,
        "tools": [{"type": "function", "function": {
            "name": "book_appointment", "description": "Book a service slot.",
            "parameters": BOOK.parameters}}],
    }


async def test_no_key_no_tools_for_a_local_server() -> None:
    async with replay_server(Reply(text_steps("Hi"))) as server:
        async with provider(server.base_url + "/") as p:  # a trailing slash is fine
            _ = [e async for e in p.stream("", HELLO, ())]
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert "authorization" not in request.headers
    assert "tools" not in request.body
    assert request.body["messages"] == [{"role": "user", "content": HELLO[0].text}]


def test_a_malformed_call_is_sent_back_as_the_arguments_that_were_used() -> None:
    bad = ToolCall("call_9", "book_appointment", {}, '{"when": "Thurs', "not JSON")
    body = request_body("m", "", [ChatMessage("assistant", "One moment.", (bad,))], ())
    assert body["messages"] == [{"role": "assistant", "content": "One moment.", "tool_calls": [
        {"id": "call_9", "type": "function",
         "function": {"name": "book_appointment", "arguments": "{}"}}]}]


def test_a_tool_message_without_results_is_refused() -> None:
    with pytest.raises(ValueError):
        request_body("m", "", [ChatMessage("tool", "orphan text")], ())


async def test_the_body_is_read_to_its_end_so_the_connection_is_reused() -> None:
    gate = asyncio.Event()
    first: list[Step] = [*text_steps("One."), Wait(gate)]  # [DONE], then the body's end
    async with replay_server(Reply(first), Reply(text_steps("Two."))) as server, \
            provider(server.base_url) as p, asyncio.timeout(5):
        async with contextlib.aclosing(p.stream(SYSTEM, HELLO, ())) as stream:
            events = [await anext(stream) for _ in range(3)]
            assert events[1:] == [TextDelta("One."), Finished("stop", USAGE)]
            gate.set()  # Finished came before the end of the body: now let the body end
            with pytest.raises(StopAsyncIteration):
                await anext(stream)
        second = [e async for e in p.stream(SYSTEM, HELLO, ())]
    assert second[1] == TextDelta("Two.")
    assert not server.client_gone.is_set()
    assert server.connections == 1


async def test_a_hang_up_after_done_is_not_an_error() -> None:
    async with replay_server(Reply([*text_steps("Bye."), CUT])) as server:
        events = await run(server)
    assert events[1:] == [TextDelta("Bye."), Finished("stop", USAGE)]


# -- failures ----------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "message", "type_", "code"), [
    (429, "Rate limit reached for gpt-4o-mini in organization org-x on requests per min "
          "(RPM): Limit 3, Used 3, Requested 1.", "requests", "rate_limit_exceeded"),
    (500, "The server had an error while processing your request. Sorry about that!",
     "server_error", None),
    (503, "The engine is currently overloaded, please try again later.", "server_error",
     None),
])
async def test_rate_limit_and_server_errors_are_retryable(status: int, message: str,
                                                          type_: str, code: str | None) -> None:
    async with replay_server(Reply.error(status, message, type_, code)) as server:
        seen, error = await run_to_error(server.base_url)
    assert seen == []
    assert (error.status, error.retryable) == (status, True)
    assert message in str(error)


@pytest.mark.parametrize(("status", "message", "type_", "code"), [
    (400, "Invalid type for 'messages[1].content': expected one of a string or array of "
          "objects, but got an object instead.", "invalid_request_error", "invalid_type"),
    (401, "Incorrect API key provided: sk-test. You can find your API key at "
          "https://platform.openai.com/account/api-keys.", "invalid_request_error",
     "invalid_api_key"),
    (404, "The model `gpt-5-nano-typo` does not exist or you do not have access to it.",
     "invalid_request_error", "model_not_found"),
])
async def test_client_errors_are_not_retryable(status: int, message: str, type_: str,
                                               code: str | None) -> None:
    async with replay_server(Reply.error(status, message, type_, code)) as server:
        _, error = await run_to_error(server.base_url)
    assert (error.status, error.retryable) == (status, False)
    assert message in str(error)


async def test_an_error_page_from_a_proxy_is_reported_by_status() -> None:
    reply = Reply([b"<html><body>502 Bad Gateway</body></html>"], 502,
                  {"content-type": "text/html"})
    async with replay_server(reply) as server:
        _, error = await run_to_error(server.base_url)
    assert (error.status, error.retryable) == (502, True)
    assert "502 Bad Gateway" in str(error)


async def test_stream_cut_mid_reply_is_retryable() -> None:
    steps: list[Step] = [chunk({"role": "assistant", "content": ""}),
                         chunk({"content": "Let me"}), CUT]
    async with replay_server(Reply(steps)) as server:
        seen, error = await run_to_error(server.base_url)
    assert seen == [Started(MODEL, CHUNK_ID), TextDelta("Let me")]
    assert (error.status, error.retryable) == (None, True)


async def test_silence_between_chunks_times_out_and_is_retryable() -> None:
    gate = asyncio.Event()  # never set before the client gives up: only its timeout ends it
    steps: list[Step] = [chunk({"role": "assistant", "content": ""}),
                         chunk({"content": "Let me"}), Wait(gate),
                         chunk({"content": " check."}), chunk({}, "stop"), DONE]
    async with replay_server(Reply(steps)) as server, asyncio.timeout(5):
        seen, error = await run_to_error(server.base_url, read_timeout=0.3)
        await server.client_gone.wait()  # the client hung up while the server waited
    assert seen == [Started(MODEL, CHUNK_ID), TextDelta("Let me")]
    assert (error.status, error.retryable) == (None, True)
    assert "timed out" in str(error)


async def test_connection_refused_is_retryable_without_status() -> None:
    with socket.socket() as bound:  # bound but not listening: a connect is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        seen, error = await run_to_error(f"http://127.0.0.1:{port}/v1")
    assert seen == []
    assert (error.status, error.retryable) == (None, True)
    assert isinstance(error.__cause__, httpx.ConnectError)


async def test_a_chunk_that_is_not_json_is_a_malformed_stream() -> None:
    steps = [chunk({"role": "assistant", "content": ""}),
             b'data: {"id": "chatcmpl-1", "choices": [{"delta": {"content": "Hi\n\n',
             chunk({"content": "there"}), DONE]
    async with replay_server(Reply(steps)) as server:
        seen, error = await run_to_error(server.base_url)
    assert seen == [Started(MODEL, CHUNK_ID)]
    assert (error.status, error.retryable) == (None, False)
    assert "not JSON" in str(error)


@pytest.mark.parametrize(("error", "retryable", "status"), [
    ({"message": "Rate limit reached for requests", "type": "requests",
      "code": "rate_limit_exceeded"}, True, None),
    ({"message": "The server had an error processing your request.", "type": "server_error",
      "code": None}, True, None),
    ({"message": "Provider returned error", "code": 502}, True, 502),  # OpenRouter's shape
    ({"message": "This model's maximum context length is 128000 tokens.",
      "type": "invalid_request_error", "code": "context_length_exceeded"}, False, None),
])
async def test_an_error_object_inside_the_stream(error: dict[str, Any], retryable: bool,
                                                 status: int | None) -> None:
    steps = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Sure"}),
             sse({"error": error})]
    async with replay_server(Reply(steps)) as server:
        seen, raised = await run_to_error(server.base_url)
    assert seen == [Started(MODEL, CHUNK_ID), TextDelta("Sure")]
    assert (raised.retryable, raised.status) == (retryable, status)
    assert str(error["message"]) in str(raised)


async def test_a_json_answer_instead_of_a_stream_is_not_read_as_text() -> None:
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                               "finish_reason": "stop"}]}
    reply = Reply([json.dumps(completion).encode()], 200, {"content-type": "application/json"})
    async with replay_server(reply) as server:
        seen, error = await run_to_error(server.base_url)
    assert seen == []
    assert (error.status, error.retryable) == (None, False)
    assert "text/event-stream" in str(error)


async def test_closing_the_stream_early_hangs_up_at_once() -> None:
    gate = asyncio.Event()
    steps: list[Step] = [chunk({"role": "assistant", "content": ""}),
                         chunk({"content": "Let me"}), Wait(gate),
                         chunk({"content": " check."}), chunk({}, "stop"), DONE]
    async with replay_server(Reply(steps)) as server, provider(server.base_url) as p:
        async with asyncio.timeout(5), \
                contextlib.aclosing(p.stream(SYSTEM, HELLO, ())) as stream:
            assert [await anext(stream), await anext(stream)] == [
                Started(MODEL, CHUNK_ID), TextDelta("Let me")]
        # barge-in: the caller stopped listening; the server sees the hang-up, not a read
        async with asyncio.timeout(5):
            await server.client_gone.wait()
        assert not gate.is_set()


async def test_an_injected_client_is_left_open() -> None:
    async with httpx.AsyncClient() as client:
        p = OpenAIProvider(OpenAIConfig("http://127.0.0.1:9/v1", "m"), client)
        await p.aclose()
        assert not client.is_closed
    owned = OpenAIProvider(OpenAIConfig("http://127.0.0.1:9/v1", "m"))
    await owned.aclose()
    assert owned._client.is_closed


# -- the decoder alone (sans-IO) ---------------------------------------------------------

def decode(*steps: bytes, model: str = "gpt-4o-mini", request_id: str | None = None,
           end: bool = True) -> list[StreamEvent]:
    decoder, parser = ChunkDecoder(model, request_id), SseParser()
    events = [e for step in steps for sse_event in parser.feed(step)
              for e in decoder.feed(sse_event)]
    return events + decoder.end() if end else events


def raw(steps: Sequence[Step]) -> list[bytes]:
    return [s for s in steps if isinstance(s, bytes)]


def test_interleaved_fragments_of_two_calls() -> None:
    def piece(index: int, **fields: Any) -> bytes:
        return chunk({"tool_calls": [{"index": index, **fields}]})

    events = decode(
        piece(1, id="call_B", type="function", function={"name": "b", "arguments": ""}),
        piece(0, id="call_A", type="function", function={"name": "a", "arguments": "{"}),
        piece(1, function={"arguments": '{"x": '}),
        piece(0, function={"arguments": "}"}),
        piece(1, function={"arguments": "1}"}),
        chunk({}, "tool_calls"), DONE)
    assert events[1:] == [ToolCall("call_A", "a", {}, "{}"),
                          ToolCall("call_B", "b", {"x": 1}, '{"x": 1}'),
                          Finished("tool_calls", {})]


def test_the_configured_model_when_the_chunk_names_none() -> None:
    bare = b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'
    assert decode(bare, DONE, request_id="req_1")[0] == Started("gpt-4o-mini", "req_1")


def test_end_of_body_after_finish_reason_without_done_still_finishes() -> None:
    steps = raw(tool_steps(("call_1", "a", ["{}"])))[:-2]  # no usage chunk, no [DONE]
    assert [type(e) for e in decode(*steps)] == [
        Started, ToolCall, Finished]


def test_end_of_body_before_the_answer_finished_is_retryable() -> None:
    with pytest.raises(ProviderError) as caught:
        decode(chunk({"content": "Hel"}))
    assert (caught.value.retryable, caught.value.status) == (True, None)
    with pytest.raises(ProviderError):
        decode()  # an empty 200 body


def test_done_without_finish_reason_still_yields_the_calls() -> None:
    first = {"index": 0, "id": "call_1", "function": {"name": "a", "arguments": '{"k": 2}'}}
    events = decode(chunk({"tool_calls": [first]}), DONE)
    assert events[1:] == [ToolCall("call_1", "a", {"k": 2}, '{"k": 2}'),
                          Finished("tool_calls", {})]


def test_nothing_after_done_and_usage_only_from_the_usage_chunk() -> None:
    events = decode(*raw(text_steps("Hi")), chunk({"content": "late"}))
    assert events[-2:] == [TextDelta("Hi"), Finished("stop", USAGE)]


def test_a_non_string_content_is_never_spoken() -> None:
    events = decode(chunk({"content": [{"type": "text", "text": "x"}]}), chunk({}, "stop"),
                    usage_chunk(), DONE)
    assert not any(isinstance(e, TextDelta) for e in events)


def test_a_delta_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(ProviderError) as caught:
        decode(sse({"id": "c", "model": MODEL, "choices": [{"index": 0, "delta": "Hi"}]}),
               end=False)
    assert not caught.value.retryable


def test_events_from_sse_are_dispatched_whatever_their_name() -> None:
    decoder = ChunkDecoder("m")
    assert decoder.feed(SseEvent("completion", '{"choices": []}')) == [Started("m", None)]
