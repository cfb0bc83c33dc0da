"""Server-Sent Events, sans-IO: bytes in, events out (the WHATWG ``text/event-stream``
rules that OpenAI's and Anthropic's streaming APIs follow; a leading byte-order mark is
dropped).

Feed the parser whatever the socket delivered (any split, even inside a UTF-8 sequence
or between ``\\r`` and ``\\n``); it returns the events completed so far. A line is
``field: value`` (one optional space after the colon is dropped); ``:`` starts a comment
(keep-alives); a blank line dispatches the event built so far. Fields other than
``event``, ``data``, ``id`` and ``retry`` are ignored, as the standard says. An event
without data is not dispatched.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SseEvent", "SseParser"]


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" unless the stream named it
    data: str  # the data lines joined with "\n"
    id: str | None = None


class SseParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._pending_cr = False  # the last chunk ended in "\r": a "\n" next is its pair
        self._started = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        text = self._decoder.decode(chunk)
        if not self._started and text:  # one byte-order mark may open the stream
            self._started = True
            text = text.removeprefix("\ufeff")
        if not text:  # an empty read (or half a UTF-8 sequence) changes nothing
            return []
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = text.endswith("\r")
        self._buffer += text
        events: list[SseEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return events
            line, self._buffer = self._buffer[:cut[0]], self._buffer[cut[1]:]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SseEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return SseEvent(event, "\n".join(data), self._id)


_EOL = re.compile(r"\r\n|\r|\n")


def _line_end(buffer: str) -> tuple[int, int] | None:
    """(end of the first line, start of the next) or None if no line is complete. A
    trailing "\\r" is complete: the parser drops the "\\n" that may follow in the next
    chunk."""
    found = _EOL.search(buffer)
    return None if found is None else (found.start(), found.end())
