"""The caller's name: ``extract_name(text, expecting=...)``.

Two situations:

* ``expecting=False`` (the name may come up unprompted): only an introduction counts.
  Strong ones ("my name is", "name's", "the name is", "call me") are trusted; weak ones
  ("this is", "it's", "I'm") also introduce states ("it's broken", "I'm calling about"),
  so the word after them must be capitalised in the original text, unless the text has
  no capitals at all (then we cannot tell and rely on the word lists).
* ``expecting=True`` (the agent just asked "may I have your name?"): additionally a
  short bare answer is the name ("John Smith.", "Uh, it's John", "Yeah, Maria").

A name is 1-4 alphabetic words (apostrophes and hyphens allowed: O'Brien, Mary-Jane)
none of which is a common English word, day, month, number or filler, so "yes",
"Thursday", "I don't know" and "oil change" are rejected. The result is title-cased per
part ("o'brien" -> "O'Brien").
"""

from __future__ import annotations

import re

from ._days import MONTHS, WEEKDAYS
from ._text import FILLERS, ORDINALS, TENS, UNITS

__all__ = ["extract_name"]

MAX_WORDS = 4

_COMMON = frozenset({
    # answers, fillers, pronouns, function words
    "yes", "yeah", "yep", "yup", "no", "nope", "nah", "sure", "ok", "okay", "alright", "right",
    "well", "so", "like", "oh", "hi", "hello", "hey", "thanks", "thank", "please", "sorry",
    "i", "me", "my", "mine", "you", "your", "we", "us", "our", "he", "she", "they", "them",
    "it", "its", "this", "that", "these", "those", "there", "here", "a", "an", "the", "and",
    "or", "but", "if", "of", "to", "in", "on", "at", "for", "from", "with", "about", "by",
    "as", "is", "am", "are", "was", "were", "be", "been", "do", "does", "did", "dont",
    "doesnt", "didnt", "not", "know", "think", "guess", "mean", "just", "still", "also",
    "what", "who", "why", "how", "when", "where", "which", "can", "could", "would", "should",
    "will", "wont", "cant", "have", "has", "had", "got", "get", "need", "want", "wanna",
    "gonna", "going", "calling", "looking", "trying", "wondering", "hoping", "interested",
    "good", "fine", "great", "busy", "free", "available", "ready", "done", "broken", "flat",
    "leaking", "making", "stuck", "late", "early", "new", "old", "again", "now", "then",
    "today", "tomorrow", "tonight", "morning", "afternoon", "evening", "week", "weekend",
    "next", "last", "name", "names", "speaking", "customer", "number", "phone",
    "call", "back", "message", "appointment", "booking", "book", "time", "day", "all", "set",
    "anything", "something", "nothing", "everything", "someone", "somebody", "one", "some",
    "any", "maybe", "probably", "really", "actually", "sir", "maam", "mister", "miss",
    # a receptionist's domain words
    "oil", "change", "brake", "brakes", "tire", "tires", "rotation", "inspection", "car",
    "truck", "service", "check", "repair", "estimate", "price", "cost", "engine", "battery",
    "noon", "oclock", "pm", "money", "hours", "open", "closed", "address",
})  # fmt: skip
_NOT_NAMES = (
    _COMMON | FILLERS | set(UNITS) | set(TENS) | set(ORDINALS) | set(MONTHS) | set(WEEKDAYS)
)

_STRONG = re.compile(
    r"\b(?:my\s+name(?:'s|\s+is)|name(?:'s|\s+is)|the\s+name\s+is|"
    r"(?:you\s+can\s+)?call\s+me)\s+(?P<rest>.*)$",
    re.IGNORECASE,
)
_WEAK = re.compile(r"\b(?:this\s+is|it'?s|it\s+is|i'?m|i\s+am)\s+(?P<rest>.*)$", re.IGNORECASE)
_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_CLEAN = re.compile(r"[^A-Za-z'\- ]+")


def _tokens(text: str) -> list[str]:
    """Words with original case, punctuation (except name apostrophes/hyphens) removed."""
    spaced = _CLEAN.sub(" ", text.replace("\u2019", "'"))
    return [w.strip("'-") for w in spaced.split() if w.strip("'-")]


def _key(word: str) -> str:
    return word.lower().replace("'", "")


def _is_name_word(word: str) -> bool:
    return bool(_NAME_WORD.fullmatch(word)) and len(word) >= 2 and _key(word) not in _NOT_NAMES


def _leading_name(words: list[str]) -> list[str]:
    """The run of name words at the start of ``words`` (empty if the first is not one),
    skipping leading fillers ("my name is, uh, John")."""
    out: list[str] = []
    start = 0
    while start < len(words) and _key(words[start]) in FILLERS:
        start += 1
    for w in words[start:]:
        if not _is_name_word(w):
            break
        out.append(w)
    return out


def _title(words: list[str]) -> str:
    def part(w: str) -> str:
        return re.sub(r"[A-Za-z]+", lambda m: m[0].capitalize(), w)

    return " ".join(part(w) for w in words)


def extract_name(text: str, *, expecting: bool) -> str | None:
    """The caller's name, title-cased, or None; rules in the module docstring."""
    flat = " ".join(_tokens(text))
    strong = _STRONG.search(flat)
    if strong is not None:
        name = _leading_name(_tokens(strong["rest"]))
        return _title(name) if 0 < len(name) <= MAX_WORDS else None
    weak = _WEAK.search(flat)
    if weak is not None:
        rest = _tokens(weak["rest"])
        name = _leading_name(rest)
        cased = rest[:1] and (rest[0][0].isupper() or not any(c.isupper() for c in text))
        if 0 < len(name) <= MAX_WORDS and (expecting or cased):
            return _title(name)
        if not expecting:
            return None
    if not expecting:
        return None
    words = [w for w in _tokens(text) if _key(w) not in _ANSWER_PADDING]
    name = _leading_name(words)
    if 0 < len(name) <= MAX_WORDS and len(name) == len(words):
        return _title(name)
    return None


# Words that may surround a bare name given in answer to "what's your name?".
_ANSWER_PADDING = FILLERS | {
    "yeah", "yes", "yep", "sure", "ok", "okay", "oh", "well", "so", "its", "it", "is",
    "thats", "that", "name", "please", "thanks", "thank", "you", "here", "speaking",
    "this", "hi", "hello", "um",
}  # fmt: skip
