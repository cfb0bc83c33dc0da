"""The receptionist's side of recording consent: the disclosure, its repetition after a
barge-in cut it, and the caller's opt-out, at the text level with a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from frontdesk.brain.base import BrainOutput, CallerTurn, StopRecording, Text
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import Profile, example_profile_text
from frontdesk.store import Store, open_store

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Chicago"))  # a Wednesday
CALLER = "+15125551234"
DISCLOSURE = "This call is recorded for quality and training."


def make_profile(**recording: Any) -> Profile:
    data = yaml.safe_load(example_profile_text())
    data["recording"] = recording
    return Profile.model_validate(data)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


def receptionist(store: Store, profile: Profile) -> Receptionist:
    business = store.for_business(profile.business.id)
    call = business.create_call(CALLER, "+15125550100", started_at=NOW)
    return Receptionist(profile, business, call_id=call.id, caller_number=CALLER,
                        now=lambda: NOW)


@pytest.fixture
def brain(store: Store) -> Receptionist:
    return receptionist(store, make_profile(enabled=True))


def spoken(outputs: list[BrainOutput]) -> str:
    return "".join(o.text for o in outputs if isinstance(o, Text))


async def greet(brain: Receptionist, played: str | None = None) -> str:
    text = spoken([o async for o in brain.greet()])
    brain.heard(text if played is None else played, played is not None)
    return text


async def say(brain: Receptionist, text: str, played: str | None = None) -> list[BrainOutput]:
    outputs = [o async for o in brain.respond(CallerTurn(text, 0.9))]
    brain.heard(spoken(outputs) if played is None else played, played is not None)
    return outputs


async def test_the_greeting_opens_with_the_disclosure_once_heard(brain: Receptionist) -> None:
    greeting = await greet(brain)
    assert greeting.startswith(DISCLOSURE + " Thanks for calling Main Street Auto.")
    reply = spoken(await say(brain, "What are your hours?"))
    assert DISCLOSURE not in reply and reply.startswith("We're open")


async def test_a_cut_disclosure_is_repeated_first_until_heard(brain: Receptionist) -> None:
    await greet(brain, played="This call is recorded for")  # the caller talked over it
    first = spoken(await say(brain, "What are your hours?", played="This call is"))
    assert first.startswith(DISCLOSURE + " We're open")
    second = spoken(await say(brain, "Where are you located?"))
    assert second.startswith(DISCLOSURE + " We're at 1200 Main Street")
    third = spoken(await say(brain, "How much is an oil change?"))
    assert DISCLOSURE not in third


async def test_a_custom_disclosure_is_the_one_spoken(store: Store) -> None:
    brain = receptionist(store, make_profile(enabled=True,
                                             disclosure="Calls may be recorded. Say stop."))
    assert (await greet(brain)).startswith("Calls may be recorded. Say stop. Thanks")


async def test_no_disclosure_when_recording_is_off(store: Store) -> None:
    brain = receptionist(store, make_profile())
    greeting = await greet(brain, played="Thanks")
    assert "recorded" not in greeting
    assert "recorded" not in spoken(await say(brain, "What are your hours?"))


async def test_opt_out_stops_first_then_acknowledges_and_carries_on(brain: Receptionist) -> None:
    await greet(brain)
    await say(brain, "I'd like to book an oil change.")
    outputs = await say(brain, "Please don't record this.")
    assert isinstance(outputs[0], StopRecording)
    assert spoken(outputs) == ("Of course. This call won't be recorded. "
                               "What day and time works for you?")
    booking = spoken(await say(brain, "Thursday at 9 AM"))
    assert "Can I get your name" in booking  # the booking went on where it was


async def test_opt_out_before_the_disclosure_was_heard_ends_the_disclosures(
    brain: Receptionist,
) -> None:
    await greet(brain, played="This call")
    outputs = await say(brain, "Stop recording.", played="Of course.")
    assert isinstance(outputs[0], StopRecording)
    assert DISCLOSURE not in spoken(outputs)
    assert DISCLOSURE not in spoken(await say(brain, "What are your hours?"))


async def test_opt_out_with_a_request_answers_the_request(brain: Receptionist) -> None:
    await greet(brain)
    outputs = await say(brain, "Don't record me, I need an oil change on Thursday.")
    assert isinstance(outputs[0], StopRecording)
    text = spoken(outputs)
    assert text.startswith("Of course. This call won't be recorded. ")
    assert "I have tomorrow at" in text  # Thursday's times, for the oil change
    assert brain.state.service_id == "oil-change"


async def test_consent_is_not_an_opt_out(brain: Receptionist) -> None:
    await greet(brain)
    outputs = await say(brain, "I don't mind being recorded.")
    assert not any(isinstance(o, StopRecording) for o in outputs)
    assert "won't be recorded" not in spoken(outputs)


async def test_opt_out_when_nothing_is_recorded_says_so(store: Store) -> None:
    brain = receptionist(store, make_profile(enabled=False))
    await greet(brain)
    outputs = await say(brain, "Please don't record this.")
    assert not any(isinstance(o, StopRecording) for o in outputs)
    assert spoken(outputs) == "This call isn't being recorded. How can I help you today?"


async def test_a_mumbled_opt_out_is_not_acted_on(brain: Receptionist) -> None:
    await greet(brain)
    outputs = [o async for o in brain.respond(CallerTurn("don't record this", 0.1))]
    assert not any(isinstance(o, StopRecording) for o in outputs)
