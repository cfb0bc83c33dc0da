"""Text normalisation shared by the NLU parsers.

Whisper tiny.en output is inconsistent about case, punctuation and how numbers are
written ("3 p.m.", "3pm", "three PM", "3.30"), so every parser first reduces the text to
one canonical form: lower case, single spaces, number words turned into digits, and
``am``/``pm``/``oclock`` as separate tokens. The parsers then only have to handle one
spelling of each thing. Nothing here knows about dates; it only canonicalises.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
    "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}  # fmt: skip

# Interjections that carry no meaning for any parser.
FILLERS = frozenset({"uh", "um", "umm", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm"})

_DOTTED_MERIDIEM = re.compile(r"\b([ap])\s?\.\s?m\b\.?")
_GLUED_MERIDIEM = re.compile(r"(\d)\s?([ap])m\b")
_OCLOCK = re.compile(r"\bo\s?'?\s?clock\b")
_MONEY = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?")
_DOT_TIME = re.compile(r"\b(\d{1,2})\.(\d{2})\b")
_ISH = re.compile(r"\b(\d{1,2}|[a-z]+)ish\b")
_STRAY = re.compile(r"[^a-z0-9:/ ]+")
_LONE_COLON_SLASH = re.compile(r"(?<!\d)[:/]|[:/](?!\d)")


def ordinal(n: int) -> str:
    """``14`` -> ``"14th"``: the single spelling used for ordinals after normalising."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _ish(match: re.Match[str]) -> str:
    word = match.group(1)
    if word.isdigit() or word in UNITS:
        return f"around {word}"
    return match.group(0)


def clean(text: str) -> str:
    """Lower-case and strip punctuation, keeping ``:`` and ``/`` between digits.

    ``p.m.``/``3pm`` become ``3 pm``, ``o'clock`` becomes ``oclock``, money amounts become
    the token ``money`` (so "$49" can never read as a time), "3.30" becomes "3:30",
    "3ish" becomes "around 3", apostrophes vanish ("let's" -> "lets").
    """
    s = text.lower()
    s = _MONEY.sub(" money ", s)
    s = _DOTTED_MERIDIEM.sub(r" \1m ", s)
    s = _GLUED_MERIDIEM.sub(r"\1 \2m", s)
    s = _OCLOCK.sub(" oclock ", s)
    s = _DOT_TIME.sub(r"\1:\2", s)
    s = s.replace("'", "").replace("\u2019", "")
    s = _ISH.sub(_ish, s)
    s = _STRAY.sub(" ", s)
    s = _LONE_COLON_SLASH.sub(" ", s)
    return " ".join(s.split())


def numberize(tokens: list[str]) -> list[str]:
    """Turn number words into digits: "twenty one" -> "21", "fourteenth" -> "14th".

    "oh five" after a number becomes "05" so "three oh five" reads as "3 05". Compound
    ordinals ("twenty first") become "21st".
    """
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in TENS:
            if nxt in UNITS and 1 <= UNITS[nxt] <= 9:
                out.append(str(TENS[tok] + UNITS[nxt]))
                i += 2
                continue
            if nxt in ORDINALS and ORDINALS[nxt] <= 9:
                out.append(ordinal(TENS[tok] + ORDINALS[nxt]))
                i += 2
                continue
            out.append(str(TENS[tok]))
        elif tok in ("oh", "o") and out and out[-1].isdigit() and nxt in UNITS:
            if 1 <= UNITS[nxt] <= 9:
                out.append(f"0{UNITS[nxt]}")
                i += 2
                continue
            out.append(tok)
        elif tok in UNITS:
            out.append(str(UNITS[tok]))
        elif tok in ORDINALS:
            out.append(ordinal(ORDINALS[tok]))
        else:
            out.append(tok)
        i += 1
    return out


def normalize(text: str) -> str:
    """:func:`clean` then :func:`numberize`, returned as one space-joined string."""
    return " ".join(numberize(clean(text).split()))
