"""What a provider client yields while a model streams one reply, whichever provider.

A reply is a sequence of :data:`StreamEvent`: ``Started`` once the first byte of the
response came (with the model the provider says answered), ``TextDelta`` pieces as they
come, a ``ToolCall`` once its arguments are complete (never a partial one), then
``Finished``. Failures are exceptions, typed by what the caller can do about them:
:class:`ProviderError` with ``retryable`` (429, 5xx, a timeout, a stream cut off) or not
(400, 401, a malformed stream).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "ChatMessage",
    "Finished",
    "Provider",
    "ProviderError",
    "Started",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
]


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]  # parsed JSON; {} when ``error`` is set
    raw_arguments: str = ""
    error: str | None = None  # the arguments were not a JSON object: why


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    content: str  # what the tool returned, as JSON text


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation, provider-neutral. ``tool_calls`` on an assistant
    message, ``tool_results`` on the turn that answers them."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True)
class Started:
    model: str  # as the provider reported it ("gpt-4o-2024-08-06"), or as asked
    request_id: str | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finished:
    reason: str  # "stop", "tool_calls", "length", ... in the provider's words
    usage: dict[str, int] = field(default_factory=dict)


StreamEvent = Started | TextDelta | ToolCall | Finished


class ProviderError(Exception):
    """The provider failed this request. ``status`` is the HTTP status (None: no
    response, e.g. a timeout or a refused connection)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool,
                 provider: str = "") -> None:
        super().__init__(message)
        self.status, self.retryable, self.provider = status, retryable, provider


class Provider(Protocol):
    """A chat model that streams: one request per call of :meth:`stream`."""

    name: str  # "openai", "anthropic": the wire format
    model: str

    def stream(self, system: str, messages: Sequence[ChatMessage],
               tools: Sequence[ToolSpec]) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...
