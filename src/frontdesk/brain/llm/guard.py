"""The guard: model text about a side effect is spoken only if the ledger backs it.

Invariant 1 ("never lie"). Before a phrase of model text is spoken, :func:`check` finds its
claims with a table of word patterns (:func:`_rules`) and verifies each against
:class:`Facts`. A phrase with an unbacked claim is replaced whole by sentences rendered
from the facts, so what is said instead is true by construction.

Side-effect patterns are affirmative perfects and presents ("I've booked", "you're
booked"), so negations and offers ("I haven't booked", "I can book you") never match, and a
match under a negation or a condition ("if that works, you're booked") is skipped. Prices,
hours and times offered as free ("I have 3 PM tomorrow": only what an availability lookup
returned) are checked in any mood. Pure: ``now`` is an argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from frontdesk.brain.booking_flow import article
from frontdesk.brain.nlu import When, parse_when
from frontdesk.brain.nlu._text import numberize
from frontdesk.brain.say import say_price, say_starts, say_when, sentence
from frontdesk.profile import WEEKDAYS, Profile, Service
from frontdesk.store import BookingRecord

__all__ = ["BookingFact", "Facts", "GuardResult", "Kind", "Violation", "awaits_time", "check",
           "stated", "strip_markup"]

Kind = Literal["booking", "cancel", "reschedule", "text", "message", "transfer", "time",
               "price", "hours", "money", "offer"]

NOT_BOOKED = "I haven't booked anything yet."
FINALIZING = "I'm still finalizing that booking; you'll get a confirmation."
NOT_CANCELLED = "I haven't cancelled anything yet."
NOT_CHANGED = "I haven't changed your appointment yet."
NOT_SENT = "I haven't sent you anything yet."
TEXT_QUEUED = "You'll get a text from us shortly."
NO_MESSAGE = "I haven't passed on a message yet."
NO_TRANSFER = "No one is available to take the call right now, but I can take a message."
NO_PRICE = "I don't have a price for that; someone from the team can tell you."
NO_MONEY = "I can't issue refunds, credits or charges myself; only the team can do that."
NO_OFFER = "Let me check what's free first."


@dataclass(frozen=True)
class BookingFact:
    id: str
    service: str  # the service's name as spoken, e.g. "oil change"
    start: datetime  # aware; spoken in the profile's zone
    customer_name: str

    @classmethod
    def of(cls, record: BookingRecord, profile: Profile) -> BookingFact:
        name = profile.service(record.service_id).name
        return cls(record.id, name, record.start_at, record.customer_name)


@dataclass(frozen=True)
class Facts:
    """What is true for this call now, as the brain read it from the ledger and profile.

    ``confirmed`` holds committed bookings the caller may hear about (made in this call, or
    looked up for this caller), ``pending`` those whose outcome is unknown (the outbox
    finishes them and tells the caller), ``cancelled`` those cancelled in this call.
    ``texts`` are ids of texts actually queued to the caller; ``can_text`` says whether a
    pending booking's confirmation will be texted (else someone calls). ``offered`` are the
    free start times the availability lookups of this call returned (None: none asked)."""

    profile: Profile
    confirmed: tuple[BookingFact, ...] = ()
    pending: tuple[BookingFact, ...] = ()
    cancelled: tuple[BookingFact, ...] = ()
    messages: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    transfers: tuple[str, ...] = ()
    can_text: bool = False
    offered: tuple[datetime, ...] | None = None  # free starts found this call, newest last


@dataclass(frozen=True)
class Violation:
    kind: Kind
    claimed: str  # the normalised sentence that made the claim
    replacement: str


@dataclass(frozen=True)
class GuardResult:
    text: str  # what may be spoken: the phrase itself, or sentences rendered from the facts
    violations: tuple[Violation, ...] = ()


# --- normalising: one spelling for contractions, number words, "p.m." -------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "-": " ", "\u2013": " ", "\u2014": ","})
_ABBREVIATIONS = "mr|mrs|ms|dr|st|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|approx|vs"
_CONTRACTIONS = (
    (r"\bwon't\b", "will not"), (r"\bcan't\b|\bcannot\b", "can not"), (r"n't\b", " not"),
    (r"'re\b", " are"), (r"'ve\b", " have"), (r"'m\b", " am"), (r"'ll\b", " will"),
    (r"'d\b", " would"), (r"\b(it|that|everything|there|here|what|he|she)'s\b", r"\1 is"),
    (r"\b([ap])\.\s?m\b\.?", r"\1m"), (r"'", ""), (rf"\b({_ABBREVIATIONS})\.", r"\1"),
)  # fmt: skip
_TOKEN = re.compile(r"\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.:/]\d+)*(?:st|nd|rd|th)?|[a-z]+|[,;:.!?]")
_SENTENCE_END = re.compile(r" [.!?](?: |$)")
_SEGMENT_END = re.compile(r" ; | but ")
_CLAUSE_END = re.compile(r" [,;:] | but ")
_NEGATED = re.compile(r"\b(?:not|never|no)(?: [a-z]+)? $")
_HYPOTHETICAL = re.compile(r"\b(?:if|once|unless|as soon as|when|whether|would|could|should"
                           r"|shall|might|may|want me to|like me to)\b")


def _words(text: str) -> str:
    s = text.lower().translate(_QUOTES)
    for pattern, repl in _CONTRACTIONS:
        s = re.sub(pattern, repl, s)
    return " ".join(numberize(_TOKEN.findall(s)))


def _hedged(said: str, m: re.Match[str]) -> bool:
    """Negated ("not booked"), or under a condition earlier in its sentence segment or in
    its own clause after it ("if that works, you're booked"; "I'll book it once you say")."""
    end = _CLAUSE_END.search(said, m.end())
    after = said[m.end() : end.start() if end else len(said)]
    before = said[: m.start()]
    return bool(_NEGATED.search(before) or _HYPOTHETICAL.search(before + " " + after))


# --- verifying one claim --------------------------------------------------------------

Found = tuple[Kind, str] | None
Verify = Callable[[re.Match[str], str, Facts, datetime], Found]


def _fits(when: When | None, start: datetime, now: datetime) -> bool:
    """Whether the day/time said matches ``start``. A weekday said on that weekday means a
    week out to the parser, so "Thursday" on a Thursday also fits a booking today."""
    if when is None:
        return True
    local = start.astimezone(now.tzinfo)
    day, at = local.date(), local.time().replace(second=0, microsecond=0)
    if when.day not in (None, day) and not (day == now.date() and when.day == day + timedelta(7)):
        return False
    if when.time is not None:
        return when.time == at
    return not ((when.earliest and at < when.earliest) or (when.latest and at >= when.latest))


def _when(b: BookingFact, now: datetime) -> str:
    return say_when(b.start.astimezone(now.tzinfo), now.date())


def _status(facts: Facts, now: datetime, none: str = NOT_BOOKED) -> str:
    said = [f"Your {b.service} is booked for {_when(b, now)}." for b in facts.confirmed]
    return " ".join([*said, FINALIZING] if facts.pending else said) or none


def _booking(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    counted = m.groupdict().get("count")
    if counted is not None:  # "all six are booked", "both are confirmed"
        wanted = {"all": 2, "both": 2}.get(counted) or int(counted)
        if wanted > len(facts.confirmed):
            return "booking", _status(facts, now)
    when = parse_when(said, now)
    if any(_fits(when, b.start, now) for b in facts.confirmed):
        return None
    return ("time" if facts.confirmed else "booking"), _status(facts, now)


def _cancel(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    when = parse_when(said, now)
    if any(_fits(when, b.start, now) for b in facts.cancelled):
        return None
    if not facts.cancelled:
        return "cancel", NOT_CANCELLED
    return "time", " ".join(f"Your {b.service} for {_when(b, now)} is cancelled."
                            for b in facts.cancelled)


def _reschedule(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    """A reschedule is a new confirmed booking plus the old one cancelled (in that order)."""
    when = parse_when(said, now)
    fits = any(_fits(when, b.start, now) for b in facts.confirmed)
    if fits and facts.cancelled:
        return None
    kind: Kind = "time" if facts.confirmed and facts.cancelled else "reschedule"
    return kind, _status(facts, now, NOT_CHANGED)


def _text(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    claim = m.group(0)
    if "email" in claim:  # frontdesk has no email channel
        return "text", TEXT_QUEUED if facts.texts else NOT_SENT
    promised = claim.startswith("you ") and facts.pending and facts.can_text
    if facts.texts or promised:
        return None
    return "text", FINALIZING if facts.pending else NOT_SENT


def _money(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    """No tool moves money: every refund, credit or charge the agent claims is unbacked."""
    return "money", NO_MONEY


def _message(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    return None if facts.messages else ("message", NO_MESSAGE)


def _transfer(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    if facts.transfers:
        return None
    numbers = facts.profile.transfer_numbers
    if numbers:
        return "transfer", f"I can transfer you to our {numbers[0].name.lower()} if you'd like."
    return "transfer", NO_TRANSFER


def _named(said: str, profile: Profile) -> list[Service]:
    return [s for s in profile.services
            if any(re.search(rf"\b{re.escape(_words(n))}s?\b", said) for n in (s.name, *s.aliases))]


def _price_sentence(s: Service) -> str:
    if s.price is None:
        return f"The price of {article(s.name)} depends on the job."
    return f"{sentence(article(s.name))} is {say_price(s.price)}."


def _price(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    amount = Decimal((m["d"] or m["n"]).replace(",", "")) + Decimal(m["c"] or 0) / 100
    named = _named(said, facts.profile)
    if any(s.price == amount for s in named or facts.profile.services):
        return None
    return "price", " ".join(_price_sentence(s) for s in named) if named else NO_PRICE


DAY = (r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?|weekends?|today"
       r"|tomorrow|every day|7 days a week")
CLOCK = r"(?:\d{1,2}(?::\d{2})?(?: [ap]m)?|noon|midnight)"
_DAY_RE = re.compile(rf"\b(?:{DAY})\b")


def _days(word: str, profile: Profile, now: datetime) -> list[list[tuple[time, time]]]:
    """The opening intervals of each day a day word names (dated ones count holidays)."""
    if word in ("today", "tomorrow"):
        day = now.date() + timedelta(word == "tomorrow")
        return [[(a.time(), b.time()) for a, b in profile.opening_intervals(day)]]
    weekdays = (range(7) if word in ("every day", "7 days a week") else (5, 6)
                if word.startswith("weekend") else [WEEKDAYS.index(word.rstrip("s"))])
    return [profile.hours.for_weekday(i) for i in weekdays]


def _open_days(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    closed = m.group(0).startswith(("not", "never", "no", "closed"))
    days = _days(m["day"] or m["day2"], facts.profile, now)
    ok = all(bool(d) != closed for d in days)
    return None if ok else ("hours", facts.profile.describe_hours())


def _clocks(word: str) -> set[time]:
    """Every time a clock word may mean: "5" is 5 AM or 5 PM, "5 pm" only the latter."""
    if word in ("noon", "midnight"):
        return {time(12 if word == "noon" else 0)}
    hour, _, rest = word.partition(" ")
    h, _, mm = hour.partition(":")
    base = int(h) % 12
    hours = {base + 12} if rest == "pm" else {base} if rest == "am" else {base, base + 12}
    return {time(x, int(mm or 0)) for x in hours if x < 24}


def _open_times(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    day = _DAY_RE.search(said)
    days = _days(day.group(0), facts.profile, now) if day else [
        facts.profile.hours.for_weekday(i) for i in range(7)]
    spans = [span for d in days for span in d]
    opens_ok = not m["t"] or any(a in _clocks(m["t"]) for a, _ in spans)
    close = m["t2"] or m.groupdict().get("t3")
    closes_ok = not close or any(b in _clocks(close) for _, b in spans)
    return None if opens_ok and closes_ok else ("hours", facts.profile.describe_hours())


_OFFER_CLOCK = re.compile(r"\b(?:\d{1,2}(?::\d{2})? [ap]m|\d{1,2}:\d{2}|noon)\b|\b(?:at|about"
                          r"|or|and) (\d{1,2})(?![:\d]| (?:[ap]m|days?|weeks?|hours?|minutes?)\b)")
_HOURS_WORDS = re.compile(r"\b(?:open|opens|opening hours|close|closes|closed|closing|hours)\b")
_OFFER_END = re.compile(r" (?:[,;:]|and|but) (?!(?:or |and )?(?:\d|noon))")


def _offer(m: re.Match[str], said: str, facts: Facts, now: datetime) -> Found:
    """A time offered as free ("I have 3 PM tomorrow", "how about 10:30?") must be one an
    availability lookup of this call returned; else the times that were are said."""
    if _HOURS_WORDS.search(said):  # opening hours: the hours rules check those
        return None
    # the times of the offer: from its words to the end of its clause (a list of times
    # goes on past commas: "8 AM, 8:15 or 8:30")
    end = _OFFER_END.search(said, m.end())
    span = said[m.start() : end.start() if end else len(said)]
    words = [c.group(1) or c.group(0) for c in _OFFER_CLOCK.finditer(span)]
    if not words:
        return None
    if facts.offered is None:
        return "offer", NO_OFFER
    when = parse_when(said, now)
    day = when.day if when else None
    free = [o.astimezone(now.tzinfo) for o in facts.offered]
    for word in words:
        times = _clocks(word)
        if not any(o.time().replace(second=0, microsecond=0) in times
                   and (day in (None, o.date())  # a weekday said on that day: next week
                        or (o.date() == now.date() and day == o.date() + timedelta(7)))
                   for o in free):
            recent = sorted(dict.fromkeys(free[-3:]))
            return "offer", (f"I have {say_starts(recent, now.date())} free." if recent
                             else "I don't see a free time then.")
    return None


_ANY_MOOD = (_price, _open_days, _open_times, _offer)  # wrong numbers are wrong in any mood


@lru_cache(maxsize=16)
def _rules(services: tuple[str, ...]) -> tuple[tuple[Verify, re.Pattern[str]], ...]:
    """The claim table. Service names join the nouns, so "your oil change is booked" is a
    booking claim while "your phone number is confirmed" is not."""
    adv = (r"(?:(?:just|now|already|also|all|successfully|officially|gone ahead and"
           r"|went ahead and) )*")
    did = rf"\b(?:i|and) (?:have )?{adv}"  # "and": "I've booked you and sent you a text"
    names = "|".join(re.escape(s) for s in sorted(services, key=len, reverse=True))
    noun = (rf"(?:(?:[a-z]+ ){{0,2}}(?:appointment|booking|reservation|visit|slot)|{names})"
            r"(?: (?:on|for|at|with|this|next|today|tomorrow)(?: [a-z0-9:]+){0,4}?)?")
    was = rf"(?:is|has been) {adv}"
    # what an offer offers: a time or a day, maybe "an opening at"
    offered = (rf"(?:(?:an? |some )?(?:opening|slot|spot|availability|time)s? )?(?:(?:at|on|for) )?"
               rf"(?:\d|noon|{DAY}|this|next)")
    table: tuple[tuple[Verify, str], ...] = (
        (_booking, rf"\byou are {adv}(?:booked|scheduled|reserved|confirmed|set for|down for"
                   rf"|in for|good to go for)\b|\b(?:everything|it|that) is {adv}(?:booked"
                   r"|scheduled|reserved)\b"),
        (_booking, rf"{did}(?:booked|scheduled|reserved)\b"),
        (_booking, rf"\b(?P<count>all|both|\d+)(?: (?:of them|of those|appointments|bookings"
                   rf"|slots))? (?:are|have been) {adv}(?:booked|scheduled|reserved|confirmed)"
                   r"\b"),
        (_booking, rf"\b(?:your|the) (?:[a-z-]+ ){{1,3}}(?:is|has been) {adv}(?:booked"
                   r"|scheduled|reserved)\b"),
        (_booking, rf"{did}(?:confirmed|made|set up|locked in) (?:your|the|an?|that) {noun}\b"),
        (_booking, r"\b(?:we|i) (?:have |have got |got )you (?:down|booked|scheduled|in"
                   r"|pencil?led in)\b"),
        (_booking, rf"\b{noun} (?:{was}(?:booked|scheduled|reserved|confirmed|set|locked in"
                   r"|for|on|at)|confirmed)\b"),
        (_booking, rf"(?<!can )(?<!could )\bsee you (?:then|on|at|today|tomorrow|this|next"
                   rf"|{'|'.join(WEEKDAYS)})\b"),
        (_cancel, rf"{did}(?:cancell?ed|called off)\b|\bi am {adv}cancell?ing (?:it|that|this"
                  rf"|your|the)\b|\b(?:you are {adv}|{noun} {was}|(?:everything|it|that|this)"
                  rf" is {adv})cancell?ed\b|\bcancell?ation (?:{was})?confirmed\b"),
        (_reschedule, rf"{did}(?:rescheduled|moved|changed|switched) (?:you|your|it|that|the)\b"
                      rf"|\b(?:you are {adv}|{noun} {was})(?:rescheduled|moved|changed)\b"),
        (_text, rf"{did}(?:sent|texted|emailed|messaged) you\b|{did}(?:sent|texted|emailed)"
                r" (?:an?|the|your) (?:confirmation )?(?:text|sms|email|link|confirmation)\b"),
        (_text, r"\byou (?:will|should) (?:also )?(?:get|receive|be getting|be receiving|have)"
                r" (?:(?:an?|the|your) )?(?:confirmation |quick |short )?(?:text|sms|email)\b"
                rf"|\b(?:text|sms|email) (?:message )?{was}(?:sent|on its way)\b"),
        (_money, rf"{did}(?:refunded|credited|reimbursed|charged|billed|waived|comped)\b"
                 rf"|{did}(?:issued|processed|approved|sent|applied|put through) (?:you )?(?:an?"
                 r"|the|your|that) (?:full |partial )?(?:refund|credit|reimbursement|payment"
                 rf"|discount|chargeback)\b|\b(?:your|the|a|that) (?:full |partial )?(?:refund"
                 rf"|credit|reimbursement|payment) {was}(?:processed|issued|approved|sent"
                 r"|applied|on its way|done|complete|completed|confirmed)\b"
                 rf"|\byou (?:are|will be|have been) {adv}(?:refunded|reimbursed|credited)\b"),
        (_message, rf"{did}(?:passed|forwarded|relayed|sent|given|left|taken|saved|recorded"
                   r"|made|written|jotted|put)(?: down| on| along| through| in)?"
                   r" (?:your|an?|the|that|this) (?:message|note|details|information|info)\b"),
        (_message, rf"{did}(?:passed|forwarded|relayed)(?: it| that| this| everything)?"
                   rf" (?:on|along|over|to)\b|{did}let (?:[a-z]+ ){{1,2}}know\b"
                   rf"|\b(?:your|the) (?:message|note) {was}(?:saved|passed|sent|forwarded"
                   r"|recorded|taken|delivered|logged)\b"),
        (_transfer, r"\b(?:transferring|connecting) you\b|\bputting you through\b"
                    rf"|\b(?:i will|let me|going to|while i) {adv}(?:transfer you|connect you"
                    rf"|put you through)\b|{did}(?:transferred|connected) you\b"),
        (_price, r"\$(?P<d>\d[\d,]*(?:\.\d{1,2})?)|\b(?P<n>\d[\d,]*(?:\.\d{1,2})?)"
                 r" (?:dollars?|bucks)(?: and (?P<c>\d{1,2}) cents?)?"),
        (_open_days, rf"\b(?:(?:not|never|no longer) )?open (?:on |this |every )?(?P<day>{DAY})\b"
                     rf"|\bclosed (?:on |this |every )?(?P<day2>{DAY})\b"),
        (_open_times, rf"\b(?:open|opens|opening) (?:at|from) (?P<t>{CLOCK})(?: (?:to|until"
                      rf"|till) (?P<t2>{CLOCK}))?|\b(?:open (?:(?:on )?(?:{DAY}) )?(?:until|till"
                      rf"|til|through|to)|(?:close|closes|closing) (?:at|by)|closing time is)"
                      rf" (?P<t3>{CLOCK})"),
        (_open_times, rf"\b(?:open|hours are) (?P<t>{CLOCK}) (?:to|until|till) (?P<t2>{CLOCK})"),
        (_offer, rf"\b(?:i|we) (?:have got|have|can do|could do|can offer|could offer|can fit"
                 rf" you in|could fit you in|can get you in|could get you in|can see you|could"
                 rf" see you) {offered}|\b(?:how|what) about (?:\d|noon|{DAY}|this|next)"
                 rf"|\b{CLOCK} (?:is|are) (?:also |still )?(?:free|available)\b"),
    )  # fmt: skip
    return tuple((verify, re.compile(pattern)) for verify, pattern in table)


_TIMED: tuple[Verify, ...] = (_booking, _cancel, _reschedule)  # the time may come next


def _untimed(segment: str, now: datetime) -> bool:
    when = parse_when(segment, now)
    return when is None or when.time is None


def _claims(phrase: str, profile: Profile, now: datetime
            ) -> Iterator[tuple[Verify, re.Match[str], str, str]]:
    """Each claim in ``phrase`` that counts (side effects unless hedged; numbers always):
    its verifier, match, segment, and the words its day and time are read from: the
    segment, and for a side effect said without its time, the next sentence too ("You're
    booked. That's tomorrow at 3 PM.")."""
    services = tuple(_words(n) for s in profile.services for n in (s.name, *s.aliases))
    rules = _rules(services)
    sentences = _SENTENCE_END.split(_words(phrase))
    for i, said in enumerate(sentences):
        after = sentences[i + 1] if i + 1 < len(sentences) else ""
        if _HOURS_WORDS.search(after) or any(p.search(after) for _, p in rules):
            after = ""  # a sentence of its own ("We open at 8 AM."), not this one's time
        for segment in _SEGMENT_END.split(said):
            for verify, pattern in rules:
                for m in pattern.finditer(segment):
                    if verify not in _ANY_MOOD and _hedged(segment, m):
                        continue
                    timed = verify in _TIMED and after and _untimed(segment, now)
                    yield verify, m, segment, f"{segment} {after}" if timed else segment


def check(phrase: str, facts: Facts, *, now: datetime) -> GuardResult:
    """Verify every claim in ``phrase``; see the module docstring. ``now`` is aware."""
    now = now.astimezone(facts.profile.tz)
    found: dict[tuple[Kind, str], Violation] = {}
    for verify, m, segment, context in _claims(phrase, facts.profile, now):
        if (hit := verify(m, context, facts, now)) is not None:
            found.setdefault((hit[0], segment), Violation(hit[0], segment, hit[1]))
    if not found:
        return GuardResult(phrase)
    text = " ".join(dict.fromkeys(v.replacement for v in found.values()))
    return GuardResult(text + (" " if phrase[-1:].isspace() else ""), tuple(found.values()))


def awaits_time(sentence: str, profile: Profile, *, now: datetime) -> bool:
    """Whether ``sentence`` claims a side effect without saying when: the brain checks it
    together with the next sentence, which may say the time."""
    now = now.astimezone(profile.tz)
    return any(verify in _TIMED and _untimed(context, now)
               for verify, _, _, context in _claims(sentence, profile, now))


def stated(phrase: str, facts: Facts, *, now: datetime) -> set[tuple[str, str]]:
    """``(kind, id)`` of each booking (kind "booking") or cancellation ("cancel") in
    ``facts`` that an unhedged claim in ``phrase`` states with its time: what a caller who
    heard ``phrase`` whole was told. "You're all set" without the time states nothing."""
    now = now.astimezone(facts.profile.tz)
    kinds: dict[Verify, str] = {_booking: "booking", _reschedule: "booking", _cancel: "cancel"}
    out: set[tuple[str, str]] = set()
    for verify, _, _, context in _claims(phrase, facts.profile, now):
        kind = kinds.get(verify)
        if kind is None or _untimed(context, now):
            continue
        when = parse_when(context, now)
        pool = facts.cancelled if kind == "cancel" else facts.confirmed
        out.update((kind, b.id) for b in pool if _fits(when, b.start, now))
    return out


# --- markup ---------------------------------------------------------------------------

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_TOOL_TAG = re.compile(r"<(tool_calls?|tool_use|function_calls?|function|invoke|parameter|think"
                       r"|thinking)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
_AUTOLINK = re.compile(r"<((?:https?://|www\.)[^<>\s]+)>", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>|<![^<>]*>")
_BRACES = re.compile(r"\{[^{}]*\}")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]{}\"']+", re.I)
_LINE_MARK = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*|[-*+\u2022][ \t]+|\d{1,2}[.)][ \t]+|>[ \t]*)",
                        re.M)
