"""What the caller wants (``detect_intent``) and whether they said yes (``affirmation``).

Keyword rules, not a model: the vocabulary of a small-business phone line is narrow, the
rules are auditable, and a wrong guess is cheap because the brain confirms before acting.

Intent precedence, and why:
    1. GOODBYE when "bye"/"goodbye" is said: the caller is leaving whatever else they said.
    2. HUMAN before MESSAGE: "let me talk to someone" must not become "take a message".
    3. MESSAGE before the questions: "can someone call me back about pricing" is a message.
    4. PRICE, HOURS, ADDRESS before BOOK: "how much is an oil change" mentions a service
       but asks a question; "are you open Saturday" names a day but asks about hours.
    5. BOOK.
    6. Soft goodbyes ("that's all", "no that's it thanks") last, since "that's it" also
       ends many longer sentences.
"""

from __future__ import annotations

import enum
import re

from ._text import FILLERS, clean

__all__ = ["Intent", "affirmation", "detect_intent"]


class Intent(enum.Enum):
    BOOK = "book"
    HOURS = "hours"
    ADDRESS = "address"
    PRICE = "price"
    MESSAGE = "message"
    HUMAN = "human"
    GOODBYE = "goodbye"
    UNKNOWN = "unknown"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


_PEOPLE = (
    r"(?:a|an|the|some|your|real|live|actual|\s)*(?:person|human|human being|someone|somebody|"
    r"anyone|anybody|operator|representative|rep|agent|manager|owner|receptionist|"
    r"staff|employee|mechanic|technician|guy|lady|man|woman|boss)"
)
_BYE = _any(r"bye", r"goodbye", r"bye bye", r"good bye", r"see ya", r"see you", r"take care")
_HUMAN = _any(
    rf"(?:talk|speak|chat)\s(?:to|with){_PEOPLE}",
    rf"(?:transfer|connect|put)\s(?:me\s)?(?:through\s)?(?:to|with){_PEOPLE}",
    rf"(?:get|want|need)(?:\sme)?{_PEOPLE}\s(?:on the (?:phone|line))",
    r"operator", r"representative", r"real person", r"live person", r"human being",
    r"actual person", r"a human", r"talk to a human", r"not a robot", r"are you a robot",
)  # fmt: skip
_MESSAGE = _any(
    r"(?:leave|take|pass along|pass on|give \w+) (?:a |the |my )?message",
    r"call me back", r"call back me", r"get back to me", r"return my call", r"give me a call",
    r"(?:have|ask|get) (?:someone|somebody|him|her|them|the \w+) (?:to )?(?:call|ring|text)",
    r"voicemail", r"voice mail", r"let (?:him|her|them) know",
)  # fmt: skip
_PRICE = _any(
    r"how much", r"cost", r"costs", r"price", r"prices", r"pricing", r"priced", r"charge",
    r"charges", r"rate", r"rates", r"quote", r"estimate", r"expensive", r"cheap", r"fee",
    r"fees", r"what do you charge", r"what(?:s| is) it run",
)  # fmt: skip
_HOURS = _any(
    r"(?:your|the|business|opening|store|shop|office|weekend|holiday|open|operating|what) hours",
    r"hours (?:of operation|today|tomorrow|on|are)", r"^hours",
    r"what time do you (?:guys )?(?:open|close)",
    r"(?:are|is) (?:you|it|the (?:shop|office|store|place))(?: guys| all)? (?:open|closed)",
    r"when (?:are|do) you(?: guys)? (?:open|close)", r"how (?:late|early) (?:are|do) you",
    r"(?:open|opening|closing|close) time", r"you(?: guys)? open (?:on|today|tomorrow|till|until)",
    r"open on (?:the )?weekends?", r"open (?:on )?(?:saturdays?|sundays?)",
)  # fmt: skip
_ADDRESS = _any(
    r"where (?:are|is|r) (?:you|yall|the (?:shop|office|store|place)|it)",
    r"located", r"location", r"address", r"directions", r"how do i (?:get|find) (?:there|you)",
    r"what street", r"cross street", r"whereabouts", r"where do i (?:go|bring|drop)",
)  # fmt: skip
_BOOK = _any(
    r"book", r"booking", r"appointment", r"appt", r"schedule", r"reschedule", r"reserve",
    r"come in", r"bring (?:it|her|him|my \w+|the \w+|in)", r"drop (?:it |her |him |my \w+ )?off",
    r"(?:get|fit|squeeze) (?:me|us|it|my \w+|the \w+) in", r"availability", r"available",
    r"openings?", r"any slots?", r"(?:have|got) anything", r"time slot",
    r"(?:need|want|like|get|looking for|looking to get) (?:a|an|my|some|the) \w+",
    r"set (?:something|it|one|me) up", r"make an?",
)  # fmt: skip
_SOFT_BYE = _any(
    r"that(?:s| is| was) (?:all|it|everything)", r"nothing else", r"no(?:pe)? thanks?",
    r"no thank you", r"im (?:good|all set|set)", r"all set",
    r"have a (?:good|great|nice) (?:one|day)",
    r"thats all i needed", r"hang up", r"i think thats it",
)  # fmt: skip

