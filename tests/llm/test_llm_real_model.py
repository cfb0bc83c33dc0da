"""The LLM brain against a real model: llama-cpp-python's OpenAI-compatible server with
Gemma 3 270M (tests/llm/llama_server.py), through frontdesk's own client, tools, guard and
budget. The model is small and its answers are poor, which is the point: whatever it
streams, the caller hears only what the ledger backs, the model it named is recorded,
and a model too slow for the budget leaves the receptionist answering."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from llama_server import LlamaServer, llama_server

from frontdesk.actions.booking import BookingDesk
from frontdesk.brain.base import Booked, BrainOutput, CallerTurn, Text
from frontdesk.brain.llm import guard
from frontdesk.brain.llm.brain import LLMBrain, LLMBrainConfig
from frontdesk.brain.llm.openai import OpenAIConfig, OpenAIProvider
from frontdesk.brain.llm.tools import CallScope, Tools
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import BOOKING_CONFIRMED, BusinessStore, open_store

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
CALLER = "+15125551234"
TURNS = ["Hi, can I book an oil change tomorrow at 10 AM? My name is Ann Lee.",
         "Yes please, book it.", "Are you open on Sunday?", "How much is a tire rotation?"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[LlamaServer]:
    async with llama_server() as running:
        yield running


@pytest.fixture
def profile() -> Profile:
    return parse_profile(example_profile_text(), "<example>")


@pytest.fixture
def business(tmp_path: Path, profile: Profile) -> Iterator[BusinessStore]:
    store = open_store(f"sqlite:///{tmp_path / 'frontdesk.db'}")
    try:
        yield store.for_business(profile.business.id)
    finally:
        store.close()


@contextlib.asynccontextmanager
async def brain(server: LlamaServer, profile: Profile, business: BusinessStore, *,
                hard_deadline_s: float) -> AsyncIterator[tuple[LLMBrain, str]]:
    record = business.create_call(CALLER, "+15125550100", started_at=NOW)
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    receptionist = Receptionist(profile, business, call_id=record.id, caller_number=CALLER,
                                now=lambda: NOW, desk=desk)
    tools = Tools(CallScope(profile, business, desk, record.id, record.id, CALLER,
                            lambda: NOW))
    provider = OpenAIProvider(OpenAIConfig(base_url=server.base_url, model=server.model,
                                           read_timeout=60.0))
    try:
        yield LLMBrain(LLMBrainConfig(provider, tools, receptionist,
                                      filler_after_s=hard_deadline_s / 2,
                                      hard_deadline_s=hard_deadline_s)), record.id
    finally:
        await provider.aclose()


async def turn(b: LLMBrain, text: str) -> list[BrainOutput]:
    outputs = [o async for o in b.respond(CallerTurn(text, 0.95))]
    b.heard("".join(o.text for o in outputs if isinstance(o, Text)), False)
    return outputs


async def test_whatever_the_model_says_the_caller_hears_only_what_is_backed(
    server: LlamaServer, profile: Profile, business: BusinessStore,
) -> None:
    async with brain(server, profile, business, hard_deadline_s=60.0) as (b, call_id):
        booked: list[str] = []
        for said in TURNS:
            outputs = await turn(b, said)
            booked += [o.booking_id for o in outputs if isinstance(o, Booked)]
            spoken = "".join(o.text for o in outputs if isinstance(o, Text))
            assert spoken.strip(), f"silence after {said!r}"  # never left in silence
            assert not set(spoken) & set("{}<>`*#")  # no tool JSON or markup spoken
            # every sentence heard passes the guard against the ledger as it is now
            facts = b.tools.facts()
            assert guard.check(spoken, facts, now=NOW).violations == ()
        confirmed = [x.id for x in business.bookings_for_call(call_id)
                     if x.status == BOOKING_CONFIRMED]
        assert set(booked) <= set(confirmed)  # a Booked the Call hears is in the calendar
        answered = [s for s in b.stats if s.fallback is None]
        for stats in answered:  # the model the server named is on every turn it answered
            assert stats.model == server.model and stats.first_token_s is not None


async def test_a_model_slower_than_the_budget_leaves_the_receptionist_answering(
    server: LlamaServer, profile: Profile, business: BusinessStore,
) -> None:
    # a deadline no model meets on two cores: every turn falls back, none is silent
    async with brain(server, profile, business, hard_deadline_s=0.001) as (b, _):
        outputs = await turn(b, "What are your hours on Saturday?")
        spoken = "".join(o.text for o in outputs if isinstance(o, Text))
        assert "open" in spoken.lower() or "closed" in spoken.lower()
        [stats] = b.stats
        assert stats.fallback == "brain" and stats.errors
