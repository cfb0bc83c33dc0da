"""Recording opt-outs: the negation decides, not the word "record"."""

from __future__ import annotations

import pytest

from frontdesk.brain.nlu import Intent, detect_intent
from frontdesk.brain.nlu.intents import recording_opt_out


@pytest.mark.parametrize(
    "text",
    [
        "Don't record this.",
        "Please don't record this call.",
        "Please don't record.",
        "Stop recording.",
        "Can you stop the recording, please?",
        "I don't want to be recorded.",
        "I do not want this call recorded.",
        "I don't want you recording me.",
        "I'd rather not be recorded.",
        "I'd rather you didn't record this.",
        "I would prefer not to be recorded.",
        "No recording, please.",
        "I don't consent to being recorded.",
        "I do not consent.",
        "I never agreed to be recorded.",
        "I'm not comfortable with being recorded.",
        "I'm not OK with this call being recorded.",
        "I'm not really okay with being recorded.",
        "Turn off the recording.",
        "Turn the recording off.",
        "Hey, can you not record this?",
        "I object to being recorded.",
        "Can we do this without recording?",
        "Please delete the recording.",
        "I don't care, just don't record me.",
    ],
)
def test_opt_outs(text: str) -> None:
    assert recording_opt_out(text) == ""


@pytest.mark.parametrize(
    "text",
    [
        "I don't mind being recorded.",
        "I don't mind if you record this.",
        "I don't care if you record it.",
        "Recording is fine.",
        "No, recording is fine.",
        "I'm okay with being recorded.",
        "I'm fine with recording.",
        "That's fine, you can record.",
        "No problem with the recording.",
        "Don't stop recording.",
        "You don't have to stop recording.",
        "Is this call being recorded?",
        "I don't know if you're recording.",
        "I need my records sent over.",
        "I'm calling about my car, not my records.",
        "You have no record of my booking?",
        "I need an oil change.",
        "Yes, please.",
        "",
    ],
)
def test_not_opt_outs(text: str) -> None:
    assert recording_opt_out(text) is None


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("Don't record me, I need an oil change on Thursday.", "need an oil change on thursday"),
        ("Yes, and please don't record this.", "yes"),
        ("I don't want to book, just don't record this.", "dont want to book"),
        ("Don't record this, my name is John Smith.", "my name is john smith"),
        ("I'd like to book an oil change but please turn off the recording.",
         "like to book an oil change"),
    ],
)
def test_the_rest_of_the_sentence_is_kept(text: str, rest: str) -> None:
    assert recording_opt_out(text) == rest


def test_the_rest_is_understood_like_any_sentence() -> None:
    rest = recording_opt_out("Don't record me, I need an oil change on Thursday.")
    assert rest is not None and detect_intent(rest) is Intent.BOOK
