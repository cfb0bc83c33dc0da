"""The LLM brain on a real SQLite store with a scripted model, for the brain's tests.

The clock is fixed at Wednesday 2026-11-25 10:00 in Chicago; the store, profile and
business fixtures are in this folder's conftest.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from scripted_provider import ScriptedProvider, Step

from frontdesk.actions.booking import BookingDesk
from frontdesk.brain.base import BrainOutput, CallerTurn, Text
from frontdesk.brain.llm.brain import LLMBrain, LLMBrainConfig
from frontdesk.brain.llm.tools import CallScope, Tools
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile
from frontdesk.store import BookingRecord, BusinessStore, SessionRecord

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=CHICAGO)  # a Wednesday
CALLER = "+15125551234"
OTHER = ("Olivia Other", "+15125559999")  # another caller, booked before this call
M = "gpt-test-2025"


@dataclass
class Rig:
    brain: LLMBrain
    provider: ScriptedProvider
    call_id: str
    business: BusinessStore

    async def greet(self) -> str:
        spoken = "".join([o.text async for o in self.brain.greet() if isinstance(o, Text)])
        self.brain.heard(spoken, False)
        return spoken

    async def turn(self, text: str) -> tuple[str, list[BrainOutput]]:
        outputs = [item async for item in self.brain.respond(CallerTurn(text, 0.9))]
        spoken = "".join(o.text for o in outputs if isinstance(o, Text))
        self.brain.heard(spoken, False)
        return spoken, outputs

    def bookings(self) -> list[BookingRecord]:
        return self.business.bookings_for_call(self.call_id)


def rig(profile: Profile, business: BusinessStore, scripts: list[list[Step]], *,
        backup: ScriptedProvider | None = None, filler_after_s: float = 5.0,
        hard_deadline_s: float = 10.0, caller: str = CALLER,
        session: SessionRecord | None = None, resumed: bool = False,
        call_id: str | None = None) -> Rig:
    if call_id is None:
        call_id = business.create_call(caller, "+15125550100", started_at=NOW).id
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    receptionist = Receptionist(profile, business, call_id=call_id, caller_number=caller,
                                now=lambda: NOW, desk=desk, session=session, resumed=resumed)
    tools = Tools(CallScope(profile, business, desk, call_id,
                            session.id if session else call_id, caller, lambda: NOW))
    provider = ScriptedProvider(scripts, model=M)
    brain = LLMBrain(LLMBrainConfig(provider, tools, receptionist, fallback_provider=backup,
                                    filler_after_s=filler_after_s,
                                    hard_deadline_s=hard_deadline_s))
    return Rig(brain, provider, call_id, business)


def tool_results(provider: ScriptedProvider, request: int) -> list[dict[str, object]]:
    last = provider.requests[request].messages[-1]
    assert last.role == "tool"
    return [json.loads(r.content) for r in last.tool_results]
