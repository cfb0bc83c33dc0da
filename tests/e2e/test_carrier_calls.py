"""Whole calls through the carrier path: a real uvicorn serving frontdesk, the Twilio and
Telnyx emulators as the carrier (signed webhooks, media streams in real time, marks and
clear), and the fake REST API receiving frontdesk's hang-ups and transfers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from frontdesk.client.caller import CallerLine, ScriptedCaller
from frontdesk.client.harness import CarrierHarness, carrier_harness
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import Script, place_call_via_carrier, synthesize_lines, tone_voice
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import BusinessStore, open_store

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
SHOP = "+15125550100"
BOOKING = ["I'd like to book an oil change.", "Thursday at 3 PM.", "John Smith.",
           "Yes, please.", "No, that's all. Goodbye."]
MS_PER_CHAR = 4


def _runtime(store_url: str, script: list[str], ms_per_char: float = MS_PER_CHAR) -> Runtime:
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(50, script), tts=StubTTS(20, ms_per_char=ms_per_char),
                    new_vad=EnergyVAD)
    return Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)


@pytest.fixture
async def booking(store_url: str) -> AsyncIterator[tuple[Runtime, CarrierHarness]]:
    runtime = _runtime(store_url, BOOKING)
    async with carrier_harness(runtime) as harness:
        yield runtime, harness
    runtime.store.close()


async def _lines(texts: list[str]) -> list[CallerLine]:
    return await synthesize_lines(Script([("say", t) for t in texts]), tone_voice)


def _shop(runtime: Runtime) -> BusinessStore:
    return runtime.store.for_business("main-street-auto")


@pytest.mark.parametrize("carrier", ["twilio", "telnyx"])
async def test_a_booking_call_through_the_carrier(
    booking: tuple[Runtime, CarrierHarness], carrier: str
) -> None:
    runtime, harness = booking
    placed = await place_call_via_carrier(runtime, harness, carrier, await _lines(BOOKING),
                                          to_number=SHOP)
    shop = _shop(runtime)
    record = shop.get_call(placed.call_id)
    assert record is not None
    assert (record.status, record.outcome, record.carrier) == ("completed", "booked", carrier)
    assert record.carrier_status == "completed" and record.duration_s is not None
    [row] = shop.list_bookings(NOW, NOW + timedelta(days=7))
    assert row.start_at.isoformat() == "2026-11-26T21:00:00+00:00"  # Thursday 3 PM Chicago
    turns = shop.list_turns(placed.call_id)
    assert [t.caller_text for t in turns[1:]] == BOOKING
    assert turns[0].agent_text_played.startswith("Thanks for calling Main Street Auto")
    # the agent said goodbye, the caller heard it (the last mark came back), then
    # frontdesk hung up through the carrier's REST API, which ended the stream
    assert placed.line.hung_up_by_agent and placed.line.clears == 0
    assert placed.line.marks_echoed > 0
    kinds = [e.kind for e in shop.list_call_events(placed.call_id)]
    assert "carrier.hangup" in kinds and "stream.protocol_error" not in kinds
    hangups = [r for r in harness.api.requests
               if r.carrier == carrier and ("hangup" in r.path or
                                            (r.form or {}).get("Status") == "completed")]
    assert len(hangups) == 1
    # every turn was answered (how fast is bench/'s business, not a functional test's)
    assert len(placed.report.latencies_ms) == len(BOOKING)


async def test_telnyx_media_out_of_order_is_put_back_in_order(
    booking: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = booking
    emulator = harness.telnyx(SHOP, swap_media=True)
    caller = ScriptedCaller(await _lines(BOOKING), line=emulator, turns_from_audio=True)
    caller.attach(emulator)
    await caller.run(emulator.run)
    record = _shop(runtime).find_call_by_carrier_id("telnyx", emulator.call_control_id)
    assert record is not None and record.outcome == "booked"
    answer = next(r for r in harness.api.requests if r.path.endswith("/actions/answer"))
    assert answer.json is not None and answer.json["stream_bidirectional_codec"] == "PCMU"


async def test_barge_in_sends_clear_and_cuts_the_transcript_at_the_last_mark(
    store_url: str,
) -> None:
    script = ["What are your hours?", "Thanks, goodbye."]
    runtime = _runtime(store_url, script, ms_per_char=30)  # a long answer to speak over
    lines = await _lines(script)
    # speak over the answer to the first question, 30 frames into it
    barge = CallerLine(lines[1].frames, lines[1].text, barge_in_after_frames=30)
    async with carrier_harness(runtime) as harness:
        placed = await place_call_via_carrier(runtime, harness, "twilio", [lines[0], barge],
                                              to_number=SHOP)
    assert placed.line.clears >= 1
    turns = _shop(runtime).list_turns(placed.call_id)
    cut = [t for t in turns if t.interrupted]
    assert len(cut) == 1
    turn = cut[0]
    assert turn.agent_text.startswith(turn.agent_text_played)
    assert len(turn.agent_text_played) < len(turn.agent_text)
    # never more than the caller heard: the played text's audio fits in the frames the
    # caller took before the clear (marks come every 5 frames, so it may say less)
    [heard_frames] = placed.line.heard_before_clear
    said_frames = len(turn.agent_text_played) * 30 / 20
    assert heard_frames - 12 <= said_frames <= heard_frames
    runtime.store.close()


async def test_pressing_0_transfers_through_the_carrier(store_url: str) -> None:
    runtime = _runtime(store_url, [])
    profile = runtime.registry.by_number(SHOP)
    async with carrier_harness(runtime) as harness:
        placed = await place_call_via_carrier(
            runtime, harness, "twilio", [CallerLine([], "", dtmf="0")], to_number=SHOP)
        [update] = [r for r in harness.api.requests if r.form and "Twiml" in r.form]
    assert placed.line.transfer_to == profile.transfer_numbers[0].number
    assert update.form is not None and "<Dial" in update.form["Twiml"]
    record = _shop(runtime).get_call(placed.call_id)
    assert record is not None and record.outcome == "transferred"
    assert "carrier.transfer" in [e.kind for e in _shop(runtime).list_call_events(record.id)]
    runtime.store.close()


async def test_pressing_0_while_the_agent_speaks_still_transfers(store_url: str) -> None:
    runtime = _runtime(store_url, [], ms_per_char=30)  # a long greeting to press over
    profile = runtime.registry.by_number(SHOP)
    async with carrier_harness(runtime) as harness:
        placed = await place_call_via_carrier(
            runtime, harness, "twilio", [CallerLine([], "", dtmf="0", barge_in_after_frames=15)],
            to_number=SHOP)
    assert placed.line.clears >= 1
    assert placed.line.transfer_to == profile.transfer_numbers[0].number
    shop = _shop(runtime)
    record = shop.get_call(placed.call_id)
    assert record is not None and (record.status, record.outcome) == ("completed", "transferred")
    assert [t.index for t in shop.list_turns(placed.call_id)] == [0, 1]
    runtime.store.close()


async def test_a_transfer_the_caller_talked_over_is_not_carried_out(store_url: str) -> None:
    script = ["Actually never mind. Goodbye."]
    runtime = _runtime(store_url, script, ms_per_char=30)
    [never_mind] = await _lines(script)
    lines = [CallerLine([], "", dtmf="0"),
             CallerLine(never_mind.frames, never_mind.text, barge_in_after_frames=10)]
    async with carrier_harness(runtime) as harness:
        placed = await place_call_via_carrier(runtime, harness, "twilio", lines,
                                              to_number=SHOP)
        transfers = [r for r in harness.api.requests if r.form and "Twiml" in r.form]
    assert placed.line.clears >= 1 and placed.line.transfer_to is None and transfers == []
    record = _shop(runtime).get_call(placed.call_id)
    assert record is not None and record.outcome != "transferred"
    runtime.store.close()
