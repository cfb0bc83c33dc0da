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
    pass


Inbound = AudioIn | DtmfIn | HangupIn
