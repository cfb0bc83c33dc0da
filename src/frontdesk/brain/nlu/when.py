"""Understand when a caller wants to come in: ``parse_when(text, now) -> When | None``.

Pure and deterministic: the clock is the ``now`` argument (timezone-aware, in the
business's zone; only its date is used). Input is raw Whisper text, so it is first
normalised (case, punctuation, "p.m.", number words -> digits; see ``_text``).

Days
    * "today", "tonight", "this morning/afternoon/evening" -> today; "tomorrow" -> +1;
      "day after tomorrow" -> +2; "in 3 days", "in two days", "in a couple of days" -> +n;
      "in a week"/"in 2 weeks" -> +7n.
    * A weekday ("Thursday") is the next one strictly after today, so on a Wednesday
      "Wednesday" means a week out. "next Thursday" means the same thing: callers use
      "next" for "the coming", and guessing a week later would silently lose a booking.
      "this Thursday" is the same except that today counts.
    * "next week" -> Monday of next week (no time); "next week Tuesday"/"Tuesday next
      week" -> that weekday of next week. "weekend" -> the coming Saturday (today on a
      Saturday or Sunday). "last Thursday" resolves to nothing: we never book the past.
    * "the 14th"/"the fourteenth"/"on the 14th" -> the 14th of this month if that is
      today or later, else of the next month that has one ("the 31st" skips short months).
      "the first available" and similar ranks are not dates.
    * "December 3rd", "Dec 3", "3rd of December", "12/3" (US month/day) -> that date this
      year, or next year when this year's is more than 30 days gone. So a date a few weeks
      past is returned as-is, letting the brain tell the caller it has passed. An explicit
      year ("December 3rd 2027") is honoured.
    * An explicit date beats a weekday ("Monday the 14th" -> the 14th even if it is not a
      Monday); otherwise the first day mentioned wins.

Times
    * Without am/pm an hour 1-6 is pm, 7-11 am, 12 noon; "in the morning"/"in the
      afternoon"/"tonight" after the time, or a part-of-day word elsewhere ("Thursday
      afternoon at 3"), overrides that. "15:00" is a 24-hour time.
    * Forms: "3", "at 3", "around 3", "3ish", "3 o'clock", "3pm", "3 p.m.", "3:30",
      "3.30", "three thirty", "quarter past 10", "half past two", "quarter to four",
      "noon", "midday", "10 in the morning".
    * A number is a time only with a cue: at/around/say before it; am/pm/o'clock/":" on
      it; a day word right next to it ("Thursday 3", "3 on Friday"); or when the whole
      utterance is essentially just the time ("Three.", "uh, three thirty", "how about
      3"). Numbers inside digit runs ("555 0123", "2015") or followed by a quantity
      word ("2 tires", "30 dollars") never are; "$49" never is.

Windows (``earliest``/``latest``; None is open)
    morning 08-12; first thing/early morning 07-09; late morning 10-12; early afternoon
    12-14; afternoon 12-17; late afternoon 15-17; after lunch 13-; lunchtime 12-13;
    before lunch -12; evening/tonight 17-; end of the day 15-. "after 3"/"from 3" set
    ``earliest``; "before 11"/"by 5"/"until 4" set ``latest``; "between 2 and 4" sets both.
    A bound overrides the window's bound on that side ("morning before 10" -> 08-10).
    When an exact time was said, it wins and both bounds are None.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from . import _clock
from ._days import DayHit, best_day, find_days
from ._text import FILLERS, normalize

__all__ = ["When", "parse_when"]

# Words around a bare time that still leave the utterance "just a time" ("how about 3?",
# "uh, yeah, three is fine").
_ANSWER_WORDS = FILLERS | {
    "yeah", "yes", "yep", "so", "like", "well", "ok", "okay", "oh", "maybe", "how", "about",
    "lets", "let", "us", "say", "please", "i", "guess", "think", "probably", "then", "that",
    "works", "would", "be", "great", "good", "fine", "is", "for", "me", "sure", "perhaps",
    "just", "can", "we", "do", "you", "could", "what", "try", "thanks", "thank",
}  # fmt: skip


@dataclass(frozen=True)
class When:
    """What the caller said about timing. ``time`` set means an exact clock time, in which
    case ``earliest``/``latest`` are None; otherwise they bound a window (None = open)."""

    day: dt.date | None
    time: dt.time | None
    earliest: dt.time | None
    latest: dt.time | None
    phrase: str


Span = tuple[int, int]


def _free(span: Span, taken: list[Span]) -> bool:
    return not any(span[0] < end and start < span[1] for start, end in taken)


class _Scan:
    """Mutable scratch state for one ``parse_when`` call (never escapes it)."""

    def __init__(self, s: str, days: list[DayHit]) -> None:
        self.s = s
        self.days = days
        self.taken: list[Span] = [(h.start, h.end) for h in days]
        self.used: list[Span] = []
        self.hint: _clock.Meridiem | None = None

    def claim(self, span: Span) -> None:
        self.taken.append(span)
        self.used.append(span)

    def clock(self, m: re.Match[str], group: int, hint_end: int | None = None) -> dt.time | None:
        after = self.s[m.end(group) if hint_end is None else hint_end :]
        return _clock.parse_clock(m[group], _clock.suffix_hint(after) or self.hint)

    def window(self) -> _clock.Window | None:
        found: list[tuple[int, int, _clock.Window]] = []
        for pattern, window in _clock.WINDOWS:
            for m in pattern.finditer(self.s):
                if _free(m.span(), [(a, b) for a, b, _ in found]):
                    found.append((m.start(), m.end(), window))
        if not found:
            return None
        start, end, window = min(found, key=lambda f: f[0])
        self.used.append((start, end))
        return window

    def bounds(self) -> tuple[dt.time | None, dt.time | None]:
        lo: dt.time | None = None
        hi: dt.time | None = None
        for m in _clock.RANGE.finditer(self.s):
            a, b = self.clock(m, 1, m.end()), self.clock(m, 2)
            if a is not None and b is not None and _free(m.span(), self.taken):
                lo, hi = a, b
                self.claim(m.span())
                break
        for pattern, is_lower in ((_clock.LOWER, True), (_clock.UPPER, False)):
            for m in pattern.finditer(self.s):
                t = self.clock(m, 1)
                if t is None or not _free(m.span(), self.taken) or _after_quarter(self.s, m):
                    continue
                self.claim(m.span())
                if is_lower and lo is None:
                    lo = t
                elif not is_lower and hi is None:
                    hi = t
        return lo, hi

    def exact(self) -> dt.time | None:
        for m in _clock.CUED.finditer(self.s):
            t = self.clock(m, 1)
            if t is not None and _free(m.span(), self.taken):
                self.claim(m.span())
                return t
        for m in _clock.TIME_RE.finditer(self.s):
            if not _free(m.span(), self.taken):
                continue
            after = self.s[m.end() :]
            cued = bool(_clock.SELF_CUED.search(m[0]) or _clock.suffix_hint(after))
            if cued or self._next_to_day(m.span()):
                t = self.clock(m, 0)
                if t is not None:
                    self.claim(m.span())
                    return t
        return self._whole_utterance()

    def _next_to_day(self, span: Span) -> bool:
        for h in self.days:
            if self.s[h.end : span[0]] == " " or self.s[span[1] : h.start] in (" ", " on "):
                return True
        return False

    def _whole_utterance(self) -> dt.time | None:
        core = " ".join(w for w in self.s.split() if w not in _ANSWER_WORDS)
        m = _clock.TIME_RE.fullmatch(core)
        if m is None:
            return None
        t = _clock.parse_clock(core, self.hint)
        if t is not None:
            start = self.s.find(core.split()[0])
            self.used.append((start, start + len(core)))
        return t


_MINUTES_BEFORE = re.compile(r"\b(?:quarter|half|5|10|20|25)\s(?:minutes\s)?$")


def _after_quarter(s: str, m: re.Match[str]) -> bool:
    """True when the "after 3"/"till 4" in ``m`` is the tail of a clock time such as
    "quarter after 3" or "10 after 3", not a window bound."""
    return _MINUTES_BEFORE.search(s, 0, m.start()) is not None


def parse_when(text: str, now: dt.datetime) -> When | None:
    """Parse ``text`` relative to ``now``; None when it holds nothing date- or time-like.
    The rules are in the module docstring."""
    s = normalize(text)
    days = find_days(s, now.date())
    scan = _Scan(s, days)
    best = best_day(days)
    if best is not None:
        scan.used.append((best.start, best.end))
    window = scan.window()
    scan.hint = window.hint if window is not None else None
    lo, hi = scan.bounds()
    exact = scan.exact()
    if exact is not None:
        lo = hi = None
    elif window is not None:
        lo = lo if lo is not None else window.earliest
        hi = hi if hi is not None else window.latest
    day = best.day if best is not None else None
    if day is None and exact is None and lo is None and hi is None:
        return None
    phrase = s[min(a for a, _ in scan.used) : max(b for _, b in scan.used)]
    return When(day=day, time=exact, earliest=lo, latest=hi, phrase=phrase)
