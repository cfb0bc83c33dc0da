"""Telnyx webhook signatures: Ed25519 over ``"<timestamp>|" + raw body``.

Telnyx signs each webhook with its account key and sends ``telnyx-signature-ed25519``
(base64, 64 bytes) and ``telnyx-timestamp`` (Unix seconds). The signature alone would let
anyone who once saw a webhook replay it forever, so the timestamp must be recent and a
(timestamp, signature) pair is accepted only once while it is recent. Past the window a
pair is forgotten: it would be rejected as stale anyway, which bounds memory to the
webhooks of one window.

Sans-IO: the clock is the ``now`` argument, so tests drive time directly.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import re
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

Reason = Literal["missing", "malformed", "mismatch", "stale", "replayed"]

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"

# Unix seconds in ASCII digits only: int() would also take "+1", " 1", "1_0" and "١".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class TelnyxSignatureError(Exception):
    """The webhook is not a fresh, authentic Telnyx request: the sender's fault, not retryable.

    ``reason``: ``missing`` (a header is absent), ``malformed`` (not base64 / not 64 bytes /
    not a Unix timestamp), ``mismatch`` (the signature does not verify), ``stale`` (outside
    the tolerance window), ``replayed`` (this exact signed request was already accepted; a
    carrier retry of a delivered webhook also lands here, and is safe to acknowledge).
    """

    retryable = False

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason


class TelnyxVerifier:
    """Verifies webhooks for one Telnyx public key and remembers what it accepted.

    Invariant: a pair is forgotten only once it can no longer pass the freshness check.
    The horizon (latest ``now`` seen minus the tolerance) never moves back, so a clock that
    steps backwards cannot revive a forgotten pair.
    """

    def __init__(self, public_key_b64: str, *, tolerance_s: float = 300.0) -> None:
        raw = _b64(public_key_b64)
        if raw is None or len(raw) != 32:
            raise ValueError("Telnyx public key must be base64 of 32 raw Ed25519 bytes")
        if not tolerance_s > 0:
            raise ValueError(f"tolerance_s must be positive, got {tolerance_s}")
        self._key = Ed25519PublicKey.from_public_bytes(raw)
        self._tolerance = tolerance_s
        self._horizon = float("-inf")
        self._seen: set[tuple[int, bytes]] = set()
        self._expiry: list[tuple[int, bytes]] = []  # min-heap by timestamp, mirrors _seen

    @property
    def remembered(self) -> int:
        """How many accepted requests are held for replay detection (bounded by the window)."""
        return len(self._seen)

    def verify(
        self, body: bytes, *, signature: str | None, timestamp: str | None, now: float
    ) -> None:
        """Accept ``body`` or raise :class:`TelnyxSignatureError`; ``now`` is Unix seconds."""
        if not signature:
            raise TelnyxSignatureError("missing", f"no {SIGNATURE_HEADER} header")
        if not timestamp:
            raise TelnyxSignatureError("missing", f"no {TIMESTAMP_HEADER} header")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise TelnyxSignatureError("malformed", f"timestamp {timestamp[:20]!r}")
        sig = _b64(signature)
        if sig is None or len(sig) != 64:
            raise TelnyxSignatureError("malformed", "signature is not base64 of 64 bytes")
        ts = int(timestamp)
        self._forget(now)
        # Checked before the (costlier) signature so old junk is cheap to refuse.
        if abs(now - ts) > self._tolerance or ts < self._horizon:
            raise TelnyxSignatureError("stale", f"timestamp {ts} is too far from now ({now})")
        try:
            self._key.verify(sig, f"{timestamp}|".encode() + body)
        except InvalidSignature:
            raise TelnyxSignatureError("mismatch", "signature does not verify") from None
        # Remembered only after it verified: a forged pair must not block the genuine one.
        entry = (ts, sig)
        if entry in self._seen:
            raise TelnyxSignatureError("replayed", f"request signed at {ts} already accepted")
        self._seen.add(entry)
        heapq.heappush(self._expiry, entry)

    def release(self, *, signature: str, timestamp: str) -> None:
        """Forget an accepted delivery whose handling failed: if the carrier redelivers it
        with the same headers, it is not a replay but the retry we asked for."""
        sig = _b64(signature)
        if sig is not None and _TIMESTAMP.fullmatch(timestamp):
            self._seen.discard((int(timestamp), sig))

    def _forget(self, now: float) -> None:
        self._horizon = max(self._horizon, now - self._tolerance)
        while self._expiry and self._expiry[0][0] < self._horizon:
            self._seen.discard(heapq.heappop(self._expiry))


def sign(private_key: Ed25519PrivateKey, body: bytes, timestamp: int) -> str:
    """The ``telnyx-signature-ed25519`` value Telnyx would send (carrier emulator, tests)."""
    return base64.b64encode(private_key.sign(f"{timestamp}|".encode() + body)).decode("ascii")


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """The public key as Telnyx shows it in the portal: base64 of the raw 32 bytes."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters in a str
        return None
