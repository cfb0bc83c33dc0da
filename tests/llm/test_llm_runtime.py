"""``brain: llm`` through the whole call engine: the profile picks the LLM brain, the model
is a scripted OpenAI-compatible server speaking the real SSE format, and the call's audit
records every model turn (stub speech, unpaced audio)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import anthropic_replay as claude
import pytest
from openai_replay import (
    CUT,
    MODEL,
    Reply,
    Step,
    chunk,
    replay_server,
    text_steps,
    tool_steps,
)

from frontdesk.audio import split_frames
from frontdesk.brain.llm.factory import LlmConfigError
from frontdesk.call.events import AgentTurnDone
from frontdesk.client.caller import CallerLine
from frontdesk.profile import (
    Profile,
    ProfileError,
    ProfileRegistry,
    example_profile_text,
    parse_profile,
)
from frontdesk.profile.llm import LlmProvider, LlmSettings
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import place_call, tone_voice
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import BOOKING_CONFIRMED, Store, open_store

NOW = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
SHOP, CALLER = "+15125550100", "+15125551234"
ASKED = "Book me an oil change tomorrow at 10 AM, I'm Ann Lee."


def llm_profile(base_url: str) -> Profile:
    shop = parse_profile(example_profile_text(), "<example>")
    settings = LlmSettings(provider=LlmProvider(model="gpt-4o-mini", base_url=base_url),
                           hard_deadline_ms=20000)  # a scripted model answers at once
    # the most patient in-call budget: unpaced audio competes with the booking write
    booking = shop.booking.model_copy(update={"in_call_budget_ms": 8000})
    return shop.model_copy(update={"brain": "llm", "llm": settings, "booking": booking})


def runtime(store: Store, profile: Profile, heard: Sequence[str]) -> Runtime:
    speech = Speech(stt=StubSTT(20, list(heard)), tts=StubTTS(10, ms_per_char=1),
                    new_vad=EnergyVAD)
    return Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)


async def call(rt: Runtime, heard: Sequence[str]) -> tuple[str, list[str]]:
    lines = [CallerLine(split_frames(await tone_voice(t)), t) for t in heard]
    call_id, report = await place_call(rt, [*lines, CallerLine((), hangup=True)],
                                       to_number=SHOP, from_number=CALLER, realtime=False)
    return call_id, [e.planned_text for e in report.events if isinstance(e, AgentTurnDone)]


def turns(rt: Runtime, call_id: str) -> list[dict[str, Any]]:
    business = rt.store.for_business("main-street-auto")
    return [e.data for e in business.list_call_events(call_id, kind="llm.turn")]


async def test_a_booking_through_the_model_is_made_by_the_tools(store: Store) -> None:
    book = json.dumps({"service": "oil-change", "start": "2026-12-01T10:00",
                       "name": "Ann Lee"})
    async with replay_server(
        Reply(tool_steps(("call_1", "book", [book[:20], book[20:40], book[40:]]))),
        Reply(text_steps("You're all set, Ann. ", "Your oil change is booked for ",
                         "tomorrow at 10 AM.")),
    ) as server:
        rt = runtime(store, llm_profile(server.base_url), [ASKED])
        call_id, said = await call(rt, [ASKED])
        business = store.for_business("main-street-auto")
        [booking] = business.list_bookings(NOW, NOW + timedelta(days=7))
        assert booking.status == BOOKING_CONFIRMED and booking.customer_name == "Ann Lee"
        assert "Your oil change is booked for tomorrow at 10 AM." in said[1]
        # the model saw the tool's ledger result before it spoke
        tool_results = [m for m in server.requests[1].body["messages"]
                        if m["role"] == "tool"]
        assert "committed" in tool_results[0]["content"]
        [turn] = turns(rt, call_id)
        assert turn["model"] == MODEL  # as the provider reported it, not as asked
        assert turn["fallback"] is None and turn["tool_calls"] == 1
        assert turn["violations"] == []
        assert rt.metrics.registry.get_sample_value(
            "frontdesk_llm_turns_total",
            {"business": "main-street-auto", "answered": "model", "filler": "false"},
        ) == 1.0
        await rt.aclose()


async def test_a_claim_the_ledger_does_not_back_is_never_spoken(store: Store) -> None:
    async with replay_server(
        Reply(text_steps("Great news, ", "you're booked for tomorrow at 10 AM!")),
    ) as server:
        rt = runtime(store, llm_profile(server.base_url), [ASKED])
        call_id, said = await call(rt, [ASKED])
        assert not any("you're booked" in s.lower() for s in said)
        assert "I haven't booked anything yet." in said[1]
        business = store.for_business("main-street-auto")
        assert business.list_bookings(NOW, NOW + timedelta(days=7)) == []
        [turn] = turns(rt, call_id)
        assert [v["kind"] for v in turn["violations"]] == ["booking"]
        assert rt.metrics.registry.get_sample_value(
            "frontdesk_llm_guard_violations_total",
            {"business": "main-street-auto", "kind": "booking"}) == 1.0
        await rt.aclose()


async def test_a_dead_model_server_leaves_the_receptionist_answering(store: Store) -> None:
    async with replay_server(Reply.error(500, "The server had an error", "server_error"),
                             ) as server:
        rt = runtime(store, llm_profile(server.base_url), ["What are your hours?"])
        call_id, said = await call(rt, ["What are your hours?"])
        assert "open" in said[1].lower()  # the receptionist's hours, not silence
        [turn] = turns(rt, call_id)
        assert turn["fallback"] == "brain" and turn["errors"]
        await rt.aclose()


def test_the_profile_says_which_brain_and_checks_it() -> None:
    text = example_profile_text() + "\nbrain: llm\n"
    with pytest.raises(ProfileError, match="llm"):
        parse_profile(text, "<llm without settings>")
    with pytest.raises(ProfileError, match="filler_after_ms"):
        parse_profile(text + "llm: {provider: {model: m}, filler_after_ms: 5000, "
                      "hard_deadline_ms: 4000}\n", "<bad deadlines>")
    ok = parse_profile(text + "llm: {provider: {kind: anthropic, model: claude-x, "
                       "api_key_env: FRONTDESK_TEST_NO_SUCH_KEY}}\n", "<anthropic>")
    assert ok.llm is not None and ok.llm.provider.url == "https://api.anthropic.com"
    assert parse_profile(example_profile_text(), "<example>").brain == "rules"


def test_a_missing_api_key_is_refused_before_any_call() -> None:
    text = example_profile_text() + ("\nbrain: llm\nllm: {provider: {model: m, "
                                     "api_key_env: FRONTDESK_TEST_NO_SUCH_KEY}}\n")
    profile = parse_profile(text, "<needs a key>")
    rt = Runtime(ProfileRegistry([profile]), open_store("sqlite://"),
                 Speech(stt=StubSTT(0, []), tts=StubTTS(0), new_vad=EnergyVAD))
    with pytest.raises(LlmConfigError, match="FRONTDESK_TEST_NO_SUCH_KEY"):
        rt.llm(profile)


async def test_a_call_dropped_while_the_model_books_is_welcomed_back(store: Store) -> None:
    """The session follows the model's tools: the caller hangs up while choosing a time,
    rings back, and the receptionist picks the booking up where the model left it."""
    check = json.dumps({"service": "oil-change", "day": "2026-12-01"})
    heard = ["I need an oil change tomorrow.", "Yes, please."]
    async with replay_server(
        Reply(tool_steps(("call_1", "check_availability", [check]))),
        Reply(text_steps("Tomorrow I have 8 AM or 8:15 AM. Which suits you?")),
    ) as server:
        rt = runtime(store, llm_profile(server.base_url), heard)
        _, said = await call(rt, heard[:1])
        assert "8 AM" in said[1]
        _, said = await call(rt, heard[1:])
        assert said[0].startswith("Welcome back to Main Street Auto.")
        assert "your oil change: I had tomorrow at 8 AM" in said[0]
        assert "Would tomorrow at 8 AM" in said[1]  # the receptionist carries on
        assert len(server.requests) == 2  # the model was not asked on the second call
        await rt.aclose()


async def test_bad_tool_calls_over_the_wire_do_nothing_and_are_counted(store: Store) -> None:
    """A call to a tool that does not exist and one whose arguments are cut-off JSON, in
    one streamed reply: each gets an error result, nothing is booked."""
    async with replay_server(
        Reply(tool_steps(("call_1", "refund_everyone", ['{"amount": 500}']),
                         ("call_2", "book", ['{"service": "oil-change", "start": ']))),
        Reply(text_steps("I'm sorry, I can't do that. ", "Can I take a message?")),
    ) as server:
        rt = runtime(store, llm_profile(server.base_url), [ASKED])
        call_id, said = await call(rt, [ASKED])
        assert said[1] == "I'm sorry, I can't do that. Can I take a message?"
        results = [m["content"] for m in server.requests[1].body["messages"]
                   if m["role"] == "tool"]
        assert "unknown tool 'refund_everyone'" in results[0]
        assert "not a JSON object" in results[1]
        business = store.for_business("main-street-auto")
        assert business.list_bookings(NOW, NOW + timedelta(days=7)) == []
        [turn] = turns(rt, call_id)
        assert turn["tool_calls"] == 2 and turn["tool_errors"] == 2
        await rt.aclose()


async def test_a_stream_cut_mid_sentence_leaves_the_receptionist_answering(store: Store) -> None:
    cut: list[Step] = [chunk({"role": "assistant", "content": ""}),
                       chunk({"content": "We're at 12"}), CUT]
    async with replay_server(Reply(cut)) as server:
        rt = runtime(store, llm_profile(server.base_url), ["Where are you located?"])
        call_id, said = await call(rt, ["Where are you located?"])
        assert "1200 Main Street" in said[1] and "12 " not in said[1]
        [turn] = turns(rt, call_id)
        assert turn["fallback"] == "brain" and turn["errors"]
        await rt.aclose()


async def test_a_booking_through_the_anthropic_messages_stream(store: Store) -> None:
    book = json.dumps({"service": "oil-change", "start": "2026-12-01T10:00",
                       "name": "Ann Lee"})
    replies = [
        claude.stream(claude.message_start(), claude.tool_block(0, "toolu_01", "book",
                                                                book[:25], book[25:]),
                      claude.finish("tool_use")),
        claude.stream(claude.message_start(), claude.text_block(
            0, "You're all set, Ann. ", "Your oil change is booked for tomorrow at 10 AM."),
            claude.finish()),
    ]
    async with claude.ReplayServer(replies) as server:
        shop = llm_profile(server.url)
        provider = LlmProvider(kind="anthropic", model="claude-sonnet-4-5",
                               base_url=server.url)
        assert shop.llm is not None
        profile = shop.model_copy(update={"llm": shop.llm.model_copy(
            update={"provider": provider})})
        rt = runtime(store, profile, [ASKED])
        call_id, said = await call(rt, [ASKED])
        business = store.for_business("main-street-auto")
        [booking] = business.list_bookings(NOW, NOW + timedelta(days=7))
        assert booking.status == BOOKING_CONFIRMED and booking.customer_name == "Ann Lee"
        assert "Your oil change is booked for tomorrow at 10 AM." in said[1]
        [turn] = turns(rt, call_id)
        assert turn["model"] == claude.MODEL and turn["violations"] == []
        # the tool's ledger result went back as a tool_result block
        sent = server.requests[1].body["messages"]
        assert any(b.get("type") == "tool_result" and "committed" in str(b.get("content"))
                   for m in sent if isinstance(m["content"], list) for b in m["content"])
        await rt.aclose()
