"""HMAC-SHA256 request signing between frontdesk and a REST CRM (sans-IO).

Every request frontdesk sends to a CRM, reads included, carries

    X-Frontdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

over ``f"{t}.{METHOD}.{path_with_query}.".encode() + body``. The method and the exact
request target (path and query, as sent on the wire, percent-encoding and all) are
signed as well as the body, so a captured signature cannot be replayed against another
endpoint or with other query parameters; the timestamp bounds how long a captured
request stays replayable. The receiver compares in constant time. The clock is a
parameter: both sides pass ``now`` so tests can skew them.

Several ``v1`` entries may appear (a sender signing with an old and a new secret while
a rotation is under way); one match is enough. Unknown entries are ignored so a later
scheme (``v2=``) can be added next to ``v1`` without breaking old receivers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

__all__ = ["SIGNATURE_HEADER", "SignatureError", "SignatureFailure", "sign", "verify"]

SIGNATURE_HEADER = "X-Frontdesk-Signature"
SignatureFailure = Literal["missing", "malformed", "stale", "mismatch"]
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(Exception):
    """A request whose signature does not prove it came from the secret's holder, now.

    ``kind`` says why: ``missing`` (no header), ``malformed`` (unparseable header),
    ``stale`` (authentic but outside the time tolerance: a replay, or clocks that
    disagree), ``mismatch`` (wrong secret, or the request was altered).
    """

    def __init__(self, kind: SignatureFailure, detail: str) -> None:
        super().__init__(f"signature {kind}: {detail}")
        self.kind: SignatureFailure = kind
        self.detail = detail


def _digest(secret: bytes, t: int, method: str, path_with_query: str, body: bytes) -> str:
    message = f"{t}.{method.upper()}.{path_with_query}.".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, method: str, path_with_query: str, body: bytes, now: float) -> str:
    """The header value for a request sent at ``now`` (unix seconds, floored)."""
    t = int(now)
    return f"t={t},v1={_digest(secret, t, method, path_with_query, body)}"


def verify(
    secret: bytes,
    header: str | None,
    method: str,
    path_with_query: str,
    body: bytes,
    now: float,
    tolerance_s: float = 300,
) -> None:
    """Return if ``header`` signs this request within ``tolerance_s`` of ``now`` (either
    side: the sender's clock may run ahead); raise :class:`SignatureError` otherwise."""
    if header is None or not header.strip():
        raise SignatureError("missing", "no signature header")
    t: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed", f"entry {part.strip()!r} has no '='")
        if name == "t":
            if t is not None or not value.isascii() or not value.isdigit():
                raise SignatureError("malformed", "t must appear once, as unix seconds")
            t = int(value)
        elif name == "v1":
            if not _HEX64.fullmatch(value):
                raise SignatureError("malformed", "v1 must be 64 hex digits")
            candidates.append(value.lower())
    if t is None or not candidates:
        raise SignatureError("malformed", "both t and v1 are required")
    expected = _digest(secret, t, method, path_with_query, body)
    # compare every candidate, so the time taken does not reveal which one matched
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise SignatureError("mismatch", "no v1 matches this request under the secret")
    if abs(now - t) > tolerance_s:
        raise SignatureError("stale", f"signed at {t}, {now - t:+.0f} s from now")
