"""A callback number: ``extract_phone(text) -> str | None``.

Callers read numbers as digits ("512-555-0100", "(512) 555 0100"), as words ("five one
two, five five five, oh one hundred"), or mixed, often with "uh" in the middle. The text
is split into runs of number tokens (separators and fillers do not break a run, any other
word does) and the run with the most digits is taken, so "I have 2 cars, my number is
512 555 0100" yields the phone number, not "2".

Word rules: "oh"/"o" is 0 once a run has started (a leading "oh" is an interjection);
"double five" is 55, "triple five" 555; "hundred" appends 00 and "thousand" 000 ("oh one
hundred" -> 0100); "twenty one" -> 21.

Result: 10 digits -> "+1" + digits (US E.164); 11 digits starting with 1 -> "+" + digits;
a leading "+" with 8-15 digits -> "+" + digits (international E.164); 7 digits -> the
bare local number; anything else (too short, a year, a price) -> None.
"""

from __future__ import annotations

import re

from ._text import FILLERS, TENS, UNITS

__all__ = ["extract_phone"]

_SPLIT = re.compile(r"[^a-z0-9+]+")
_SKIP = FILLERS | {"and", "then", "dash", "hyphen", "area", "code", "is", "its"}
_REPEAT = {"double": 2, "triple": 3}


def _runs(tokens: list[str]) -> list[tuple[bool, str]]:
    """(had a leading "+", digits) for each run of number tokens."""
    runs: list[tuple[bool, str]] = []
    plus, digits, repeat = False, "", 1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        piece: str | None = None
        if re.fullmatch(r"\+?\d+", tok):
            plus = plus or (tok.startswith("+") and not digits)
            piece = tok.lstrip("+")
        elif tok in TENS:
            tens = TENS[tok]
            if nxt in UNITS and 1 <= UNITS[nxt] <= 9:
                tens += UNITS[nxt]
                i += 1
            piece = str(tens)
        elif tok in UNITS:
            piece = str(UNITS[tok])
        elif tok in ("oh", "o") and digits:
            piece = "0"
        elif tok == "hundred" and digits:
            piece = "00"
        elif tok == "thousand" and digits:
            piece = "000"
        elif tok in _REPEAT:
            repeat = _REPEAT[tok]
            i += 1
            continue
        elif tok in _SKIP or tok == "plus":
            plus = plus or (tok == "plus" and not digits)
            i += 1
            continue
        if piece is None:
            if digits:
                runs.append((plus, digits))
            plus, digits, repeat = False, "", 1
        else:
            digits += piece * repeat
            repeat = 1
        i += 1
    if digits:
        runs.append((plus, digits))
    return runs


def extract_phone(text: str) -> str | None:
    """The phone number in ``text``, normalised as described in the module docstring."""
    tokens = _SPLIT.sub(" ", text.lower().replace("+ ", "+")).split()
    runs = _runs(tokens)
    if not runs:
        return None
    plus, digits = max(runs, key=lambda r: len(r[1]))
    if plus and 8 <= len(digits) <= 15:
        return f"+{digits}"
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    if len(digits) == 7:
        return digits
    return None
