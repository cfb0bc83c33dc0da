"""Which brain answers a business's calls, and, for the LLM brain, which models.

``brain: rules`` (the default) is the deterministic receptionist. ``brain: llm`` puts a
chat model in front of it with the same tools and promises; the receptionist still greets,
handles silence and keys, and answers any turn the model cannot (see brain/llm/brain.py).
API keys never sit in the profile: ``api_key_env`` names the environment variable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from frontdesk.profile.fields import _Frozen

__all__ = ["LlmProvider", "LlmSettings"]

DEFAULT_BASE_URL = {"openai": "https://api.openai.com/v1",
                    "anthropic": "https://api.anthropic.com"}


class LlmProvider(_Frozen):
    """One chat model. ``kind: openai`` covers every OpenAI-compatible server (OpenAI,
    Groq, Together, vLLM, Ollama, llama.cpp's server): set ``base_url``."""

    kind: Literal["openai", "anthropic"] = "openai"
    model: str = Field(min_length=1)
    base_url: str | None = None  # the kind's public API when unset
    api_key_env: str | None = None  # e.g. OPENAI_API_KEY; unset: no key (a local server)
    connect_timeout_ms: int = Field(default=3000, ge=100, le=30000)

    @property
    def url(self) -> str:
        return self.base_url or DEFAULT_BASE_URL[self.kind]


class LlmSettings(_Frozen):
    provider: LlmProvider
    fallback_provider: LlmProvider | None = None  # retried once when the first fails
    filler_after_ms: int = Field(default=800, ge=100, le=5000)  # say "One moment." from here
    hard_deadline_ms: int = Field(default=4000, ge=500, le=20000)  # then the fallback answers
    max_rounds: int = Field(default=4, ge=1, le=8)  # model requests per caller turn

    @model_validator(mode="after")
    def _check(self) -> LlmSettings:
        if self.filler_after_ms >= self.hard_deadline_ms:
            raise ValueError("filler_after_ms must be below hard_deadline_ms")
        return self
