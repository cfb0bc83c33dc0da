"""A transfer nobody takes is not a lost caller: whole Twilio and Telnyx calls through the
emulators, whose transfer targets are busy, do not answer, or answer. Busy: Twilio posts
the dial outcome (Telnyx: the rung leg's signed ``call.hangup``), the caller comes back
on a new stream, hears the apology and leaves a message that is stored and texted to the
business. Answered: the call is over. A warm transfer's whisper reaches the person who
answers (Twilio)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest

from frontdesk.client.caller import CallerLine, ScriptedCaller
from frontdesk.client.carrier import TelnyxEmulator, TwilioEmulator
from frontdesk.client.harness import CarrierHarness, carrier_harness
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import Script, synthesize_lines, tone_voice
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import BusinessStore, CallRecord, open_store
from frontdesk.telephony.tickets import TransferTicket

SHOP, CALLER, OWNER = "+15125550100", "+15125551234", "+15125550199"
OPEN = datetime.fromisoformat("2026-12-01T10:00:00-06:00")  # Tuesday: the owner is on call


def _runtime(store_url: str, script: list[str]) -> Runtime:
    profile = parse_profile(example_profile_text(), "<example>")
    speech = Speech(stt=StubSTT(50, script), tts=StubTTS(20, ms_per_char=4),
                    new_vad=EnergyVAD)
    return Runtime(ProfileRegistry([profile]), open_store(store_url), speech,
                   now=lambda: OPEN)


def _shop(runtime: Runtime) -> BusinessStore:
    return runtime.store.for_business("main-street-auto")


async def _call(harness: CarrierHarness, lines: Sequence[CallerLine],
                outcomes: Mapping[str, str]) -> TwilioEmulator:
    emulator = harness.twilio(SHOP, CALLER, dial_outcomes=outcomes)
    caller = ScriptedCaller(lines, line=emulator, turns_from_audio=True)
    caller.attach(emulator)
    await caller.run(emulator.run)
    return emulator


async def _telnyx_call(harness: CarrierHarness, lines: Sequence[CallerLine],
                       outcomes: Mapping[str, str]) -> TelnyxEmulator:
    emulator = harness.telnyx(SHOP, CALLER, dial_outcomes=outcomes)
    caller = ScriptedCaller(lines, line=emulator, turns_from_audio=True)
    caller.attach(emulator)
    await caller.run(emulator.run)
    return emulator


async def _finished(runtime: Runtime, harness: CarrierHarness, call_id: str) -> CallRecord:
    """The row once the server's media session for it is over."""
    await asyncio.wait_for(harness.edge.wait_finished(call_id), 10)
    record = _shop(runtime).get_call(call_id)
    assert record is not None and record.ended_at is not None
    return record


def _event(shop: BusinessStore, call_id: str, kind: str) -> dict[str, Any]:
    [event] = shop.list_call_events(call_id, kind=kind)
    return event.data


async def test_a_busy_owner_hands_the_caller_back_to_leave_a_message(store_url: str) -> None:
    script = ["Let me talk to a real person.", "Dana Ruiz."]
    runtime = _runtime(store_url, script)
    lines = await synthesize_lines(Script([("say", t) for t in script]), tone_voice)
    async with carrier_harness(runtime) as harness:
        emulator = await _call(harness, lines, {OWNER: "busy"})
        shop = _shop(runtime)
        original = shop.find_call_by_carrier_id("twilio", emulator.call_sid)
        assert original is not None
        await _finished(runtime, harness, original.id)
        result = _event(shop, original.id, "carrier.transfer_result")
        leg = await _finished(runtime, harness, result["return_call_id"])
        rest = [r for r in harness.api.requests if r.form is not None]
    # the carrier's view: rang the owner (busy), posted the outcome, streamed the caller back
    assert emulator.log.transfer_to == OWNER and emulator.log.dial_statuses == ["busy"]
    assert emulator.log.streams == 2 and emulator.log.whispers == []
    assert emulator.log.ringback_frames > 0 and emulator.log.hung_up_by_agent
    assert [("Twiml" in (r.form or {}), (r.form or {}).get("Status")) for r in rest] == [
        (True, None), (False, "completed")]  # the transfer, then the return leg's hang-up
    # the original call: transferred, and the transfer's outcome recorded on it
    first = shop.get_call(original.id)
    assert first is not None and first.outcome == "transferred"
    assert _event(shop, original.id, "carrier.dial")["to"] == OWNER
    assert result["status"] == "busy" and result["leg"] == leg.id
    _assert_the_return_leg_took_the_message(shop, original.id, leg, "twilio", "busy",
                                            emulator.call_sid)
    runtime.store.close()


