"""The back office wakes when a call ends: it texts what the caller did not hear, then
reconciles that call. A real SQLite store and the built-in calendar as the backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from frontdesk.actions.ledger import TOLD_CONFIRMED
from frontdesk.profile import Profile, ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.server.backoffice import BackOffice
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import C_COMMITTED, C_RECONCILED, open_store

NOW = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
CALLER = "+15125550123"


@dataclass
class Texts:
    sent: list[tuple[str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, *, to: str, text: str) -> str:
        self.sent.append((to, text))
        self.arrived.set()
        return "SM1"


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(f"sqlite:///{tmp_path}/t.db" if request.param == "sqlite"
                       else request.getfixturevalue("fresh_postgres"))
    speech = Speech(stt=StubSTT(20, []), tts=StubTTS(10, ms_per_char=2), new_vad=EnergyVAD)
    yield Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    store.close()


async def book_unheard(runtime: Runtime) -> str:
    """A booking committed in a call that ended before the caller heard it confirmed."""
    profile: Profile = next(iter(runtime.registry))
    desk = runtime.desk(profile)
    business = desk.store
    call = business.create_call(CALLER, "+15125550100", started_at=NOW)
    slot = desk.calendar.check("oil-change", datetime.fromisoformat(
        "2026-12-01T10:00:00-06:00"), NOW)
    outcome = await desk.book(session_id=call.id, call_id=call.id, slot=slot, name="Ann Lee",
                              phone=CALLER)
    assert outcome.state == C_COMMITTED
    desk.ledger.told(outcome.commitment.id, TOLD_CONFIRMED, heard=False)  # cut by a hang-up
    business.end_call(call.id, status="completed", outcome="booked", ended_at=NOW)
    runtime.ended.put_nowait((profile.business.id, call.id))
    return outcome.commitment.id


async def test_a_call_that_ends_wakes_the_office_to_text_and_reconcile(
    runtime: Runtime,
) -> None:
    texts = Texts()
    # neither the timer nor the scheduled full reconciliation comes round in this test
    office = BackOffice(runtime, sms_for=lambda _: texts, interval_s=3600,
                        reconcile_every_s=3600 * 24)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg, asyncio.timeout(30):  # a bound, not a guess
        tg.create_task(office.run(stop))
        await office.wait_for(passes=1, reconciles=1)  # start-up: nothing to do yet
        assert texts.sent == []
        commitment_id = await book_unheard(runtime)
        # woken by the call's end, not by the hour-long timer: texted, then reconciled
        await office.wait_for(passes=2, reconciles=2)
        stop.set()
    [(to, text)] = texts.sent
    assert to == CALLER and "confirmed for Tuesday, December 1 at 10 AM" in text
    commitment = runtime.desk(next(iter(runtime.registry))).store.get_commitment(commitment_id)
    assert commitment is not None and commitment.state == C_RECONCILED
    exposed = generate_latest(runtime.metrics.registry).decode()
    assert 'frontdesk_outbox_texts_total{business="main-street-auto",result="sent"} 1.0' \
        in exposed
    assert 'frontdesk_callback_tasks_open{business="main-street-auto"} 0.0' in exposed
    await runtime.aclose()