_LINE_BREAK = re.compile(r"(?<=[^\s.,!?;:])[ \t]*\n\s*(?=\S)")
_DROP = str.maketrans({**dict.fromkeys(map(ord, "{}<>`*#|~"), None), ord("_"): " "})


def _url(m: re.Match[str], website: str | None) -> str:
    """The business's own site, without its scheme (as read aloud); any other URL goes."""
    url = m.group(0)
    bare = url.rstrip(".,!?;:")
    hosts = {(urlsplit(u if "://" in u else f"http://{u}").hostname or "").removeprefix("www.")
             for u in (bare, website or "")}
    if website is None or len(hosts) > 1:
        return url[len(bare) :]
    return re.sub(r"^https?://", "", bare, flags=re.I).rstrip("/") + url[len(bare) :]


def strip_markup(text: str, *, website: str | None = None) -> str:
    """What of ``text`` may be spoken: no tool-call JSON, tags, markdown, or URLs other than
    the business's ``website`` (read without its scheme). Line breaks become sentence ends.

    A blob cut across phrases is dropped from its ``{`` to the end, or up to its ``}``."""
    s = _TAG.sub(" ", _AUTOLINK.sub(r"\1", _TOOL_TAG.sub(" ", _FENCE.sub(" ", text))))
    while (t := _BRACES.sub(" ", s)) != s:
        s = t
    s = s[s.rfind("}") + 1 :]
    s = s[: s.find("{")] if "{" in s else s
    s = _URL.sub(lambda m: _url(m, website), _MD_LINK.sub(r"\1", s))
    s = _LINE_BREAK.sub(". ", _LINE_MARK.sub("", s)).translate(_DROP)
    s = re.sub(r" (?=[.,!?;:])", "", re.sub(r"\s+", " ", s)).strip()
    # a streamed piece keeps the space at its ends that joins it to its neighbours
    lead, trail = (" " if end[:1].isspace() else "" for end in (text[:1], text[-1:]))
    return lead + s + trail if s else lead or trail
