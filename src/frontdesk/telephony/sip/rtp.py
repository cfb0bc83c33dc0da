"""RTP packets (RFC 3550 §5.1) and RFC 4733 telephone events, sans-IO.

:class:`RtpPacket` is the fixed header plus payload (CSRCs and a header extension are
read past, padding removed). :class:`DtmfReceiver` turns telephone-event packets into
digits: one digit per event, reported on the first packet seen for it, whatever order
the start, update and (thrice sent, RFC 4733 §2.5.1.4) end packets arrive in. An event
is keyed by (SSRC, RTP timestamp): every packet of one event carries its start time.
"""

from __future__ import annotations

import collections
import struct
from dataclasses import dataclass

__all__ = ["DtmfEvent", "DtmfReceiver", "RtpError", "RtpPacket"]

_HEADER = struct.Struct("!BBHII")
EVENT_DIGITS = "0123456789*#ABCD"


class RtpError(ValueError):
    """Not an RTP packet we can read (the peer's fault; the packet is dropped)."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < _HEADER.size:
            raise RtpError(f"{len(data)} bytes is shorter than an RTP header")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != 2:
            raise RtpError(f"RTP version {first >> 6}, not 2")
        offset = _HEADER.size + 4 * (first & 0x0F)  # CSRC list
        if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
            if len(data) < offset + 4:
                raise RtpError("truncated header extension")
            (words,) = struct.unpack_from("!H", data, offset + 2)
            offset += 4 + 4 * words
        end = len(data)
        if first & 0x20:  # padding: the last byte counts the padding bytes
            end -= data[-1] if data else 0
        if offset > end:
            raise RtpError("header longer than the packet")
        return cls(second & 0x7F, sequence, timestamp, ssrc, bytes(data[offset:end]),
                   bool(second & 0x80))

    def __bytes__(self) -> bytes:
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _HEADER.pack(0x80, second, self.sequence & 0xFFFF,
                            self.timestamp & 0xFFFFFFFF, self.ssrc) + self.payload


@dataclass(frozen=True)
class DtmfEvent:
    """One RFC 4733 §2.3 payload: event code, end bit, volume (-dBm0), duration."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> DtmfEvent:
        if len(payload) < 4:
            raise RtpError(f"telephone-event payload of {len(payload)} bytes")
        event, flags, duration = struct.unpack_from("!BBH", payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return struct.pack("!BBH", self.event, flags, self.duration)

    @property
    def digit(self) -> str | None:
        return EVENT_DIGITS[self.event] if self.event < len(EVENT_DIGITS) else None


class DtmfReceiver:
    """Digits from telephone-event packets, each event reported once.

    Remembers the last ``memory`` events it reported, so the end packet's repeats and a
    late retransmission of any of them are ignored."""

    def __init__(self, memory: int = 32) -> None:
        self._seen: collections.deque[tuple[int, int]] = collections.deque(maxlen=memory)

    def receive(self, packet: RtpPacket) -> str | None:
        event = DtmfEvent.parse(packet.payload)
        key = (packet.ssrc, packet.timestamp)
        if key in self._seen:
            return None
        self._seen.append(key)
        return event.digit  # None for events we don't map (flash, tones): still deduped
