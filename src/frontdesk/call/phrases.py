"""Cut a stream of text into speakable phrases, so TTS can start on the first one early.

A phrase ends at a sentence end; a long clause is cut at a comma once it is long enough,
and the very first phrase is cut earlier still, because the caller hears nothing until it
is synthesized.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?](?=\s)")
_CLAUSE_END = re.compile(r"[,;:](?=\s)")


class PhraseChunker:
    def __init__(self, first_clause_chars: int = 20, clause_chars: int = 60) -> None:
        self._buffer = ""
        self._first = True
        self._first_clause_chars = first_clause_chars
        self._clause_chars = clause_chars

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
        sentence = _SENTENCE_END.search(self._buffer)
        if sentence:
            return sentence.end()
        limit = self._first_clause_chars if self._first else self._clause_chars
        for clause in _CLAUSE_END.finditer(self._buffer):
            if clause.end() >= limit:
                return clause.end()
        return None
