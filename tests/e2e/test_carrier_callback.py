"""A dropped booking call is called back through the carrier, and the answered callback
finishes the booking: all through the Twilio emulator (signed webhooks, the media stream
in real time, REST calls to the local fake API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from frontdesk.client.caller import CallerLine, ScriptedCaller
from frontdesk.client.harness import CarrierHarness, carrier_harness
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.server.callbacks import CarrierDialer, place_callbacks
from frontdesk.softphone import Script, synthesize_lines, tone_voice
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import BOOKING_CONFIRMED, CALLBACK_ANSWERED, open_store
from frontdesk.telephony.twilio.rest import TwilioActions

NOW = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
SHOP, CALLER = "+15125550100", "+15125551234"
HEARD = ["I'd like to book an oil change.", "December 1 at 10 AM.", "Ann Lee.", "Yes, please."]


@pytest.fixture
async def rig(store_url: str) -> AsyncIterator[tuple[Runtime, CarrierHarness]]:
    shop = parse_profile(example_profile_text(), "<example>")
    sessions = shop.sessions.model_copy(update={"callback": True, "callback_after_minutes": 5})
    # the most patient in-call budget: unpaced audio competes with the booking write
    booking = shop.booking.model_copy(update={"in_call_budget_ms": 8000})
    profile = shop.model_copy(update={"sessions": sessions, "booking": booking})
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(50, list(HEARD)), tts=StubTTS(20, ms_per_char=4),
                    new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    async with carrier_harness(runtime) as harness:
        yield runtime, harness
    store.close()


async def lines(*texts: str, hang_up: bool = True) -> list[CallerLine]:
    said = await synthesize_lines(Script([("say", t) for t in texts]), tone_voice)
    return said + ([CallerLine((), hangup=True)] if hang_up else [])


async def test_the_callback_is_placed_answered_and_finishes_the_booking(
    rig: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = rig
    first = harness.twilio(SHOP, CALLER)
    caller = ScriptedCaller(await lines(*HEARD[:3]), line=first, turns_from_audio=True)
    caller.attach(first)
    await caller.run(first.run)  # the caller hangs up before "yes"
    await harness.edge.wait_finished(
        runtime.store.for_business("main-street-auto").find_call_by_carrier_id(
            "twilio", first.call_sid).id)  # type: ignore[union-attr]
    business = runtime.store.for_business("main-street-auto")
    [session] = business.sessions_for(CALLER)
    assert (session.status, session.callback_state) == ("dropped", "scheduled")

    assert harness.settings.twilio is not None
    actions = TwilioActions(harness.settings.twilio)
    dialer = CarrierDialer(actions, harness.settings.public_url)
    profile = runtime.registry.by_number(SHOP)
    placed = await place_callbacks(business, profile, dialer, owner="office",
                                   now=lambda: NOW + timedelta(minutes=6))
    await actions.aclose()
    assert placed == 1
    [dial] = [r for r in harness.api.requests if r.action == "calls.create"]
    assert dial.form is not None and (dial.form["To"], dial.form["From"]) == (CALLER, SHOP)

    # the callee picks up: Twilio calls our voice webhook for the outbound leg
    answered = harness.twilio(SHOP, CALLER, answering=dial.call_id)
    caller = ScriptedCaller(await lines(HEARD[3]), line=answered, turns_from_audio=True)
    caller.attach(answered)
    await caller.run(answered.run)
    leg = business.find_call_by_carrier_id("twilio", dial.call_id or "")
    assert leg is not None
    await harness.edge.wait_finished(leg.id)
    turns = business.list_turns(leg.id)
    assert turns[0].agent_text.startswith("Hi, this is Main Street Auto calling you back")
    assert "booked for tomorrow at 10 AM" in turns[1].agent_text
    [booking] = business.list_bookings(NOW, NOW + timedelta(days=3))
    assert booking.status == BOOKING_CONFIRMED and booking.customer_name == "Ann Lee"
    [session] = business.sessions_for(CALLER)
    assert session.callback_state == CALLBACK_ANSWERED and session.legs == 2
