"""Through the whole call engine: the caller hangs up mid-booking, rings back, hears
"welcome back", says yes, and the booking is made once (stub speech, realtime=False)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import pytest

from frontdesk.audio import split_frames
from frontdesk.call.events import AgentTurnDone
from frontdesk.client.caller import CallerLine
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import place_call, tone_voice
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import BOOKING_CONFIRMED, SESSION_DROPPED, SESSION_FINISHED, open_store

NOW = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
SHOP, CALLER = "+15125550100", "+15125551234"
HEARD = ["I'd like to book an oil change.", "December 1 at 10 AM.", "Ann Lee.", "Yes, please."]


@pytest.fixture
def runtime(store_url: str) -> Iterator[Runtime]:
    shop = parse_profile(example_profile_text(), "<example>")
    # the most patient in-call budget: audio pumped unpaced competes with the booking
    # write for two cores, and this test is about resuming, not the budget
    profile = shop.model_copy(update={
        "booking": shop.booking.model_copy(update={"in_call_budget_ms": 8000})})
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(20, list(HEARD)), tts=StubTTS(10, ms_per_char=1),
                    new_vad=EnergyVAD)
    yield Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    store.close()


async def line(text: str) -> CallerLine:
    return CallerLine(split_frames(await tone_voice(text)), text)


def agent_said(events: Sequence[object]) -> list[str]:
    return [e.planned_text for e in events if isinstance(e, AgentTurnDone)]


async def test_hang_up_mid_booking_then_ring_back_and_finish(runtime: Runtime) -> None:
    first = [await line(HEARD[0]), await line(HEARD[1]), await line(HEARD[2]),
             CallerLine((), hangup=True)]
    call_id, report = await place_call(runtime, first, to_number=SHOP, from_number=CALLER,
                                       realtime=False)
    business = runtime.store.for_business("main-street-auto")
    [session] = business.sessions_for(CALLER)
    assert session.status == SESSION_DROPPED and session.task == "booking"
    assert any("Shall I book it?" in said for said in agent_said(report.events))
    assert [b.status for b in business.list_bookings(NOW, NOW + timedelta(days=7))] == ["held"]

    _, again = await place_call(runtime, [await line(HEARD[3]), CallerLine((), hangup=True)],
                                to_number=SHOP, from_number=CALLER, realtime=False)
    said = agent_said(again.events)
    assert said[0].startswith("Welcome back to Main Street Auto. We were booking your oil "
                              "change tomorrow at 10 AM. Shall I go ahead?")
    assert "booked for tomorrow at 10 AM" in said[1]
    [booking] = business.list_bookings(NOW, NOW + timedelta(days=7))
    assert booking.status == BOOKING_CONFIRMED and booking.customer_name == "Ann Lee"
    [session] = business.sessions_for(CALLER)
    assert session.status == SESSION_FINISHED and session.legs == 2
    calls = {business.get_call(call_id).session_id}  # type: ignore[union-attr]
    assert calls == {session.id}
    kinds = [e.kind for e in business.list_call_events(call_id)]
    assert kinds.count("dialogue.turn") >= 3  # the event log of the first leg
