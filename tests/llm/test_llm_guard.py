"""The guard: model text about side effects is spoken only when the ledger backs it, and
markup never reaches TTS. Facts come from the example profile (Main Street Auto:
Mon-Fri 8-5, Sat 9-1, closed Sunday; oil change $49.95, brake inspection $89, tire
rotation $39, state inspection $25.50) on Wednesday, November 25th 2026, 10 AM."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.brain.llm.guard import (
    FINALIZING,
    NO_MESSAGE,
    NO_MONEY,
    NO_OFFER,
    NO_PRICE,
    NOT_BOOKED,
    NOT_CANCELLED,
    NOT_CHANGED,
    NOT_SENT,
    TEXT_QUEUED,
    BookingFact,
    Facts,
    Kind,
    check,
    stated,
    strip_markup,
)
from frontdesk.profile import example_profile_text, parse_profile
from frontdesk.store import BookingRecord

PROFILE = parse_profile(example_profile_text())
TZ = PROFILE.tz
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # a Wednesday
OIL = BookingFact("b-oil", "oil change", datetime(2026, 11, 26, 14, 0, tzinfo=TZ), "Dana Reyes")
BRAKES = BookingFact("b-brk", "brake inspection", datetime(2026, 12, 3, 15, 0, tzinfo=TZ), "Dana")

FACTS: dict[str, Facts] = {
    "none": Facts(PROFILE),
    "oil": Facts(PROFILE, confirmed=(OIL,)),
    "both": Facts(PROFILE, confirmed=(OIL, BRAKES)),
    "pending": Facts(PROFILE, pending=(OIL,), can_text=True),
    "pending_no_sms": Facts(PROFILE, pending=(OIL,)),
    "cancelled": Facts(PROFILE, cancelled=(OIL,)),
    "moved": Facts(PROFILE, confirmed=(BRAKES,), cancelled=(OIL,)),
    "done": Facts(PROFILE, messages=("m-1",), texts=("sms-1",), transfers=("+15125550199",)),
    "offered": Facts(PROFILE, offered=tuple(datetime(2026, 11, 26, 8, m, tzinfo=TZ)
                                            for m in (0, 15, 30))),
    "looked": Facts(PROFILE, offered=()),  # availability was asked; nothing was free
}
FREE = "I have tomorrow at 8 AM, 8:15 AM, or 8:30 AM free."

OIL_SAID = "Your oil change is booked for tomorrow at 2 PM."
BRAKES_SAID = "Your brake inspection is booked for Thursday, December 3rd at 3 PM."
HOURS = PROFILE.describe_hours()
TRANSFER = "I can transfer you to our front desk if you'd like."

# (phrase, facts, expected violation kind or None for "passes unchanged", replacement)
CASES: list[tuple[str, str, Kind | None, str | None]] = [
    # bookings, backed: every common form of the day and time
    ("You're booked for Thursday at 2 PM.", "both", None, None),
    ("I've booked your oil change for tomorrow at 2.", "oil", None, None),
    ("I have scheduled you for 2:00 pm tomorrow.", "oil", None, None),
    ("You're all set for tomorrow at two o'clock.", "oil", None, None),
    ("You’re all set, Dana. Your oil change is booked for tomorrow at 2 PM.", "oil", None, None),
    ("Your brake inspection is booked for Thursday, December 3rd at 3:00 p.m.", "both", None,
     None),
    ("See you on December 3rd at three o'clock!", "both", None, None),
    ("We have you down for tomorrow afternoon.", "oil", None, None),
    ("Perfect, Dana, you're booked!", "oil", None, None),
    ("Your appointment is confirmed for Thursday.", "oil", None, None),
    # bookings, unbacked
    ("You're booked for 3 PM.", "none", "booking", NOT_BOOKED),
    ("You're booked for 3 PM.", "pending", "booking", FINALIZING),
    ("I have reserved a bay for you.", "none", "booking", NOT_BOOKED),
    ("Great, your oil change is all set for Friday.", "none", "booking", NOT_BOOKED),
    ("See you Thursday at 3!", "oil", "time", OIL_SAID),
    ("You're booked for 3 PM.", "oil", "time", OIL_SAID),
    ("Your appointment is set for Friday at 2 PM.", "oil", "time", OIL_SAID),
    ("See you tomorrow morning.", "oil", "time", OIL_SAID),
    ("Your brake inspection is booked for December 4th.", "both", "time",
     f"{OIL_SAID} {BRAKES_SAID}"),
    ("Booking confirmed for tomorrow at 2 PM.", "none", "booking", NOT_BOOKED),
    ("Alright, you're good to go for Thursday at 3.", "none", "booking", NOT_BOOKED),
    ("All six are booked.", "both", "booking", f"{OIL_SAID} {BRAKES_SAID}"),
    ("Both are confirmed.", "oil", "booking", OIL_SAID),
    ("Both appointments are booked.", "both", None, None),
    ("Your free premium detail is booked.", "none", "booking", NOT_BOOKED),
    ("The 9 AM slot has been reserved for you.", "none", "booking", NOT_BOOKED),
    ("All of them are available.", "none", None, None),
    ("I can book both if you like.", "none", None, None),
    ("I've got you in for 3 PM.", "pending", "booking", FINALIZING),
    ("Everything's booked.", "none", "booking", NOT_BOOKED),
    # negations, offers and hypotheticals are not claims
    ("I haven't booked anything yet.", "none", None, None),
    ("Once you confirm, I'll book it.", "none", None, None),
    ("Would you like me to book that for you?", "none", None, None),
    ("I can book you for 3 PM.", "none", None, None),
    ("If that works for you, you're booked for 3 PM.", "none", None, None),
    ("You're not booked yet.", "none", None, None),
    ("Nothing has been scheduled so far.", "none", None, None),
    ("Should I cancel your appointment?", "none", None, None),
    ("No, I didn't cancel anything.", "none", None, None),
    ("I can send you a text confirmation once it's booked.", "none", None, None),
    ("I'll transfer you if you'd like.", "none", None, None),
    ("Would you like me to transfer you?", "none", None, None),
    ("I'll pass your message along.", "none", None, None),
    # cancellations and reschedules
    ("I've cancelled your appointment.", "cancelled", None, None),
    ("I've cancelled your appointment.", "none", "cancel", NOT_CANCELLED),
    ("I'm canceling it now.", "none", "cancel", NOT_CANCELLED),
    ("Your cancellation is confirmed.", "none", "cancel", NOT_CANCELLED),
    ("Your oil change tomorrow at 2 PM is cancelled.", "oil", "cancel", NOT_CANCELLED),
    # times offered as free: only those an availability lookup returned
    ("I have 8 AM, 8:15 or 8:30 tomorrow. Which suits you?", "offered", None, None),
    ("I can do tomorrow at 8:30.", "offered", None, None),
    ("Tomorrow at 8 AM is still available.", "offered", None, None),
    ("How about 8:15 AM?", "offered", None, None),
    ("I have 3 PM tomorrow.", "offered", "offer", FREE),
    ("We have a slot at 9 AM on Friday.", "offered", "offer", FREE),
    ("How about 10:30?", "offered", "offer", FREE),
    ("Tomorrow at 4 PM is free.", "offered", "offer", FREE),
    ("I could do 8 AM on Monday.", "offered", "offer", FREE),
    ("I have 3 PM tomorrow.", "none", "offer", NO_OFFER),
    ("I have 3 PM tomorrow.", "looked", "offer", "I don't see a free time then."),
    # ... and what is not an offer
    ("We have you down for tomorrow at 2 PM.", "oil", None, None),
    ("I've booked you for tomorrow at 2 PM.", "oil", None, None),
    ("I have your oil change at 2 PM tomorrow.", "none", None, None),
    ("I have 3 questions for you.", "none", None, None),
    ("We are open tomorrow from 8 AM, and it is free to ask.", "none", None, None),
    ("Which time is free for you, 9 or 10?", "none", None, None),
    ("We can see you at 8 tomorrow.", "offered", None, None),
    ("I have 8 AM tomorrow free, and your current one is at 2 PM.", "offered", None, None),
    ("I can do 8 AM on Thursday, December 3rd.", "offered", "offer", FREE),  # a week on
    # the time of a claim said in the next sentence
    ("You're booked. That's tomorrow at 3 PM.", "oil", "time", OIL_SAID),
    ("You're booked. That's tomorrow at 2 PM.", "oil", None, None),
    ("Your oil change is booked for tomorrow. We open at 8 AM.", "oil", None, None),
    ("Your oil change is booked for tomorrow. It starts at 2 PM.", "oil", None, None),
    ("Your oil change is booked for tomorrow. It starts at 4 PM.", "oil", "time", OIL_SAID),
    ("Your oil change on Friday has been cancelled.", "cancelled", "time",
     "Your oil change for tomorrow at 2 PM is cancelled."),
    ("I've moved your appointment to December 3rd at 3 PM.", "moved", None, None),
    ("I've moved your appointment to December 3rd at 3 PM.", "none", "reschedule", NOT_CHANGED),
    ("Your appointment has been rescheduled to Friday.", "moved", "time", BRAKES_SAID),
    ("I've rescheduled you for Monday.", "pending", "reschedule", FINALIZING),
    # texts
    ("I've sent you a text with the details.", "none", "text", NOT_SENT),
    ("I've sent you a text with the details.", "done", None, None),
    ("You'll get a confirmation text in a minute.", "pending", None, None),
    ("You'll get a confirmation text in a minute.", "pending_no_sms", "text", FINALIZING),
    ("You should receive an SMS shortly.", "none", "text", NOT_SENT),
    ("I've emailed you the confirmation.", "done", "text", TEXT_QUEUED),
    # messages
    ("I've passed your message to Mike.", "none", "message", NO_MESSAGE),
    ("I've passed your message to Mike.", "done", None, None),
    ("I left a note for the owner.", "none", "message", NO_MESSAGE),
    ("I've let the owner know.", "none", "message", NO_MESSAGE),
    ("I've sent your details to the team.", "none", "message", NO_MESSAGE),
    # transfers
    ("I'm transferring you now.", "none", "transfer", TRANSFER),
    ("I'm transferring you now.", "done", None, None),
    ("Let me connect you with the front desk.", "none", "transfer", TRANSFER),
    # prices: "$49.95", "49 dollars and 95 cents", number words
    ("An oil change is $49.95.", "none", None, None),
    ("An oil change is 49 dollars and 95 cents.", "none", None, None),
    ("A brake inspection is $89.", "none", None, None),
    ("Brake inspections are eighty-nine dollars.", "none", None, None),
    ("It's $25.50 for the state inspection.", "none", None, None),
    ("That one is 39 bucks.", "none", None, None),
    ("An oil change is forty-nine dollars.", "none", "price",
     "An oil change is 49 dollars and 95 cents."),
    ("The tire rotation costs $49.95.", "none", "price", "A tire rotation is 39 dollars."),
    ("That'll be about $120.", "none", "price", NO_PRICE),
    # money: no tool moves money, so every such claim is unbacked
    ("Your refund has been processed.", "oil", "money", NO_MONEY),
    ("I've issued you a full refund.", "none", "money", NO_MONEY),
    ("Don't worry, you'll be reimbursed.", "none", "money", NO_MONEY),
    ("I have waived the diagnostic fee.", "none", "money", NO_MONEY),
    ("I can't issue refunds myself.", "none", None, None),
    ("Would you like me to pass on your refund request?", "none", None, None),
    ("I haven't refunded anything.", "none", None, None),
    ("A diagnostic is a hundred bucks, or 100 dollars.", "none", "price", NO_PRICE),
    # opening hours
    ("We're open until 5.", "none", None, None),
    ("We're open on Saturdays until 1.", "none", None, None),
    ("We're open from 9 to 1 on Saturday.", "none", None, None),
    ("We open at 8 AM.", "none", None, None),
    ("We're closed on Sundays.", "none", None, None),
    ("We aren't open on Sundays.", "none", None, None),
    ("Yes, we're open tomorrow.", "none", None, None),
    ("We're open 8 to 5.", "none", None, None),
    ("We're open until 6.", "none", "hours", HOURS),
    ("Our hours are 7 to 7.", "none", "hours", HOURS),
    ("We close at 5 on Saturdays.", "none", "hours", HOURS),
    ("We're open until 6 on Saturdays.", "none", "hours", HOURS),
    ("We're open on Sundays.", "none", "hours", HOURS),
    ("We're closed on Mondays.", "none", "hours", HOURS),
    ("We open at 7.", "none", "hours", HOURS),
    ("We're open seven days a week.", "none", "hours", HOURS),
    # no claim at all
    ("What time works best for you?", "none", None, None),
    ("Our address is 1200 Main Street, Austin, Texas.", "none", None, None),
]


@pytest.mark.parametrize(("phrase", "facts", "kind", "replacement"), CASES)
def test_claims(phrase: str, facts: str, kind: Kind | None, replacement: str | None) -> None:
    result = check(phrase, FACTS[facts], now=NOW)
    if kind is None:
        assert result.text == phrase
        assert result.violations == ()
        return
    assert [v.kind for v in result.violations] == [kind]
    assert result.text == replacement
    assert result.violations[0].replacement == replacement


@pytest.mark.parametrize(("phrase", "facts", "kind", "replacement"), CASES)
def test_a_replacement_passes_the_guard(
    phrase: str, facts: str, kind: Kind | None, replacement: str | None
) -> None:
    """What the guard says instead is rendered from the facts, so it is never caught."""
    result = check(phrase, FACTS[facts], now=NOW)
    assert check(result.text, FACTS[facts], now=NOW).violations == ()


def test_a_phrase_with_several_false_claims_is_replaced_once_per_kind() -> None:
    result = check("Great news: I've booked you for 3 PM and sent you a text! It's $45. ",
                   FACTS["none"], now=NOW)
    assert [v.kind for v in result.violations] == ["booking", "text", "price"]
    assert result.text == f"{NOT_BOOKED} {NOT_SENT} {NO_PRICE} "  # the trailing space stays
    claimed = "great news : i have booked you for 3 pm and sent you a text"  # normalised
    assert result.violations[0].claimed == claimed


STATED: list[tuple[str, str, set[tuple[str, str]]]] = [
    (OIL_SAID, "oil", {("booking", "b-oil")}),
    ("You're all set, Dana. See you tomorrow at 2!", "oil", {("booking", "b-oil")}),
    ("Your oil change is booked for tomorrow at 3 PM.", "oil", set()),  # another time
    ("Perfect, Dana, you're booked!", "oil", set()),  # no time: not heard as confirmed
    ("Your oil change is booked for tomor", "oil", set()),  # barge-in cut it
    ("If that works, you're booked for tomorrow at 2 PM.", "oil", set()),  # hedged
    ("I'm not sure you're booked for tomorrow at 2 PM.", "oil", set()),
    ("Your oil change tomorrow at 2 PM is cancelled.", "cancelled", {("cancel", "b-oil")}),
    ("Your oil change tomorrow at 2 PM is cancelled.", "oil", set()),
    ("Your oil change today is cancelled at 2 PM.", "cancelled", set()),  # not today's
    ("Your oil change is booked. That's tomorrow at 2 PM.", "oil", {("booking", "b-oil")}),
    ("I've moved your appointment to Thursday, December 3rd at 3 PM.", "moved",
     {("booking", "b-brk")}),
]


@pytest.mark.parametrize(("phrase", "facts", "expected"), STATED)
def test_what_a_heard_phrase_states(phrase: str, facts: str,
                                    expected: set[tuple[str, str]]) -> None:
    """What counts as the caller having heard a confirmation: the claim with its time."""
    assert stated(phrase, FACTS[facts], now=NOW) == expected


def test_the_clock_is_the_argument() -> None:
    """"Tomorrow" is relative to ``now``: the same words are true one day and false the next."""
    phrase = "You're booked for tomorrow at 2 PM."
    assert check(phrase, FACTS["oil"], now=NOW).violations == ()
    later = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)
    result = check(phrase, FACTS["oil"], now=later)
    assert [v.kind for v in result.violations] == ["time"]
    assert result.text == "Your oil change is booked for today at 2 PM."


def test_a_booking_fact_from_a_ledger_record() -> None:
    record = BookingRecord(
        id="b-1", business_id="main-street-auto", call_id="c-1", service_id="tire-rotation",
        resource_id="bay-1", start_at=datetime(2026, 11, 26, 20, 0, tzinfo=UTC),
        end_at=datetime(2026, 11, 26, 20, 45, tzinfo=UTC), customer_name="Sam",
        customer_phone=None, status="confirmed", created_at=NOW)
    fact = BookingFact.of(record, PROFILE)
    assert (fact.service, fact.customer_name) == ("tire rotation", "Sam")
    facts = Facts(PROFILE, confirmed=(fact,))
    # the store's UTC 20:00 is 2 PM in Austin: compared and spoken in the business's zone
    assert check("You're booked for 2 PM tomorrow.", facts, now=NOW).violations == ()
    assert check("You're booked for 8 PM.", facts, now=NOW).text == (
        "Your tire rotation is booked for tomorrow at 2 PM.")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_checked_without_error(phrase: str) -> None:
    result = check(phrase, FACTS["oil"], now=NOW)
    assert result.text == phrase or result.violations


# --- strip_markup ---------------------------------------------------------------------

MARKUP: list[tuple[str, str | None, str]] = [
    ('Sure! {"name": "book_slot", "arguments": {"start": "2026-11-26T14:00"}} One moment.',
     None, "Sure! One moment."),
    ('<tool_call>{"name": "find_slots"}</tool_call>Got it.', None, "Got it."),
    ('<function=book_slot>{"start": 1}</function>', None, ""),
    ("<think>they want Thursday</think>Thursday works.", None, "Thursday works."),
    ("**Great!** Your _oil change_ is `booked`.", None, "Great! Your oil change is booked."),
    ("# Hours\n- Monday: 8 to 5\n- Saturday: 9 to 1", None,
     "Hours. Monday: 8 to 5. Saturday: 9 to 1"),
    ("1. Oil change\n2. Brakes", None, "Oil change. Brakes"),
    ('```json\n{"a": 1}\n```\nDone.', None, "Done."),
    ('Okay. {"name": "book', None, "Okay."),  # a blob continued in the next phrase
    ('"}} Okay.', None, "Okay."),  # the tail of one begun in the last phrase
    ("See https://example.com/x for details.", None, "See for details."),
    ("Visit https://mainstreetauto.com/hours or http://evil.example.com.",
     "https://www.mainstreetauto.com", "Visit mainstreetauto.com/hours or."),
    ("See <https://www.mainstreetauto.com/>.", "mainstreetauto.com", "See www.mainstreetauto.com."),
    ("Read [our hours](https://mainstreetauto.com/hours) online.", None,
     "Read our hours online."),
    ("Hi, it's 3:30 PM! Is that okay? Yes; (maybe) - sure, \"fine\".", None,
     "Hi, it's 3:30 PM! Is that okay? Yes; (maybe) - sure, \"fine\"."),
    ("Thanks for waiting ", None, "Thanks for waiting "),
]


@pytest.mark.parametrize(("text", "website", "spoken"), MARKUP)
def test_strip_markup(text: str, website: str | None, spoken: str) -> None:
    assert strip_markup(text, website=website) == spoken


@settings(max_examples=500)
@given(st.text(), st.one_of(st.none(), st.just("https://mainstreetauto.com")))
def test_no_markup_character_survives(text: str, website: str | None) -> None:
    assert not set(strip_markup(text, website=website)) & set("{}<>`*#")


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9']*(?:[,.!?]? [A-Za-z0-9']+)*[.!?]?", fullmatch=True))
def test_plain_speech_is_untouched(text: str) -> None:
    assert strip_markup(text) == text
