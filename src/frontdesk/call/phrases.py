"""Cut a stream of text into speakable phrases, so TTS can start on the first one early.

A phrase ends at a sentence end; a long clause is cut at a comma once it is long enough,
and the very first phrase is cut earlier still (at a comma after 20 characters, or at a
word boundary when 60 characters go by without punctuation), because the caller hears
nothing until it is synthesized.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?](?=\s)")
_CLAUSE_END = re.compile(r"[,;:](?=\s)")


class PhraseChunker:
    def __init__(
        self, first_clause_chars: int = 20, clause_chars: int = 60, first_words_chars: int = 60
    ) -> None:
        self._buffer = ""
        self._first = True
        self._first_clause_chars = first_clause_chars
        self._clause_chars = clause_chars
        self._first_words_chars = first_words_chars

    def push(self, text: str) -> list[str]:
        """Add streamed text; return the phrases that are complete."""
        self._buffer += text
        out: list[str] = []
        while True:
            cut = self._next_cut()
            if cut is None:
                return out
            phrase, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if phrase:
                out.append(phrase)
                self._first = False

    def flush(self) -> list[str]:
        """The stream ended: whatever is left is the last phrase."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _next_cut(self) -> int | None:
        """The earliest allowed cut, so one big push and a token stream cut alike."""
        offset = len(self._buffer) - len(self._buffer.lstrip())
        limit = offset + (self._first_clause_chars if self._first else self._clause_chars)
        cuts = [m.end() for m in _SENTENCE_END.finditer(self._buffer)][:1]
        cuts += [m.end() for m in _CLAUSE_END.finditer(self._buffer) if m.end() >= limit][:1]
        words_limit = offset + self._first_words_chars
        early = min(cuts, default=words_limit) < words_limit
        if self._first and not early and len(self._buffer) >= words_limit:
            # A long first sentence with no early punctuation: cut at a word boundary, since
            # the caller hears nothing until the first phrase is synthesized.
            space = self._buffer.rfind(" ", offset, words_limit)
            if space > limit:
                return space
        return min(cuts) if cuts else None
