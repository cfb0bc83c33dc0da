"""The LLM brain of one call, built from the profile's ``llm:`` settings.

Providers hold an HTTP connection pool, so the runtime keeps one pair per business
(:class:`Providers`) and closes them at shutdown; each call gets its own
:class:`LLMBrain`, tools and conversation.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from frontdesk.actions.booking import BookingDesk
from frontdesk.brain.llm.anthropic import AnthropicProvider
from frontdesk.brain.llm.brain import LLMBrain, LLMBrainConfig, TurnStats
from frontdesk.brain.llm.openai import OpenAIConfig, OpenAIProvider
from frontdesk.brain.llm.stream import Provider
from frontdesk.brain.llm.tools import CallScope, Tools
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile
from frontdesk.profile.llm import LlmProvider, LlmSettings
from frontdesk.store import BusinessStore

__all__ = ["LlmConfigError", "Providers", "build_provider", "llm_brain"]


class LlmConfigError(Exception):
    """The profile asks for a model this process cannot reach (a missing API key)."""


def build_provider(settings: LlmProvider, env: Mapping[str, str] = os.environ) -> Provider:
    key = None
    if settings.api_key_env:
        key = env.get(settings.api_key_env)
        if not key:
            raise LlmConfigError(f"{settings.api_key_env} is not set (the profile's "
                                 f"llm provider {settings.model} needs it)")
    connect = settings.connect_timeout_ms / 1000
    if settings.kind == "anthropic":
        return AnthropicProvider(settings.model, key or "", base_url=settings.url,
                                 connect_timeout=connect)
    return OpenAIProvider(OpenAIConfig(base_url=settings.url, model=settings.model,
                                       api_key=key, connect_timeout=connect))


class Providers:
    """One business's providers (the main one and the optional fallback)."""

    def __init__(self, settings: LlmSettings, env: Mapping[str, str] = os.environ) -> None:
        self.main = build_provider(settings.provider, env)
        self.fallback = (build_provider(settings.fallback_provider, env)
                         if settings.fallback_provider else None)

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in (self.main, self.fallback) if p))


def llm_brain(profile: Profile, providers: Providers, *, business: BusinessStore,
              desk: BookingDesk, fallback: Receptionist, call_id: str, session_id: str,
              caller_number: str | None, now: Callable[[], datetime],
              on_turn: Callable[[TurnStats], Awaitable[None]] | None = None) -> LLMBrain:
    settings = profile.llm
    if settings is None:
        raise LlmConfigError(f"business {profile.business.id}: brain is llm but no llm: set")
    tools = Tools(CallScope(profile, business, desk, call_id, session_id, caller_number,
                            now))
    return LLMBrain(LLMBrainConfig(
        provider=providers.main, tools=tools, fallback=fallback,
        fallback_provider=providers.fallback,
        filler_after_s=settings.filler_after_ms / 1000,
        hard_deadline_s=settings.hard_deadline_ms / 1000, max_rounds=settings.max_rounds,
        on_turn=on_turn))
