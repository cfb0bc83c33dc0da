"""What the caller wants (``detect_intent``) and whether they said yes (``affirmation``).

Keyword rules, not a model: the vocabulary of a small-business phone line is narrow, the
rules are auditable, and a wrong guess is cheap because the brain confirms before acting.

Intent precedence, and why:
    1. GOODBYE when "bye"/"goodbye" is said: the caller is leaving whatever else they said.
    2. HUMAN before MESSAGE: "let me talk to someone" must not become "take a message".
    3. MESSAGE before the questions: "can someone call me back about pricing" is a message.
    4. PRICE, HOURS, ADDRESS before BOOK: "how much is an oil change" mentions a service
       but asks a question; "are you open Saturday" names a day but asks about hours.
    5. RESCHEDULE, then CANCEL, before BOOK: "can I move my appointment" and "I need to
       cancel my appointment" both say "appointment", and "cancel and rebook" moves it.
    6. BOOK.
    7. Soft goodbyes ("that's all", "no that's it thanks") last, since "that's it" also
       ends many longer sentences.

``recording_opt_out`` is separate from the intents because it combines with any of them
("don't record this, I need an oil change"): the opt-out is acted on and the rest of the
sentence is understood as usual.
"""

from __future__ import annotations

import enum
import re

from ._text import FILLERS, clean

__all__ = ["Intent", "affirmation", "detect_intent", "recording_opt_out"]


class Intent(enum.Enum):
    BOOK = "book"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
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
    r"book", r"booking", r"appointment", r"appt", r"schedule", r"reserve",
    r"come in", r"bring (?:it|her|him|my \w+|the \w+|in)", r"drop (?:it |her |him |my \w+ )?off",
    r"(?:get|fit|squeeze) (?:me|us|it|my \w+|the \w+) in", r"availability", r"available",
    r"openings?", r"any slots?", r"(?:have|got) anything", r"time slot",
    r"(?:need|want|like|get|looking for|looking to get) (?:a|an|my|some|the) \w+",
    r"set (?:something|it|one|me) up", r"make an?",
)  # fmt: skip
_BOOKED_THING = (r"(?:my|the|our|this|that|an?)(?: \w+){0,2} "
                 r"(?:appointment|appt|booking|reservation)")
