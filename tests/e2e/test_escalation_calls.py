"""Escalation on whole calls through the Twilio path: the policy's action reaches the
carrier (a transfer), and an after-hours legal threat becomes an urgent message the
business is texted about through the carrier's REST API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from frontdesk.actions.outbox import Outbox
from frontdesk.client.harness import CarrierHarness, carrier_harness
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.server.backoffice import CarrierSms
from frontdesk.softphone import (
    CarrierCall,
    Script,
    place_call_via_carrier,
    synthesize_lines,
    tone_voice,
)
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import open_store
from frontdesk.telephony.twilio.rest import TwilioActions

SHOP, CALLER, OWNER = "+15125550100", "+15125551234", "+15125550199"
OPEN = datetime.fromisoformat("2026-12-01T10:00:00-06:00")  # Tuesday: the owner is on call
CLOSED = datetime.fromisoformat("2026-12-01T20:00:00-06:00")


@contextlib.asynccontextmanager
async def calling(store_url: str, script: list[str],
                  now: datetime) -> AsyncIterator[tuple[Runtime, CarrierHarness, CarrierCall]]:
    """The scripted caller's whole call; the harness stays up for what the test does next."""
    profile = parse_profile(example_profile_text(), "<example>")
    speech = Speech(stt=StubSTT(50, script), tts=StubTTS(20, ms_per_char=4),
                    new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), open_store(store_url), speech,
                      now=lambda: now)
    lines = await synthesize_lines(Script([("say", t) for t in script]), tone_voice)
    try:
        async with carrier_harness(runtime) as harness:
            placed = await place_call_via_carrier(runtime, harness, "twilio", lines,
                                                  to_number=SHOP, from_number=CALLER)
            yield runtime, harness, placed
    finally:
        runtime.store.close()
    

async def test_a_refund_demand_during_a_booking_is_transferred_to_the_owner(
    store_url: str
) -> None:
    script = ["I'd like to book an oil change.", "Actually I want my money back for the brakes."]
    async with calling(store_url, script, OPEN) as (runtime, harness, placed):
        [update] = [r for r in harness.api.requests if r.form and "Twiml" in r.form]
    assert placed.line.transfer_to == OWNER
    assert update.form is not None and f">{OWNER}</" in update.form["Twiml"]
    shop = runtime.store.for_business("main-street-auto")
    record = shop.get_call(placed.call_id)
    assert record is not None and record.outcome == "transferred"
    [decision] = shop.list_call_events(placed.call_id, kind="escalation.decision")
    assert (decision.data["category"], decision.data["action"]) == ("refund", "warm_transfer")
    [session] = shop.sessions_for(CALLER)
    assert session.status == "finished"  # handed to a person, not a dropped booking


async def test_an_after_hours_legal_threat_is_an_urgent_message_and_the_owner_is_texted(
    store_url: str
) -> None:
    script = ["I'm going to sue you, my lawyer will be in touch.", "Dana Ruiz."]
    async with calling(store_url, script, CLOSED) as (runtime, harness, placed):
        profile = runtime.registry.by_number(SHOP)
        assert harness.settings.twilio is not None
        actions = TwilioActions(harness.settings.twilio)
        outbox = Outbox(runtime.desk(profile), sms=CarrierSms(actions, SHOP), owner="office",
                        clock=lambda: CLOSED)
        report = await outbox.run_once()
        await actions.aclose()
        texts = [r for r in harness.api.requests if r.action == "messages.create"]
    assert placed.line.hung_up_by_agent and placed.line.transfer_to is None
    shop = runtime.store.for_business("main-street-auto")
    [message] = shop.list_messages()
    assert message.caller_name == "Dana Ruiz" and message.text.startswith("[urgent] legal:")
    assert report.texts_sent == 1
    [text] = texts
    assert text.form is not None and text.form["To"] == OWNER
    assert text.form["Body"].startswith("frontdesk URGENT message from Dana Ruiz (+15125551234)")
    turns = shop.list_turns(placed.call_id)
    assert "No one is available to take your call right now" in turns[1].agent_text