async def test_an_owner_who_answers_takes_the_call_and_nothing_comes_back(
    store_url: str
) -> None:
    runtime = _runtime(store_url, [])
    async with carrier_harness(runtime) as harness:
        emulator = await _call(harness, [CallerLine([], "", dtmf="0")], {})
        shop = _shop(runtime)
        original = shop.find_call_by_carrier_id("twilio", emulator.call_sid)
        assert original is not None
        record = await _finished(runtime, harness, original.id)
    assert emulator.log.transfer_to == OWNER and emulator.log.dial_statuses == ["completed"]
    assert emulator.log.streams == 1 and emulator.log.whispers == []
    assert record.outcome == "transferred"
    result = _event(shop, original.id, "carrier.transfer_result")
    assert result["status"] == "completed" and "return_call_id" not in result
    assert [c.id for c in shop.list_calls()] == [original.id]
    assert shop.list_messages() == [] and shop.list_commitments(kinds=("sms",)) == []
    runtime.store.close()


async def test_a_warm_transfer_whispers_the_summary_to_the_person_who_answers(
    store_url: str
) -> None:
    script = ["I want my money back for the brake job."]
    runtime = _runtime(store_url, script)
    lines = await synthesize_lines(Script([("say", t) for t in script]), tone_voice)
    async with carrier_harness(runtime) as harness:
        emulator = await _call(harness, lines, {OWNER: "completed"})
        shop = _shop(runtime)
        original = shop.find_call_by_carrier_id("twilio", emulator.call_sid)
        assert original is not None
        await _finished(runtime, harness, original.id)
    assert emulator.log.dial_statuses == ["completed"] and emulator.log.streams == 1
    [whisper] = emulator.log.whispers
    assert whisper.startswith("Frontdesk here, with a high refund call from +15125551234.")
    assert whisper.endswith("They said: I want my money back for the brake job.")
    assert _event(shop, original.id, "carrier.dial")["summary"] == whisper
    assert shop.list_messages() == []
    runtime.store.close()


def _telnyx_actions(harness: CarrierHarness) -> list[str]:
    return [r.action for r in harness.api.requests if r.carrier == "telnyx"]


