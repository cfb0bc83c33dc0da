"""The policy in front of the brain: decisions pre-empt the reply, are audited before they
are spoken, and a transfer nobody can take becomes an urgent message the business is
texted about (a real store; the receptionist behind it, or a brain that would lie)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.notify import KIND_SMS
from frontdesk.brain.base import (
    BrainOutput,
    CallerTurn,
    Escalated,
    Hangup,
    MessageSaved,
    Text,
    Transfer,
)
from frontdesk.brain.receptionist import Receptionist
from frontdesk.call.escalate import Escalating
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import BusinessStore, Store, open_store

CHICAGO = ZoneInfo("America/Chicago")
OPEN = datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)  # a Tuesday morning: the owner is in
CLOSED = datetime(2026, 12, 1, 20, 0, tzinfo=CHICAGO)
CALLER = "+15125551234"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def profile() -> Profile:
    return parse_profile(example_profile_text(), "<example>")


class Line:
    def __init__(self, profile: Profile, store: Store, now: datetime,
                 inner: object | None = None, caller: str = CALLER) -> None:
        self.business: BusinessStore = store.for_business(profile.business.id)
        self.call = self.business.create_call(caller, "+15125550100", started_at=now)
        self.desk = BookingDesk(profile, self.business, clock=lambda: now)
        self.inner = inner or Receptionist(profile, self.business, call_id=self.call.id,
                                           caller_number=caller, now=lambda: now,
                                           desk=self.desk)
        self.brain = Escalating(self.inner, profile, self.business, self.desk,  # type: ignore[arg-type]
                                call_id=self.call.id, caller_number=caller,
                                session_id=None, now=lambda: now,
                                identifiable=caller.startswith("+1"))

    async def say(self, text: str, *, confidence: float = 0.9,
                  dtmf: str | None = None) -> list[BrainOutput]:
        return [o async for o in self.brain.respond(CallerTurn(text, confidence, dtmf=dtmf))]

    def events(self, kind: str) -> list[dict[str, object]]:
        return [e.data for e in self.business.list_call_events(self.call.id, kind=kind)]


def spoken(outputs: list[BrainOutput]) -> str:
    return "".join(o.text for o in outputs if isinstance(o, Text))


def transfer(outputs: list[BrainOutput]) -> Transfer | None:
    return next((o for o in outputs if isinstance(o, Transfer)), None)


async def test_a_refund_demand_mid_booking_is_transferred_with_the_audit_first(
    profile: Profile, store: Store
) -> None:
    line = Line(profile, store, OPEN)
    await line.say("I'd like to book an oil change.")
    out = await line.say("Actually forget it, I want a refund for the brake job you did.")
    warm = transfer(out)
    assert warm is not None and warm.number == "+15125550199"
    assert warm.summary is not None and "refund" in warm.summary and CALLER in warm.summary
    assert [(o.category, o.action) for o in out if isinstance(o, Escalated)] == [
        ("refund", "warm_transfer")]
    assert "Let me connect you with the owner" in spoken(out)
    assert "What day and time" not in spoken(out)  # the booking step was not continued
    [decision] = line.events("escalation.decision")
    assert (decision["category"], decision["action"]) == ("refund", "warm_transfer")
    assert "refund" in str(decision["evidence"]) and decision["rule"]
    assert line.events("escalation.outcome") == [{"action": "warm_transfer",
                                                  "to": "+15125550199"}]
    assert line.brain.unfinished() is None  # handed to a person: not a dropped booking


async def test_an_after_hours_legal_threat_is_an_urgent_message_the_business_is_texted(
    profile: Profile, store: Store
) -> None:
    line = Line(profile, store, CLOSED)
    out = await line.say("I'm calling my attorney and we will see you in court.")
    assert "No one is available" in spoken(out) and spoken(out).endswith(
        "Can I get your name, please?")
    out = await line.say("It's Dana Ruiz.")
    [saved] = [o for o in out if isinstance(o, MessageSaved)]
    assert Hangup() in out and "marked it urgent" in spoken(out)
    [message] = line.business.list_messages()
    assert (message.caller_name, message.caller_phone) == ("Dana Ruiz", CALLER)
    assert message.text.startswith("[urgent] legal: I'm calling my attorney")
    [text] = line.business.list_commitments(kinds=(KIND_SMS,))
    assert text.payload["to"] == "+15125550199" and "URGENT" in text.payload["text"]
    [outcome] = line.events("escalation.outcome")
    assert outcome["message_id"] == saved.message_id and outcome["urgency"] == "urgent"
    [decision] = line.events("escalation.decision")
    assert (decision["wanted"], decision["action"]) == ("warm_transfer", "message")


async def test_a_negated_trigger_reaches_the_brain_and_is_audited_as_a_near_miss(
    profile: Profile, store: Store
) -> None:
    line = Line(profile, store, OPEN)
    out = await line.say("I'm not going to sue anyone, I just need an oil change.")
    assert not any(isinstance(o, Transfer | Hangup) for o in out)
    assert "What day and time" in spoken(out)
    assert line.events("escalation.decision") == []
    assert any(m["category"] == "legal" for m in line.events("escalation.near_miss"))


async def test_pressing_0_and_asking_for_a_person_are_transfers(
    profile: Profile, store: Store
) -> None:
    line = Line(profile, store, OPEN)
    assert Transfer("+15125550199") in await line.say("", dtmf="0")  # cold: no summary
    other = Line(profile, store, OPEN, caller="+15125550002")
    assert Transfer("+15125550199") in await other.say("Can I talk to a real person please?")


async def test_abuse_gets_a_warning_then_the_call_ends(profile: Profile, store: Store) -> None:
    line = Line(profile, store, OPEN)
    out = await line.say("Shut up you stupid machine, what are your hours?")
    assert spoken(out).startswith("I'd like to help, but I need us to keep this respectful.")
    assert "Monday" in spoken(out) and Hangup() not in out  # the brain still answered
    out = await line.say("You're a useless piece of junk.")
    assert Hangup() in out and "end the call" in spoken(out)


async def test_three_unclear_turns_in_a_row_become_a_message(
    profile: Profile, store: Store
) -> None:
    line = Line(profile, store, OPEN)
    for _ in range(2):
        out = await line.say("mmf grr", confidence=0.1)
        assert "Can I get your name" not in spoken(out)
    out = await line.say("hnn", confidence=0.1)
    assert spoken(out).startswith("I'm sorry, I'm having trouble understanding.")
    assert "Can I get your name" in spoken(out)


class Liar:
    """A brain that would say anything: it is never asked about an escalated turn."""

    def __init__(self) -> None:
        self.asked = 0

    async def greet(self) -> AsyncGenerator[BrainOutput, None]:
        yield Text("Hi.")

    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        self.asked += 1
        yield Text("Sure, I've refunded you and you're booked for tomorrow!")

    def heard(self, played_text: str, interrupted: bool) -> None:
        pass


async def test_no_brain_can_talk_the_policy_out_of_an_emergency(
    profile: Profile, store: Store
) -> None:
    liar = Liar()
    line = Line(profile, store, OPEN, inner=liar)
    out = await line.say("There's smoke coming out of the car and my son is hurt.")
    assert liar.asked == 0
    assert spoken(out).startswith("If anyone is hurt or in danger, please hang up and call")
    warm = transfer(out)
    assert warm is not None and warm.number == "+15125550199"
    later = Line(profile, store, OPEN + timedelta(hours=1), inner=liar)
    await later.say("What are your hours?")
    assert liar.asked == 1


async def test_a_caller_gone_while_leaving_the_message_loses_nothing(
    profile: Profile, store: Store
) -> None:
    line = Line(profile, store, CLOSED)
    out = await line.say("I want a refund for the brake job, it's still squealing.")
    assert spoken(out).endswith("Can I get your name, please?")
    await line.brain.settle()  # the line drops before they answer
    [message] = line.business.list_messages()
    assert message.caller_phone == CALLER and "refund" in message.text
    assert len(line.business.list_commitments(kinds=(KIND_SMS,))) == 1
    assert line.brain.unfinished() is None
