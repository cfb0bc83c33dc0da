"""A brain with fixed delays, for benchmarks: the engine's overhead measured in isolation.

It answers every turn with the next canned reply, the first text after ``first_text_ms``
and then one word every ``token_ms`` (the shape of a streaming LLM).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

from frontdesk.brain.base import BrainOutput, CallerTurn, Hangup, Text


class StubBrain:
    def __init__(
        self, replies: Sequence[str], *, first_text_ms: float, token_ms: float,
        greeting: str = "Hello, how can I help?",
    ) -> None:
        self.replies = list(replies)
        self.first_text_ms = first_text_ms
        self.token_ms = token_ms
        self.greeting = greeting
        self.turns: list[CallerTurn] = []

    async def greet(self) -> AsyncGenerator[BrainOutput, None]:
        yield Text(self.greeting)

    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        self.turns.append(turn)
        reply = self.replies.pop(0) if self.replies else "Goodbye."
        await asyncio.sleep(self.first_text_ms / 1000)
        words = reply.split(" ")
        for i, word in enumerate(words):
            if i:
                await asyncio.sleep(self.token_ms / 1000)
            yield Text(word + " ")
        if not self.replies:
            yield Hangup()

    def heard(self, played_text: str, interrupted: bool) -> None:
        pass
