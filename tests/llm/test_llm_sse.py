"""The sans-IO Server-Sent Events parser: whatever the split of the bytes, the same events."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from frontdesk.brain.llm.sse import SseEvent, SseParser

# a stream using every feature: a comment, a named event, multi-line data, an id, an
# unknown field, retry, a field without a colon, a multi-byte character
STREAM = ("Ⓒ: a comment, then a field named 'Ⓒ' that is ignored\n"
          ": keep-alive\n"
          "event: update\n"
          "data: first line\n"
          "data:second line, no space\n"
          "data:  two spaces: one is kept\n"
          "id: 7\n"
          "retry: 3000\n"
          "unknown: ignored\n"
          "\n"
          "data: café ☕ 🚀\n"
          "\n"
          "data\n"
          "\n").encode()

EXPECTED = [
    SseEvent("update", "first line\nsecond line, no space\n two spaces: one is kept", "7"),
    SseEvent("message", "café ☕ 🚀", "7"),  # the last event id persists, as the spec says
    SseEvent("message", "", "7"),  # "data" alone is a data line with an empty value
]


def feed_all(chunks: Iterable[bytes]) -> list[SseEvent]:
    parser = SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_the_whole_stream_at_once() -> None:
    assert feed_all([STREAM]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert feed_all(STREAM[i:i + 1] for i in range(len(STREAM))) == EXPECTED


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_split_at_every_byte_with_each_line_ending(eol: str) -> None:
    data = STREAM.decode().replace("\n", eol).encode()
    for cut in range(len(data) + 1):
        assert feed_all([data[:cut], data[cut:]]) == EXPECTED, f"split at byte {cut}"


def test_mixed_line_endings_in_one_stream() -> None:
    data = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    assert feed_all([data]) == [SseEvent("message", "a\nb\nc"), SseEvent("message", "d")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # "\r" then "\n" in the next chunk: one line end, so no blank line dispatches "a" alone
    assert feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [
        SseEvent("message", "a\nb")]


def test_utf8_split_inside_a_character() -> None:
    data = "data: é☕🚀\n\n".encode()
    for cut in range(len(data) + 1):
        assert feed_all([data[:cut], data[cut:]]) == [SseEvent("message", "é☕🚀")]


def test_comments_only_dispatch_nothing() -> None:
    assert feed_all([b": ping\n\n: ping\r\n\r\n"]) == []


def test_event_without_data_is_dropped_and_its_name_does_not_leak() -> None:
    data = b"event: ping\n\ndata: x\n\n"
    assert feed_all([data]) == [SseEvent("message", "x")]


def test_event_name_resets_after_each_dispatch() -> None:
    data = b"event: a\ndata: 1\n\ndata: 2\n\n"
    assert feed_all([data]) == [SseEvent("a", "1"), SseEvent("message", "2")]


def test_an_event_not_yet_ended_by_a_blank_line_is_held() -> None:
    parser = SseParser()
    assert parser.feed(b"data: {\"partial\": true}\n") == []
    assert parser.feed(b"\n") == [SseEvent("message", '{"partial": true}')]


def test_id_with_nul_is_ignored() -> None:
    assert feed_all([b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n"]) == [
        SseEvent("message", "a", "1"), SseEvent("message", "b", "1")]


def test_openai_wire_format() -> None:
    data = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'
    assert [e.data for e in feed_all([data])] == ['{"choices":[{"delta":{"content":"Hi"}}]}',
                                                   "[DONE]"]


def test_empty_chunk_between_cr_and_lf() -> None:
    assert feed_all([b"data: a\r", b"", b"\ndata: b\r\n\r\n"]) == [SseEvent("message", "a\nb")]


def test_leading_byte_order_mark_is_dropped() -> None:
    assert feed_all([b"\xef\xbb\xbfdata: x\n\n"]) == [SseEvent("message", "x")]
