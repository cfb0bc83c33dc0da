"""Telnyx Ed25519 webhook signatures: authenticity, freshness and replay, on an injected clock."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from frontdesk.telephony.telnyx.signature import (
    TelnyxSignatureError,
    TelnyxVerifier,
    public_key_b64,
    sign,
)

T0 = 1_700_000_000
BODY = b'{"data":{"event_type":"call.initiated","payload":{"call_control_id":"v3:abc"}}}'


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def verifier(key: Ed25519PrivateKey) -> TelnyxVerifier:
    return TelnyxVerifier(public_key_b64(key))


def reason_of(
    verifier: TelnyxVerifier, body: bytes, signature: str | None, timestamp: str | None,
    now: float,
) -> str:
    with pytest.raises(TelnyxSignatureError) as info:
        verifier.verify(body, signature=signature, timestamp=timestamp, now=now)
    assert info.value.retryable is False
    return info.value.reason


def test_valid(key: Ed25519PrivateKey, verifier: TelnyxVerifier) -> None:
    verifier.verify(BODY, signature=sign(key, BODY, T0), timestamp=str(T0), now=T0 + 2.5)
    assert verifier.remembered == 1


def test_sign_matches_the_documented_construction(key: Ed25519PrivateKey) -> None:
    signature = base64.b64decode(sign(key, BODY, T0))
    assert len(signature) == 64
    key.public_key().verify(signature, f"{T0}|".encode() + BODY)  # raises if not
    assert len(base64.b64decode(public_key_b64(key))) == 32


def test_tampered_body(key: Ed25519PrivateKey, verifier: TelnyxVerifier) -> None:
    signature = sign(key, BODY, T0)
    assert reason_of(verifier, BODY.replace(b"abc", b"abd"), signature, str(T0), T0) == "mismatch"
    assert reason_of(verifier, BODY + b" ", signature, str(T0), T0) == "mismatch"


def test_tampered_timestamp(key: Ed25519PrivateKey, verifier: TelnyxVerifier) -> None:
    signature = sign(key, BODY, T0)
    assert reason_of(verifier, BODY, signature, str(T0 + 1), T0) == "mismatch"
    # Same number, other spelling: the signed bytes are the header text, not the integer.
    assert reason_of(verifier, BODY, signature, f"0{T0}", T0) == "mismatch"


def test_wrong_key(key: Ed25519PrivateKey) -> None:
    other = TelnyxVerifier(public_key_b64(Ed25519PrivateKey.generate()))
    assert reason_of(other, BODY, sign(key, BODY, T0), str(T0), T0) == "mismatch"


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_stale(key: Ed25519PrivateKey, verifier: TelnyxVerifier, offset: int) -> None:
    ts = T0 + offset
    assert reason_of(verifier, BODY, sign(key, BODY, ts), str(ts), T0) == "stale"
    assert verifier.remembered == 0


@pytest.mark.parametrize("offset", [-300, 300])
def test_exactly_at_the_tolerance_edge_is_accepted(
    key: Ed25519PrivateKey, verifier: TelnyxVerifier, offset: int
) -> None:
    ts = T0 + offset
    verifier.verify(BODY, signature=sign(key, BODY, ts), timestamp=str(ts), now=T0)
    # Half a second further from the timestamp is past the edge.
    further = T0 + 0.5 if offset < 0 else T0 - 0.5
    assert reason_of(verifier, b"{}", sign(key, b"{}", ts), str(ts), further) == "stale"


def test_custom_tolerance(key: Ed25519PrivateKey) -> None:
    verifier = TelnyxVerifier(public_key_b64(key), tolerance_s=5)
    verifier.verify(BODY, signature=sign(key, BODY, T0), timestamp=str(T0), now=T0 + 5)
    assert reason_of(verifier, b"{}", sign(key, b"{}", T0), str(T0), T0 + 5.001) == "stale"


def test_replay_rejected(key: Ed25519PrivateKey, verifier: TelnyxVerifier) -> None:
    signature = sign(key, BODY, T0)
    verifier.verify(BODY, signature=signature, timestamp=str(T0), now=T0)
    assert reason_of(verifier, BODY, signature, str(T0), T0 + 10) == "replayed"
    # Another webhook in the same second is not a replay.
    verifier.verify(b"{}", signature=sign(key, b"{}", T0), timestamp=str(T0), now=T0 + 10)


def test_forged_request_does_not_poison_replay_memory(
    key: Ed25519PrivateKey, verifier: TelnyxVerifier
) -> None:
    signature = sign(key, BODY, T0)
    # Someone sends the genuine signature with another body first: it fails and is not kept,
    assert reason_of(verifier, b"forged", signature, str(T0), T0) == "mismatch"
    assert verifier.remembered == 0
    # so the genuine delivery still goes through.
    verifier.verify(BODY, signature=signature, timestamp=str(T0), now=T0 + 1)


def test_replay_memory_is_bounded_by_the_window(
    key: Ed25519PrivateKey, verifier: TelnyxVerifier
) -> None:
    old = sign(key, BODY, T0)
    verifier.verify(BODY, signature=old, timestamp=str(T0), now=T0)
    for i in range(1, 300):
        ts = T0 + i
        verifier.verify(BODY, signature=sign(key, BODY, ts), timestamp=str(ts), now=ts)
    assert verifier.remembered == 300  # all within the window: all remembered
    for i in range(300, 1000):
        ts = T0 + i
        verifier.verify(BODY, signature=sign(key, BODY, ts), timestamp=str(ts), now=ts)
    assert verifier.remembered == 301  # ts in [now-300, now]: the window, not the history
    # The first one is forgotten, and replaying it is refused as stale anyway.
    assert reason_of(verifier, BODY, old, str(T0), T0 + 999) == "stale"


def test_clock_stepping_back_cannot_revive_a_forgotten_request(
    key: Ed25519PrivateKey, verifier: TelnyxVerifier
) -> None:
    signature = sign(key, BODY, T0)
    verifier.verify(BODY, signature=signature, timestamp=str(T0), now=T0)
    verifier.verify(b"{}", signature=sign(key, b"{}", T0 + 400), timestamp=str(T0 + 400),
                    now=T0 + 400)
    assert verifier.remembered == 1  # the T0 entry is gone
    # The clock steps back 200 s: T0 is within 300 s of "now" again, but it was forgotten,
    # so it must be refused rather than accepted a second time.
    assert reason_of(verifier, BODY, signature, str(T0), T0 + 200) == "stale"


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [
        (None, str(T0), "missing"),
        ("", str(T0), "missing"),
        ("SIG", None, "missing"),
        ("SIG", "", "missing"),
        ("not base64!!", str(T0), "malformed"),
        (base64.b64encode(b"\x00" * 63).decode(), str(T0), "malformed"),
        (base64.b64encode(b"\x00" * 65).decode(), str(T0), "malformed"),
        ("SIG", "17e8", "malformed"),
        ("SIG", "-5", "malformed"),
        ("SIG", f" {T0}", "malformed"),
        ("SIG", "١٧٠٠٠٠٠٠٠٠", "malformed"),  # Arabic-Indic digits: int() would take them
        ("SIG", "9" * 40, "malformed"),
        ("SIG", f"{T0}.5", "malformed"),
        ("é" * 88, str(T0), "malformed"),
    ],
)
def test_malformed_headers_are_typed_errors(
    key: Ed25519PrivateKey, verifier: TelnyxVerifier, signature: str | None,
    timestamp: str | None, reason: str,
) -> None:
    if signature == "SIG":
        signature = sign(key, BODY, T0)
    assert reason_of(verifier, BODY, signature, timestamp, T0) == reason


def test_zeroed_signature_of_right_length_is_a_mismatch(verifier: TelnyxVerifier) -> None:
    zeros = base64.b64encode(b"\x00" * 64).decode()
    assert reason_of(verifier, BODY, zeros, str(T0), T0) == "mismatch"


@pytest.mark.parametrize(
    "bad_key",
    ["", "not base64!!", base64.b64encode(b"\x01" * 31).decode(),
     base64.b64encode(b"\x01" * 33).decode()],
)
def test_bad_public_key_is_a_value_error(bad_key: str) -> None:
    with pytest.raises(ValueError):
        TelnyxVerifier(bad_key)


def test_nonpositive_tolerance_is_a_value_error(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError):
        TelnyxVerifier(public_key_b64(key), tolerance_s=0)


def test_a_released_delivery_can_be_redelivered_with_the_same_headers() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = TelnyxVerifier(public_key_b64(key))
    body, stamp = b'{"data": {}}', 1_800_000_000
    signature = sign(key, body, stamp)
    verifier.verify(body, signature=signature, timestamp=str(stamp), now=stamp)
    with pytest.raises(TelnyxSignatureError):
        verifier.verify(body, signature=signature, timestamp=str(stamp), now=stamp + 1)
    verifier.release(signature=signature, timestamp=str(stamp))
    verifier.verify(body, signature=signature, timestamp=str(stamp), now=stamp + 2)