_ORDER: tuple[tuple[re.Pattern[str], Intent], ...] = (
    (_BYE, Intent.GOODBYE),
    (_HUMAN, Intent.HUMAN),
    (_MESSAGE, Intent.MESSAGE),
    (_PRICE, Intent.PRICE),
    (_HOURS, Intent.HOURS),
    (_ADDRESS, Intent.ADDRESS),
    (_BOOK, Intent.BOOK),
    (_SOFT_BYE, Intent.GOODBYE),
)


def detect_intent(text: str) -> Intent:
    """The caller's goal for this utterance, by the precedence in the module docstring."""
    s = clean(text)
    for pattern, intent in _ORDER:
        if pattern.search(s):
            return intent
    return Intent.UNKNOWN


_UNSURE = _any(
    r"not sure", r"i dont know", r"dunno", r"maybe", r"let me (?:think|check)", r"hold on",
    r"hang on", r"one (?:sec|second|moment)", r"not yet", r"i guess not sure",
)  # fmt: skip
_NO = _any(
    r"no", r"nope", r"nah", r"not really", r"negative", r"wrong", r"incorrect",
    r"(?:doesnt|does not|dont|do not|wont|will not|cant|cannot|can not) work",
    r"not (?:right|correct|good|great|quite)", r"i cant", r"i cannot", r"dont do that",
    r"thats not", r"not that", r"rather not", r"no way", r"yeah no",
)  # fmt: skip
_YES = _any(
    r"yes", r"yeah", r"yea", r"yep", r"yup", r"ya", r"sure", r"correct", r"right",
    r"thats right", r"that works", r"works for me", r"sounds good", r"sounds great",
    r"perfect", r"great", r"go ahead", r"book it", r"do it", r"please do", r"absolutely",
    r"definitely", r"of course", r"ok", r"okay", r"alright", r"all right", r"affirmative",
    r"exactly", r"fine", r"(?:thats|sounds|looks|all|very) good",
    r"good", r"lets do it", r"that would be great",
    r"please", r"certainly", r"you got it", r"yes please", r"thats fine",
)  # fmt: skip
_LEADERS = FILLERS | {"well", "oh", "so", "and"}
# Politeness that contains "no" but means nothing negative.
_NOT_NEGATIVE = re.compile(r"\bno (?:problem|worries|doubt)\b")
_MUMBLED_YES = re.compile(r"\b(?:uh huh|mm hmm|mhm|mm hm)\b")
# "I'm good" answers an offer by declining it.
_DECLINE = re.compile(r"im (?:good|ok|okay|fine|all set|set)(?: thanks?| thank you)?")


def affirmation(text: str) -> bool | None:
    """True for yes, False for no, None when the answer is neither or unclear.

    A leading "no"/"nope" decides ("no, Thursday works" is False). Otherwise a negative
    phrase anywhere beats a positive one, because "that doesn't work" contains "work" and
    "not right" contains "right"; "yeah, no" is the American no. Explicit uncertainty
    ("not sure", "maybe", "hold on") is None even though it contains "not"/"sure", and a
    bare "I'm good" declines an offer.
    """
    raw = _MUMBLED_YES.sub("yes", clean(text))
    words = [w for w in raw.split() if w not in _LEADERS]
    s = _NOT_NEGATIVE.sub("fine", " ".join(words))
    if not s or _UNSURE.search(s):
        return None
    if _DECLINE.fullmatch(s) or re.match(r"(?:yeah|yes|yep) no\b", s):
        return False
    if _NO.fullmatch(s.split()[0]) or _NO.search(s):
        return False
    if _YES.search(s):
        return True
    return None
