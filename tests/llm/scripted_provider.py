"""An in-memory :class:`~frontdesk.brain.llm.stream.Provider` that plays scripted replies.

Each request takes the next script: a list of stream events to yield, events to wait on
(the test sets them when it wants the model to go on) and errors to raise. It records
every request and counts streams closed, so a test sees barge-in reach the provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

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

Step = StreamEvent | asyncio.Event | ProviderError


@dataclass(frozen=True)
class Request:
    system: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...]


@dataclass
class ScriptedProvider:
    scripts: list[list[Step]]
    model: str = "scripted-model-1"
    name: str = "scripted"
    requests: list[Request] = field(default_factory=list)
    closed: int = 0  # streams finished or closed, by whatever means

    async def stream(self, system: str, messages: Sequence[ChatMessage],
                     tools: Sequence[ToolSpec]) -> AsyncIterator[StreamEvent]:
        self.requests.append(Request(system, tuple(messages), tuple(tools)))
        assert self.scripts, "the model was asked more often than scripted"
        try:
            for step in self.scripts.pop(0):
                if isinstance(step, asyncio.Event):
                    await step.wait()
                elif isinstance(step, ProviderError):
                    raise step
                else:
                    yield step
        finally:
            self.closed += 1

    async def aclose(self) -> None:
        pass


def say(model: str, *pieces: str) -> list[Step]:
    """A reply in words, streamed in ``pieces``."""
    return [Started(model), *(TextDelta(p) for p in pieces), Finished("stop")]


_ids = iter(range(1_000_000))


def call(tool: str, /, **arguments: Any) -> ToolCall:
    return ToolCall(f"call_{next(_ids)}", tool, arguments)


def calls(model: str, *tool_calls: ToolCall) -> list[Step]:
    """A reply that only calls tools."""
    return [Started(model), *tool_calls, Finished("tool_calls")]
