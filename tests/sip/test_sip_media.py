"""Agent audio out as RTP (paced, numbered, marked) and caller RTP in (audio, DTMF)."""

from __future__ import annotations

import asyncio
import contextlib

from frontdesk.audio import FRAME_BYTES
from frontdesk.call.inbound import AudioIn, DtmfIn, Inbound
from frontdesk.telephony.codec import PhoneAudio
from frontdesk.telephony.sip.media import RtpOutput, RtpSession
from frontdesk.telephony.sip.rtp import DtmfEvent, RtpPacket


async def test_frames_go_out_as_numbered_pcmu_packets_at_line_pace() -> None:
    sent: list[bytes] = []
    output = RtpOutput(sent.append, PhoneAudio(), lead_frames=1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(6):
        await output.write(bytes(FRAME_BYTES))
    assert loop.time() - began >= 0.08  # 6 frames, at most one ahead: >= 4 x 20 ms waited
    packets = [RtpPacket.parse(p) for p in sent]
    assert [p.payload_type for p in packets] == [0] * 6
    assert all(len(p.payload) == 160 for p in packets)
    first = packets[0]
    assert [(p.sequence - first.sequence) & 0xFFFF for p in packets] == list(range(6))
    assert [(p.timestamp - first.timestamp) & 0xFFFFFFFF for p in packets] == [
        160 * i for i in range(6)]
    assert [p.marker for p in packets] == [True] + [False] * 5  # one talkspurt
    assert output.clear() == 0  # sent packets play: none is taken back
    await output.write(bytes(FRAME_BYTES))
    assert RtpPacket.parse(sent[-1]).marker  # a new talkspurt after the clear


async def test_a_closed_output_sends_nothing_and_claims_nothing() -> None:
    sent: list[bytes] = []
    output = RtpOutput(sent.append, PhoneAudio())
    output.close()
    writer = asyncio.ensure_future(output.write(bytes(FRAME_BYTES)))
    await asyncio.sleep(0)
    assert not writer.done() and sent == []  # it waits to be cancelled
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer


async def test_caller_rtp_becomes_frames_and_key_presses() -> None:
    got: list[Inbound] = []
    session = await RtpSession.open("127.0.0.1", got.append)
    try:
        session.negotiated(("127.0.0.1", 9), 101)
        source = ("127.0.0.1", 40000)
        session.datagram_received(bytes(RtpPacket(0, 1, 160, 7, b"\xff" * 160)), source)
        for _ in range(3):  # the end packet, sent three times: one key press
            event = DtmfEvent(11, True, 10, 800)
            session.datagram_received(bytes(RtpPacket(101, 2, 320, 7, bytes(event))), source)
        session.datagram_received(bytes(RtpPacket(13, 3, 480, 7, b"\x00")), source)  # CN
        session.datagram_received(b"\x00junk", source)
        audio, key = got
        assert isinstance(audio, AudioIn) and len(audio.frame) == FRAME_BYTES
        assert key == DtmfIn("#")
        assert session.remote == source  # symmetric RTP: we answer where it comes from
        assert (session.received, session.bad_packets) == (5, 1)
    finally:
        session.close()
