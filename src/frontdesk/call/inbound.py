"""What a transport hands to the Call: a closed union of inbound items."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioIn:
    frame: bytes  # one 20 ms frame, 16 kHz s16le mono (640 bytes)


@dataclass(frozen=True)
class DtmfIn:
    digit: str


@dataclass(frozen=True)
class HangupIn:
    """The line ended. ``dropped``: it broke without a hang-up from either side (a carrier
    stream closed without ``stop``, a socket reset), so the call did not end normally."""

    dropped: bool = False


Inbound = AudioIn | DtmfIn | HangupIn
