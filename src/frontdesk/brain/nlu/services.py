"""Which of the business's services the caller named: ``match_service(text, services)``.

Matching works on content words: stop words ("my", "the", "for") are dropped and a
plural "s" is stripped on both sides, so "brakes" ~ "brake" and "change my oil" ~ "oil
change". For each service name and alias of ``k`` words, every ``k``-word window of the
caller's words is scored:

    1.0   the same words in the same order
    0.95  the same words in another order ("change my oil" for "oil change")
    ratio difflib ratio of the two strings when >= 0.85 and the phrase has at least 5
          letters, for Whisper slips like "break inspection"; shorter phrases must be exact,
          since "oil"/"toil" differ by one letter and mean different things.

The best candidate is the one covering the most words, then the highest score, then the
longest phrase, then the earliest service in the list: "brake check" beats "brakes".
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Protocol

from ._text import clean

__all__ = ["ServiceLike", "match_service"]

FUZZY_MIN_RATIO = 0.85
_FUZZY_MIN_LETTERS = 5
_STOP = frozenset({
    "a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "for", "of", "to",
    "on", "in", "at", "and", "some", "get", "got", "do", "done", "need", "want", "like",
    "please", "i", "me", "we", "it", "is", "be", "uh", "um", "just", "with", "can", "could",
    "would", "id", "im", "this", "that", "have", "had",
})  # fmt: skip


class ServiceLike(Protocol):
    """The part of a profile's service that matching needs."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def aliases(self) -> Sequence[str]: ...


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, de-pluralised words with stop words removed."""
    return [_stem(w) for w in clean(text).split() if w not in _STOP]


def _score(phrase: list[str], words: list[str]) -> float:
    k = len(phrase)
    joined = " ".join(phrase)
    best = 0.0
    for i in range(len(words) - k + 1):
        window = words[i : i + k]
        if window == phrase:
            return 1.0
        if sorted(window) == sorted(phrase):
            best = max(best, 0.95)
        elif len(joined.replace(" ", "")) >= _FUZZY_MIN_LETTERS:
            ratio = difflib.SequenceMatcher(None, " ".join(window), joined).ratio()
            if ratio >= FUZZY_MIN_RATIO:
                best = max(best, ratio)
    return best


def match_service(text: str, services: Sequence[ServiceLike]) -> str | None:
    """The id of the service ``text`` names best, or None; ranking in the module docstring."""
    words = content_words(text)
    best: tuple[int, float, int] | None = None
    best_id: str | None = None
    for service in services:
        for label in (service.name, *service.aliases):
            phrase = content_words(label)
            if not phrase:
                continue
            score = _score(phrase, words)
            if score == 0.0:
                continue
            key = (len(phrase), score, len(" ".join(phrase)))
            if best is None or key > best:
                best, best_id = key, service.id
    return best_id