_RESCHEDULE = _any(
    r"reschedul\w*", rf"(?:move|change|push|switch|shift|bump)(?: back| up)? {_BOOKED_THING}",
    r"(?:a )?different (?:day|time) for my", r"(?:move|change) (?:it|my time) to",
)  # fmt: skip
_CANCEL = _any(
    rf"cancel(?:l?ing|l?ed)?(?: out)?(?: on)? {_BOOKED_THING}", r"cancel(?:l?ing)? (?:it|that)",
    r"(?:need|want|have|like|going) to cancel", r"i (?:need|want) (?:a )?cancel\w*",
    r"(?:cant|cannot|can not|wont|will not|not going to|unable to|not able to) make "
    rf"(?:it|{_BOOKED_THING})", rf"call off {_BOOKED_THING}", r"cancellation",
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
    (_RESCHEDULE, Intent.RESCHEDULE),
    (_CANCEL, Intent.CANCEL),
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


_REC = r"record(?:ed|ing|ings)?"  # not "records": "not my records" is about files
_OBJECT = (r"(?: (?:this|that|it|me|us|my voice|my call|the call|this call|our call"
           r"|the conversation|this conversation|our conversation|anything))?")
# Words that may sit between a negation and "record": "don't want this call recorded",
# "do not consent to being recorded", "I'm not comfortable with you recording me".
_BETWEEN = (r"(?:want|like|wish|consent|consenting|agree|agreeing|allow|to|be|being|get|you|"
            r"me|this|it|that|the|call|conversation|really|ever|please|us|my|voice|going|gonna|"
            r"ok|okay|comfortable|happy|fine|cool|alright|with|about|for|of|am|is|are|agreed|asked)")
_NEGATOR = r"(?:dont|do not|didnt|did not|never|not|wont|will not|wouldnt|would not|cant|cannot)"
_STOP = r"(?:stop|quit|end|pause|cancel|kill|delete|erase|remove|destroy)"
_DET = r"(?:the |this |that |your |my |any )?"
_FREE = r"(?: (?!not\b|dont\b|never\b|do\b)\w+)"  # a filler word that is not a negation
# Consent, or a negated request to stop, said about recording: removed before the opt-out
# search, so "I don't mind being recorded" and "don't stop recording" are not opt-outs.
_RECORDING_OK = _any(
    rf"(?:dont|do not) (?:mind|care){_FREE}{{0,4}} {_REC}{_OBJECT}",
    rf"(?<!not )(?<!never )(?<!not really )(?:fine|ok|okay|happy|cool|alright|comfortable)"
    rf"{_FREE}{{0,3}} {_REC}{_OBJECT}",
    rf"{_REC} (?:is|its|are)(?: totally| perfectly| completely)? (?:fine|ok|okay|alright|good)",
    rf"(?:you can|you may|go ahead and|feel free to|keep|continue|carry on) {_REC}{_OBJECT}",
    rf"(?:no|not a) (?:problem|issue|objection)s?{_FREE}{{0,3}} {_REC}{_OBJECT}",
    rf"{_NEGATOR} (?:need to |have to |bother to |gotta |want you to )?(?:{_STOP}|turn off"
    rf"|switch off) {_DET}{_REC}{_OBJECT}",
)  # fmt: skip
_OPT_OUT = _any(
    rf"{_NEGATOR}(?: {_BETWEEN})* {_REC}{_OBJECT}",
    r"(?:dont|do not) consent",
    rf"{_STOP} {_DET}{_REC}{_OBJECT}",
    rf"(?:turn|switch|shut) off {_DET}{_REC}",
    rf"(?:turn|switch|shut) {_DET}{_REC} off",
    r"no recordings?",  # not "no record of my booking"
    rf"(?:object|objection|opt out)(?: to| of)? (?:the |this |being |my |me )?{_REC}{_OBJECT}",
    rf"without (?:being |a |the |any )?{_REC}",
)  # fmt: skip
# Leftovers of the opt-out sentence that carry no request of their own.
_CONNECTIVES = FILLERS | {
    "please", "and", "but", "so", "also", "ok", "okay", "oh", "well", "just", "thanks",
    "thank", "you", "hey", "hi", "hello", "sorry", "actually", "i", "we", "id", "im", "really",
    "would", "can", "could", "will", "call", "this", "that", "it", "the", "first", "do",
    "rather", "prefer",
}  # fmt: skip
_SHRUGS = {",", "dont", "do", "not", "care", "mind", "know", "whatever"}


def recording_opt_out(text: str) -> str | None:
    """None unless the caller asks not to be recorded; then the rest of what they said.

    The sense is the negation's, not the keyword's: "don't record this", "stop recording",
    "I'd rather not be recorded" and "no recording please" opt out; "I don't mind being
    recorded", "recording is fine" and "don't stop recording" do not. The rest (cleaned, the
    opt-out and connectives around it removed) is "" for a bare opt-out, else a request the
    brain should still answer ("... and I need an oil change").
    """
    s = _RECORDING_OK.sub(" , ", clean(text))
    if not _OPT_OUT.search(s):
        return None
    words = _OPT_OUT.sub(" , ", s).split()
    while words and words[0] in _CONNECTIVES | {","}:
        words.pop(0)
    while words and words[-1] in _CONNECTIVES | {","}:
        words.pop()
    if all(w in _CONNECTIVES | _SHRUGS for w in words):
        return ""  # "I don't care, just don't record me": nothing else was asked
    return " ".join(w for w in words if w != ",")
