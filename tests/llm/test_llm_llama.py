"""The OpenAI chat-completions wire protocol as a real local server speaks it:
llama-cpp-python's server with a small Gemma 3 (tests/llm/llama_server.py), over plain
httpx, so these tests hold whatever client frontdesk builds on top.

The model loads once per module. Greedy decoding (temperature 0) keeps each answer the
same from run to run; the tests check the protocol, never the words."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from llama_server import LlamaServer, llama_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

SYSTEM = "You are the receptionist of Main Street Auto. Answer in one short sentence."
BOOK_TOOL = {
    "type": "function",
    "function": {
        "name": "book_appointment",
        "description": "Book a service appointment at the shop.",
        "parameters": {
            "type": "object",
            # bounded, so a forced call fits in max_tokens whatever the model writes
            "properties": {"service": {"enum": ["oil change", "tire rotation", "inspection"]},
                           "when": {"type": "string", "maxLength": 24}},
            "required": ["service", "when"],
        },
    },
}
FINISH_REASONS = {"stop", "length", "tool_calls"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[LlamaServer]:
    async with llama_server() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as http:
        yield http


@dataclass(frozen=True)
class Stream:
    """One streamed chat completion as it came off the wire."""

    content_type: str
    data: list[str]  # every ``data:`` payload, in order, [DONE] included
    first_chunk_s: float  # from sending the request to the first ``data:`` line
    total_s: float

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.data if d != "[DONE]"]

    def text(self) -> str:
        return "".join(c["choices"][0]["delta"].get("content") or "" for c in self.chunks)


async def stream_chat(client: httpx.AsyncClient, server: LlamaServer,
                      body: dict[str, Any]) -> Stream:
    request = {"model": server.model, "temperature": 0, **body, "stream": True}
    sent = time.perf_counter()
    first: float | None = None
    data: list[str] = []
    async with client.stream("POST", f"{server.base_url}/chat/completions",
                             json=request) as response:
        if response.status_code != 200:
            pytest.fail(f"{response.status_code}: {(await response.aread()).decode()}")
        async for line in response.aiter_lines():  # blank lines and ": ping" comments aside
            if line.startswith("data:"):
                first = first if first is not None else time.perf_counter() - sent
                data.append(line.removeprefix("data:").strip())
    assert first is not None, "the stream ended without a data: line"
    return Stream(response.headers["content-type"], data, first, time.perf_counter() - sent)


def assert_well_formed(stream: Stream) -> None:
    """SSE of chat.completion.chunk objects of one completion, one finish, then [DONE]."""
    assert stream.content_type.startswith("text/event-stream")
    assert stream.data[-1] == "[DONE]"
    assert stream.data.count("[DONE]") == 1
    chunks = stream.chunks
    assert len(chunks) >= 3  # the role, at least one delta, the finish
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert all(len(c["choices"]) == 1 and c["choices"][0]["index"] == 0 for c in chunks)
    assert all(isinstance(c["choices"][0]["delta"], dict) for c in chunks)
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    reasons = [c["choices"][0]["finish_reason"] for c in chunks]
    assert all(r is None for r in reasons[:-1])
    assert reasons[-1] in FINISH_REASONS


async def test_streamed_chat_is_sse_chunks_ending_in_done(
        server: LlamaServer, client: httpx.AsyncClient) -> None:
    stream = await stream_chat(client, server, {
        "messages": [{"role": "system", "content": SYSTEM},
                     {"role": "user", "content": "What are your hours on Saturday?"}],
        "max_tokens": 32})
    assert_well_formed(stream)
    assert len(stream.chunks) >= 4  # a streamed answer, not one lump
    assert stream.text().strip()
    assert 0 < stream.first_chunk_s <= stream.total_s  # the first token's time, measured


async def test_request_with_a_tool_streams_well_formed(
        server: LlamaServer, client: httpx.AsyncClient) -> None:
    stream = await stream_chat(client, server, {
        "messages": [{"role": "system", "content": SYSTEM},
                     {"role": "user", "content": "Book me an oil change tomorrow at 10."}],
        "tools": [BOOK_TOOL], "max_tokens": 32})
    assert_well_formed(stream)
    # The small model may or may not call the tool; a call it makes must be a whole one.
    calls = [call for c in stream.chunks for call in c["choices"][0]["delta"].get("tool_calls")
             or []]
    if calls:
        assert {call["function"]["name"] for call in calls if call["function"].get("name")} \
            == {"book_appointment"}
        arguments = "".join(call["function"].get("arguments") or "" for call in calls)
        assert isinstance(json.loads(arguments), dict)
        assert stream.chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    else:
        assert stream.text().strip()


async def test_forced_tool_choice_streams_one_whole_tool_call(
        server: LlamaServer, client: httpx.AsyncClient) -> None:
    """Naming the function makes the server constrain the output to its schema (a
    grammar) and stream it as tool_calls deltas: what a booking turn receives."""
    stream = await stream_chat(client, server, {
        "messages": [{"role": "system", "content": SYSTEM},
                     {"role": "user", "content": "Book me an oil change tomorrow at 10."}],
        "tools": [BOOK_TOOL], "max_tokens": 96,
        "tool_choice": {"type": "function", "function": {"name": "book_appointment"}}})
    assert_well_formed(stream)
    assert stream.chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert not stream.text()
    calls = [call for c in stream.chunks for call in c["choices"][0]["delta"].get("tool_calls")
             or []]
    assert calls
    assert {call["index"] for call in calls} == {0}
    assert calls[0]["id"] and calls[0]["type"] == "function"  # later deltas may repeat them
    assert {call["function"].get("name") for call in calls} - {None} == {"book_appointment"}
    arguments = json.loads("".join(call["function"]["arguments"] or "" for call in calls))
    assert arguments["service"] in {"oil change", "tire rotation", "inspection"}
    assert isinstance(arguments["when"], str) and len(arguments["when"]) <= 24


LONG = [{"role": "user", "content": "word " * 3000}]  # ~3000 tokens, over n_ctx 2048


async def test_prompt_longer_than_the_context_is_a_400_json_error(
        server: LlamaServer, client: httpx.AsyncClient) -> None:
    response = await client.post(f"{server.base_url}/chat/completions", json={
        "model": server.model, "max_tokens": 8, "messages": LONG})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "context_length_exceeded"
    assert "2048" in error["message"]


async def test_streamed_prompt_longer_than_the_context_is_an_empty_200_stream(
        server: LlamaServer, client: httpx.AsyncClient) -> None:
    """Streamed, the same request gets its 200 and event-stream headers before the
    prompt is even tokenized; the error then only ends the body, with no data and no
    [DONE] (the traceback goes to the server's log). A client must take a stream that
    closes before [DONE] for a failure, not for an empty answer."""
    async with client.stream("POST", f"{server.base_url}/chat/completions", json={
            "model": server.model, "stream": True, "max_tokens": 8,
            "messages": LONG}) as response:
        lines = [line async for line in response.aiter_lines()]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert not [line for line in lines if line.startswith("data:")]


async def test_malformed_body_is_a_json_error_but_a_500(
        server: LlamaServer, client: httpx.AsyncClient) -> None:
    """llama-cpp-python's route wrapper turns a request that fails validation into a 500
    "internal_server_error" where OpenAI answers 400 (ggml-org/llama.cpp#23463): a client
    cannot read "my request was wrong" from the status alone. Pinned here so an upgrade
    that changes it is noticed."""
    response = await client.post(f"{server.base_url}/chat/completions", json={
        "model": server.model, "stream": True, "messages": "What are your hours?"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == "internal_server_error"
    assert "messages" in error["message"] and "valid list" in error["message"]
