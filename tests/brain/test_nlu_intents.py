"""Intent, yes/no, service, name and phone extraction on Whisper-style text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from frontdesk.brain.nlu import (
    Intent,
    affirmation,
    detect_intent,
    extract_name,
    extract_phone,
    match_service,
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'd like to book an oil change", Intent.BOOK),
        ("can I get my car in for brakes", Intent.BOOK),
        ("do you have anything Thursday", Intent.BOOK),
        ("I need an oil change.", Intent.BOOK),
        ("Do you have any openings next week?", Intent.BOOK),
        ("I need to reschedule my appointment", Intent.RESCHEDULE),
        ("Can I move my appointment to Friday?", Intent.RESCHEDULE),
        ("I'd like to change my oil change appointment", Intent.RESCHEDULE),
        ("I need to cancel my appointment", Intent.CANCEL),
        ("I can't make it tomorrow", Intent.CANCEL),
        ("Please cancel the booking for my truck", Intent.CANCEL),
        ("I'd like to make an appointment", Intent.BOOK),
        ("Do you have any openings to book Friday?", Intent.BOOK),
        ("Can I bring my truck in tomorrow?", Intent.BOOK),
        ("what time do you close", Intent.HOURS),
        ("Are you open Saturday?", Intent.HOURS),
        ("what are your hours", Intent.HOURS),
        ("When do you guys open tomorrow?", Intent.HOURS),
        ("Are you guys open on Sundays?", Intent.HOURS),
        ("where are you located", Intent.ADDRESS),
        ("What's your address?", Intent.ADDRESS),
        ("How do I get there?", Intent.ADDRESS),
        ("how much is an oil change", Intent.PRICE),
        ("What does a brake inspection cost?", Intent.PRICE),
        ("What's the cost to rotate tires?", Intent.PRICE),
        ("can I leave a message", Intent.MESSAGE),
        ("Have someone call me back.", Intent.MESSAGE),
        ("Could you have the owner call me?", Intent.MESSAGE),
        ("let me talk to a person", Intent.HUMAN),
        ("I want to speak to a human.", Intent.HUMAN),
        ("Can I talk to someone?", Intent.HUMAN),
        ("Operator.", Intent.HUMAN),
        ("representative", Intent.HUMAN),
        ("Can you transfer me to the manager?", Intent.HUMAN),
        ("that's all, bye", Intent.GOODBYE),
        ("No, that's it, thanks.", Intent.GOODBYE),
        ("Goodbye.", Intent.GOODBYE),
        ("OK, thank you, bye.", Intent.GOODBYE),
        ("No, I'm all set.", Intent.GOODBYE),
        ("Hello?", Intent.UNKNOWN),
        ("Um, what?", Intent.UNKNOWN),
        ("can it be done in two hours", Intent.UNKNOWN),
    ],
)
def test_detect_intent(text: str, intent: Intent) -> None:
    assert detect_intent(text) is intent


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", True),
        ("Yeah.", True),
        ("yep", True),
        ("Sure.", True),
        ("correct", True),
        ("That works.", True),
        ("sounds good", True),
        ("Perfect.", True),
        ("Go ahead.", True),
        ("book it", True),
        ("yes please", True),
        ("Uh-huh.", True),
        ("Yes, no problem.", True),
        ("Okay.", True),
        ("no", False),
        ("Nope.", False),
        ("not really", False),
        ("That doesn't work.", False),
        ("wrong", False),
        ("No, Thursday works.", False),
        ("Yeah, no.", False),
        ("That's not right.", False),
        ("I'm good.", False),
        ("I'm not sure.", None),
        ("maybe", None),
        ("What?", None),
        ("Thursday", None),
        ("", None),
    ],
)
def test_affirmation(text: str, answer: bool | None) -> None:
    assert affirmation(text) is answer


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    aliases: Sequence[str]


SERVICES = (
    Service("oil-change", "oil change", ("oil", "lube")),
    Service("brake-inspection", "brake inspection", ("brakes", "brake check")),
    Service("tire-rotation", "tire rotation", ("tires", "rotate my tires")),
)


@pytest.mark.parametrize(
    ("text", "service_id"),
    [
        ("I'd like to book an oil change", "oil-change"),
        ("Can you change my oil?", "oil-change"),
        ("I need a lube job", "oil-change"),
        ("oil changes", "oil-change"),
        ("can I get my car in for brakes", "brake-inspection"),
        ("I need a brake check.", "brake-inspection"),
        ("I want a break inspection", "brake-inspection"),
        ("Rotate my tires please", "tire-rotation"),
        ("a tire rotation", "tire-rotation"),
        ("Do you do tire rotations?", "tire-rotation"),
        ("my tires are bald", "tire-rotation"),
        ("what are your hours", None),
        ("I'm toiling away", None),
        ("my brakes", "brake-inspection"),
    ],
)
def test_match_service(text: str, service_id: str | None) -> None:
    assert match_service(text, SERVICES) == service_id


def test_match_service_with_no_services() -> None:
    assert match_service("oil change", ()) is None


@pytest.mark.parametrize(
    ("text", "expecting", "name"),
    [
        ("my name is John Smith", False, "John Smith"),
        ("This is Maria.", False, "Maria"),
        ("this is maria", False, "Maria"),
        ("It's Dave Lee.", False, "Dave Lee"),
        ("name's Bob", False, "Bob"),
        ("My name is Sean O'Brien and I need brakes.", False, "Sean O'Brien"),
        ("Hi, this is Mary-Jane Watson from Acme.", False, "Mary-Jane Watson"),
        ("My name is, uh, Priya Patel.", False, "Priya Patel"),
        ("John Smith.", True, "John Smith"),
        ("Uh, it's John.", True, "John"),
        ("Yeah, Maria.", True, "Maria"),
        ("john smith", True, "John Smith"),
        ("John Smith.", False, None),
        ("It's broken.", False, None),
        ("I'm calling about my car.", False, None),
        ("Yes.", True, None),
        ("Thursday.", True, None),
        ("I don't know.", True, None),
        ("Oil change.", True, None),
        ("555 1234", True, None),
        ("the quick brown fox jumped over", True, None),
        ("my name is Anna Maria Lopez Garcia Ruiz", False, None),
    ],
)
def test_extract_name(text: str, expecting: bool, name: str | None) -> None:
    assert extract_name(text, expecting=expecting) == name


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("555 012 3456", "+15550123456"),
        ("five five five, oh one two, three four five six", "+15550123456"),
        ("+1 512-555-0100", "+15125550100"),
        ("(512) 555-0100", "+15125550100"),
        ("It's 1 512 555 0100.", "+15125550100"),
        ("I have 2 cars, my number is 512 555 0100", "+15125550100"),
        ("five one two, five five five, oh one hundred", "+15125550100"),
        ("double five five, one two three, four five six seven", "+15551234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("555-0123", "5550123"),
        ("it's $49", None),
        ("my 2015 Honda", None),
        ("call me", None),
    ],
)
def test_extract_phone(text: str, phone: str | None) -> None:
    assert extract_phone(text) == phone
