"""RTP packets and RFC 4733 telephone events, including the receiver's dedupe."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.telephony.sip.rtp import DtmfEvent, DtmfReceiver, RtpError, RtpPacket


def test_packet_round_trip() -> None:
    packet = RtpPacket(0, 65535, 2**32 - 160, 0xDEADBEEF, b"\xff" * 160, marker=True)
    data = bytes(packet)
    assert len(data) == 172 and data[:2] == b"\x80\x80"
    assert RtpPacket.parse(data) == packet


def test_csrcs_extension_and_padding_are_read_past() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 101, 7, 8000, 42)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    payload = bytes(DtmfEvent(5, True, 10, 800))
    packet = RtpPacket.parse(header + csrcs + extension + payload + b"\x00\x00\x03")
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        101, 7, 8000, 42)
    assert DtmfEvent.parse(packet.payload) == DtmfEvent(5, True, 10, 800)


@pytest.mark.parametrize("data", [
    b"", b"\x80\x00", b"\x40" + b"\x00" * 11,  # short; version 1
    struct.pack("!BBHII", 0x80 | 0x0F, 0, 0, 0, 0),  # 15 CSRCs that are not there
    struct.pack("!BBHII", 0x90, 0, 0, 0, 0) + b"\x00\x01",  # truncated extension
])
def test_bad_packets_raise(data: bytes) -> None:
    with pytest.raises(RtpError):
        RtpPacket.parse(data)


@given(st.binary(max_size=80))
def test_any_bytes_parse_or_raise_rtp_error(data: bytes) -> None:
    try:
        RtpPacket.parse(data)
    except RtpError:
        pass


def _event(digit_code: int, timestamp: int, duration: int, end: bool, ssrc: int = 1) -> RtpPacket:
    return RtpPacket(101, timestamp // 10, timestamp, ssrc,
                     bytes(DtmfEvent(digit_code, end, 10, duration)))


def test_one_digit_per_event_whatever_arrives() -> None:
    receiver = DtmfReceiver()
    # '1': start (M), updates, end x3 (RFC 4733 §2.5.1.4); then '#' whose start was lost
    stream = [_event(1, 1000, 0, False), _event(1, 1000, 160, False), _event(1, 1000, 800, True),
              _event(1, 1000, 800, True), _event(1, 1000, 800, True),
              _event(11, 5000, 800, True), _event(11, 5000, 800, True),
              _event(1, 9000, 160, False), _event(1, 9000, 800, True),  # '1' again: new event
              _event(1, 9000, 800, True, ssrc=2)]  # another source's event at the same time
    assert [d for d in map(receiver.receive, stream) if d] == ["1", "#", "1", "1"]


def test_unmapped_events_and_short_payloads() -> None:
    receiver = DtmfReceiver()
    assert receiver.receive(_event(16, 100, 0, False)) is None  # flash
    assert DtmfEvent(10, False, 0, 0).digit == "*" and DtmfEvent(15, False, 0, 0).digit == "D"
    with pytest.raises(RtpError):
        receiver.receive(RtpPacket(101, 1, 1, 1, b"\x01\x02"))
