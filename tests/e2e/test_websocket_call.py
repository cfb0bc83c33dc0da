"""A scripted call dialled into a real uvicorn server over a real WebSocket (loopback)."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime, timedelta

import websockets

from frontdesk.call.events import (
    AgentPhraseStarted,
    AgentTurnDone,
    BookingCommitted,
    CallerTranscript,
    EndReason,
)
from frontdesk.client.loopback import serve_loopback
from frontdesk.profile import Profile, ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.server.app import create_app
from frontdesk.softphone import (
    Script,
    place_call_over_websocket,
    report_json,
    synthesize_lines,
    tone_voice,
)
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import open_store

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
LINES = ["I'd like to book an oil change.", "Thursday at 3 PM.", "John Smith.",
         "Yes, please.", "No, that's all. Goodbye."]


async def test_frontdesk_call_dials_a_running_server(store_url: str) -> None:
    profile: Profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(50, LINES), tts=StubTTS(20, ms_per_char=4), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    lines = await synthesize_lines(Script([("say", s) for s in LINES]), tone_voice)
    async with serve_loopback(lambda _: create_app(runtime), lifespan="off") as base:
        call_id, report = await place_call_over_websocket(
            base.replace("http", "ws", 1), lines, to_number="+15125550100")

    assert report.ended is not None and report.ended.reason == EndReason.AGENT_HANGUP
    heard = [e.text for e in report.events if isinstance(e, CallerTranscript)]
    assert heard == LINES
    # the agent's audio came back over the socket: every phrase's frames, give or take the
    # last one or two still queued when the server said the call had ended
    phrases = [e.text for e in report.events if isinstance(e, AgentPhraseStarted)]
    sent = sum(math.ceil(round(len(p) * 4 * 16) / 320) for p in phrases)
    assert sent - 3 <= report.agent_frames <= sent
    assert len(report.latencies_ms) == len(LINES)
    booked = [e for e in report.events if isinstance(e, BookingCommitted)]
    assert len(booked) == 1 and booked[0].start_iso == "2026-11-26T15:00:00-06:00"
    turns = [e for e in report.events if isinstance(e, AgentTurnDone)]
    assert turns[0].played_text.startswith("Thanks for calling Main Street Auto")
    assert report_json(call_id, report)["outcome"]["kind"] == "booked"
    business = store.for_business("main-street-auto")
    record = business.get_call(call_id)
    assert record is not None and record.outcome == "booked"
    rows = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert [b.id for b in rows] == [booked[0].booking_id]
    store.close()


async def test_a_client_gone_without_a_hangup_message_is_a_dropped_call(store_url: str) -> None:
    profile: Profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(50, LINES), tts=StubTTS(20, ms_per_char=4), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    async with serve_loopback(lambda _: create_app(runtime), lifespan="off") as base:
        async with websockets.connect(
                f"{base.replace('http', 'ws', 1)}/call?to=%2B15125550100") as ws:
            call_id = json.loads(await ws.recv())["call_id"]
        # the server stores the call, then tells the back office it ended
        async with asyncio.timeout(10):  # a guard for a broken build, not a timing guess
            ended = await runtime.ended.get()
    assert ended == ("main-street-auto", call_id)
    record = store.for_business("main-street-auto").get_call(call_id)
    assert record is not None and record.end_reason == EndReason.DROPPED.value
    store.close()
