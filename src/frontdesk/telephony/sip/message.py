"""SIP messages over UDP (RFC 3261 §7): parse and serialize, nothing else.

A datagram is one message: a start line, header lines, a blank line and a body whose
length ``Content-Length`` gives (over UDP it may be absent: the body is the rest). Header
names are kept in their canonical long form (compact forms like ``i`` and ``v`` are
expanded), in their original order, because a response must copy the request's ``Via``
headers in order. ``Content-Length`` is not kept as a header: it is derived from the body
when serializing, so ``parse(bytes(m)) == m`` for every message.

Bad input raises :class:`SipParseError`, the peer's fault; it carries the headers that
could still be read, so the adapter can answer ``400`` when Via, Call-ID and CSeq are
among them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "COMPACT",
    "Headers",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "parse",
]

SIP_VERSION = "SIP/2.0"
MAX_DATAGRAM = 65_535

# RFC 3261 §7.3.3 and the extensions that define compact forms (RFC 3515, 3841, 3892,
# 4028, 3265, 8224)
COMPACT = {
    "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact",
    "l": "Content-Length", "c": "Content-Type", "e": "Content-Encoding", "k": "Supported",
    "s": "Subject", "r": "Refer-To", "b": "Referred-By", "o": "Event", "u": "Allow-Events",
    "x": "Session-Expires", "a": "Accept-Contact", "j": "Reject-Contact",
    "d": "Request-Disposition", "y": "Identity",
}
_CANONICAL = {name.lower(): name for name in (
    *COMPACT.values(), "CSeq", "Max-Forwards", "Allow", "Accept", "User-Agent", "Server",
    "Record-Route", "Route", "Expires", "Require", "Unsupported", "Warning", "Reason",
    "Subscription-State", "Refer-Sub", "WWW-Authenticate", "Authorization",
)}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_STATUS = re.compile(r"^SIP/2\.0 ([1-6]\d\d) (.*)$")
_REQUEST = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0$")
_CSEQ = re.compile(r"^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$")
_REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")

Headers = tuple[tuple[str, str], ...]


class SipParseError(ValueError):
    """A datagram that is not a well-formed SIP message (the remote peer's fault).

    ``headers`` holds what could be read (empty if nothing), ``is_request`` whether the
    start line said it was a request: enough to decide between 400 and dropping it."""

    def __init__(self, reason: str, *, headers: Headers = (), is_request: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers = headers
        self.is_request = is_request


def canonical(name: str) -> str:
    lower = name.lower()
    if lower in COMPACT:
        return COMPACT[lower]
    return _CANONICAL.get(lower, name)


def _first(headers: Headers, name: str) -> str | None:
    key = canonical(name).lower()
    return next((v for n, v in headers if n.lower() == key), None)


@dataclass(frozen=True)
class _Message:
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (long or compact form), or None."""
        return _first(self.headers, name)

    def header_all(self, name: str) -> list[str]:
        key = canonical(name).lower()
        return [v for n, v in self.headers if n.lower() == key]

    def need(self, name: str) -> str:
        value = self.header(name)
        if value is None:  # parse() guarantees the required ones
            raise KeyError(name)
        return value

    @property
    def call_id(self) -> str:
        return self.need("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = self.need("CSeq").split()
        return int(number), method.upper()

    def _encode(self, start: str) -> bytes:
        lines = [start, *(f"{n}: {v}" for n, v in self.headers if n != "Content-Length"),
                 f"Content-Length: {len(self.body)}", "", ""]
        return "\r\n".join(lines).encode() + self.body


@dataclass(frozen=True)
class SipRequest(_Message):
    method: str = "OPTIONS"
    uri: str = ""

    def __bytes__(self) -> bytes:
        return self._encode(f"{self.method} {self.uri} {SIP_VERSION}")


@dataclass(frozen=True)
class SipResponse(_Message):
    status: int = 200
    reason: str = "OK"

    def __bytes__(self) -> bytes:
        return self._encode(f"{SIP_VERSION} {self.status} {self.reason}")


SipMessage = SipRequest | SipResponse


def _split(data: bytes) -> tuple[bytes, bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):  # bare LF: tolerated, as most stacks do
        head, found, body = data.partition(separator)
        if found:
            return head, body
    raise SipParseError("no blank line after the headers")


def _header_lines(lines: list[str]) -> Headers:
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):  # folded continuation (RFC 3261 §7.3.1)
            if not unfolded:
                raise SipParseError("continuation line before any header")
            unfolded[-1] += " " + line.strip()
        elif line:
            unfolded.append(line)
    headers: list[tuple[str, str]] = []
    for line in unfolded:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:40]!r}", headers=tuple(headers))
        headers.append((canonical(name), value.strip()))
    return tuple(headers)


def parse(data: bytes) -> SipMessage:
    """One datagram → one message; :class:`SipParseError` if it is not one."""
    if len(data) > MAX_DATAGRAM:
        raise SipParseError("datagram too large")
    data = data.lstrip(b"\r\n")  # keep-alive CRLFs before a message (RFC 5626 §4.4.1)
    head, body = _split(data)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    start, *lines = text.replace("\r\n", "\n").split("\n")
    request = _REQUEST.match(start)
    status = None if request else _STATUS.match(start)
    if request is None and status is None:
        raise SipParseError(f"bad start line {start[:40]!r}")
    is_request = request is not None
    try:
        headers = _header_lines(lines)
    except SipParseError as error:
        raise SipParseError(error.reason, headers=error.headers, is_request=is_request) from None

    def fail(reason: str) -> SipParseError:
        return SipParseError(reason, headers=headers, is_request=is_request)

    for name in _REQUIRED:
        if _first(headers, name) is None:
            raise fail(f"missing {name}")
    cseq = _CSEQ.match(_first(headers, "CSeq") or "")
    if cseq is None:
        raise fail("bad CSeq")
    length = _first(headers, "Content-Length")
    if length is not None:
        if not length.isdigit():
            raise fail("bad Content-Length")
        if int(length) > len(body):
            raise fail("body shorter than Content-Length")
        body = body[: int(length)]
    kept = tuple((n, v) for n, v in headers if n != "Content-Length")
    if request is not None:
        method, uri = request.group(1).upper(), request.group(2)
        if cseq.group(2).upper() != method:
            raise fail("CSeq method differs from the request method")
        return SipRequest(kept, body, method=method, uri=uri)
    assert status is not None
    return SipResponse(kept, body, status=int(status.group(1)), reason=status.group(2))