@pytest.mark.parametrize(("outcome", "cause"), [("busy", "user_busy"), ("no-answer", "timeout")])
async def test_a_telnyx_transfer_nobody_takes_hands_the_caller_back_to_leave_a_message(
    store_url: str, outcome: str, cause: str
) -> None:
    script = ["Let me talk to a real person.", "Dana Ruiz."]
    runtime = _runtime(store_url, script)
    lines = await synthesize_lines(Script([("say", t) for t in script]), tone_voice)
    async with carrier_harness(runtime) as harness:
        emulator = await _telnyx_call(harness, lines, {OWNER: outcome})
        shop = _shop(runtime)
        original = shop.find_call_by_carrier_id("telnyx", emulator.call_control_id)
        assert original is not None
        await _finished(runtime, harness, original.id)
        result = _event(shop, original.id, "carrier.transfer_result")
        leg = await _finished(runtime, harness, result["return_call_id"])
        [transfer] = [r.json for r in harness.api.requests if r.action == "transfer"]
        assert harness.settings.telnyx is not None
        secret = harness.settings.telnyx.api.api_key
        actions = _telnyx_actions(harness)
    # the carrier's view: rang the owner for the profile's timeout, the leg hung up
    # unanswered, the caller's leg streamed again, and the return leg hung up at the end
    assert emulator.log.transfer_to == OWNER and emulator.log.dial_statuses == [outcome]
    assert emulator.log.streams == 2 and emulator.log.ringback_frames > 0
    assert emulator.log.hung_up_by_agent
    assert actions == ["answer", "transfer", "streaming_start", "hangup"]
    assert isinstance(transfer, dict) and (transfer["to"], transfer["from"]) == (OWNER, SHOP)
    assert transfer["timeout_secs"] == runtime.registry.by_number(
        SHOP).escalation.transfer_timeout_s == _event(shop, original.id,
                                                      "carrier.dial")["timeout_s"]
    ticket = TransferTicket.parse(base64.b64decode(transfer["target_leg_client_state"]).decode(),
                                  secret)
    assert (ticket.call_id, ticket.leg_id, ticket.carrier_call_id) == (
        original.id, leg.id, emulator.call_control_id)
    # the original call: transferred, the transfer's outcome recorded on it, and the
    # caller's hang-up at the end (echoing the transfer's state) recorded as its own
    first = shop.get_call(original.id)
    assert first is not None and first.outcome == "transferred"
    assert first.carrier_status == "completed"
    assert (result["status"], result["hangup_cause"], result["leg"]) == (outcome, cause, leg.id)
    _assert_the_return_leg_took_the_message(shop, original.id, leg, "telnyx", outcome,
                                            emulator.call_control_id)
    runtime.store.close()


async def test_an_owner_who_answers_a_telnyx_transfer_takes_the_call_and_nothing_comes_back(
    store_url: str
) -> None:
    runtime = _runtime(store_url, [])
    async with carrier_harness(runtime) as harness:
        emulator = await _telnyx_call(harness, [CallerLine([], "", dtmf="0")], {})
        shop = _shop(runtime)
        original = shop.find_call_by_carrier_id("telnyx", emulator.call_control_id)
        assert original is not None
        record = await _finished(runtime, harness, original.id)
        actions = _telnyx_actions(harness)
    assert emulator.log.transfer_to == OWNER and emulator.log.dial_statuses == ["completed"]
    assert emulator.log.streams == 1 and actions == ["answer", "transfer"]
    assert record.outcome == "transferred"
    result = _event(shop, original.id, "carrier.transfer_result")
    assert result["status"] == "completed" and "return_call_id" not in result
    final = shop.get_call(original.id)
    assert final is not None and final.carrier_status == "completed"
    assert [c.id for c in shop.list_calls()] == [original.id]
    assert shop.list_messages() == [] and shop.list_commitments(kinds=("sms",)) == []
    runtime.store.close()


def _assert_the_return_leg_took_the_message(shop: BusinessStore, original_id: str,
                                            leg: CallRecord, carrier: str, dial_status: str,
                                            carrier_call_id: str) -> None:
    """The return leg: a row of its own, linked to the original, that took the message
    and texted the owner."""
    assert (leg.from_number, leg.to_number, leg.carrier) == (CALLER, SHOP, carrier)
    assert (leg.status, leg.outcome, leg.carrier_call_id) == ("completed", "message", None)
    assert _event(shop, leg.id, "carrier.return_leg") == {
        "original_call_id": original_id, "dial_status": dial_status,
        "carrier_call_id": carrier_call_id}
    turns = shop.list_turns(leg.id)
    assert turns[0].agent_text_played.startswith(
        "I'm sorry, no one could take your call just now.")
    assert [t.caller_text for t in turns[1:]] == ["Dana Ruiz."]
    [message] = shop.list_messages()
    assert message.caller_name == "Dana Ruiz" and message.call_id == leg.id
    assert message.text.startswith("[normal] human:")
    [text] = shop.list_commitments(kinds=("sms",))
    assert text.payload["to"] == OWNER and "Dana Ruiz" in text.payload["text"]
