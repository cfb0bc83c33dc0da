"""One call's RTP, asyncio side: a UDP socket, caller audio in, agent audio out at 20 ms.

Incoming PCMU becomes engine frames through the call's :class:`PhoneAudio`, incoming
telephone-events become key presses (each event once, see ``rtp.DtmfReceiver``); other
payloads (comfort noise, ...) are ignored and packets that do not parse are counted and
dropped. We send from the socket we receive on and answer to where the caller's RTP
actually comes from once it does (symmetric RTP, RFC 4961), which gets through NAT.

:class:`RtpOutput` is the engine's ``AudioOutput``: one PCMU packet per 20 ms frame on an
absolute monotonic schedule, at most ``lead_frames`` ahead of real time, so ``clear``
(barge-in) has almost nothing in flight to take back, and :meth:`RtpOutput.drain` knows
when the last frame has played.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import cast

from frontdesk.audio import FRAME_MS
from frontdesk.call.inbound import AudioIn, DtmfIn, Inbound
from frontdesk.telephony.codec import LINE_FRAME_BYTES, PhoneAudio
from frontdesk.telephony.sip.rtp import DtmfReceiver, RtpError, RtpPacket
from frontdesk.telephony.sip.sdp import PCMU

__all__ = ["RtpOutput", "RtpSession"]

_FRAME_S = FRAME_MS / 1000
Address = tuple[str, int]


class RtpSession(asyncio.DatagramProtocol):
    def __init__(self, deliver: Callable[[Inbound], None]) -> None:
        self.remote: Address | None = None  # from the SDP offer, then the RTP's source
        self.codec = PhoneAudio()
        self.output = RtpOutput(self._send, self.codec)
        self._dtmf_payload: int | None = None
        self._dtmf = DtmfReceiver()
        self._deliver = deliver
        self._transport: asyncio.DatagramTransport | None = None
        self.last_packet_at = asyncio.get_running_loop().time()
        self.received = 0
        self.bad_packets = 0

    @classmethod
    async def open(cls, host: str, deliver: Callable[[Inbound], None]) -> RtpSession:
        """Bind an ephemeral UDP port on ``host``; :meth:`negotiated` says where to send."""
        loop = asyncio.get_running_loop()
        _, session = await loop.create_datagram_endpoint(lambda: cls(deliver),
                                                         local_addr=(host, 0))
        return session

    def negotiated(self, remote: Address, dtmf_payload: int | None) -> None:
        self.remote = remote
        self._dtmf_payload = dtmf_payload

    @property
    def port(self) -> int:
        assert self._transport is not None
        return int(self._transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            packet = RtpPacket.parse(data)
            self.last_packet_at = asyncio.get_running_loop().time()
            self.received += 1
            self.remote = (str(addr[0]), int(str(addr[1])))  # symmetric RTP: answer there
            if packet.payload_type == PCMU:
                for frame in self.codec.decode(packet.payload):
                    self._deliver(AudioIn(frame))
            elif packet.payload_type == self._dtmf_payload:
                digit = self._dtmf.receive(packet)
                if digit is not None:
                    self._deliver(DtmfIn(digit))
        except RtpError:
            self.bad_packets += 1

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable while the caller's port is not up yet: keep going

    def _send(self, data: bytes) -> None:
        if (self._transport is not None and self.remote is not None
                and not self._transport.is_closing()):
            self._transport.sendto(data, self.remote)

    def close(self) -> None:
        self.output.close()
        if self._transport is not None:
            self._transport.close()


class RtpOutput:
    """Agent audio as PCMU RTP, paced in real time."""

    def __init__(self, send: Callable[[bytes], None], codec: PhoneAudio, *,
                 lead_frames: int = 2) -> None:
        self._send = send
        self._codec = codec
        self._lead = lead_frames * _FRAME_S
        self._next_due: float | None = None
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._closed = False
        self.sent = 0

    async def write(self, frame: bytes) -> None:
        if self._closed:
            await asyncio.Future()  # the line is gone: wait to be cancelled, claim nothing
        loop = asyncio.get_running_loop()
        now = loop.time()
        marker = False
        if self._next_due is None or self._next_due < now - _FRAME_S:
            if self._next_due is not None:  # the timestamp runs on through the silence
                idle = max(0, round((now - self._next_due) / _FRAME_S))
                self._timestamp += idle * LINE_FRAME_BYTES
            self._next_due, marker = now, True  # a new talkspurt (RFC 3551 §4.1)
        delay = self._next_due - now - self._lead
        if delay > 0:
            await asyncio.sleep(delay)
        if self._closed:
            await asyncio.Future()
        self._next_due += _FRAME_S
        packet = RtpPacket(PCMU, self._sequence, self._timestamp, self._ssrc,
                           self._codec.encode(frame), marker)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + LINE_FRAME_BYTES) & 0xFFFFFFFF
        self._send(bytes(packet))
        self.sent += 1

    def clear(self) -> int:
        """Start the next reply afresh. Nothing is taken back: a frame is sent only when
        it is (nearly) due, and a sent RTP packet will play, so it counts as heard."""
        self._next_due = None
        self._codec.reset_output()
        return 0

    async def drain(self) -> None:
        """Return once the last frame sent has had its 20 ms on the line."""
        if self._next_due is not None and not self._closed:
            await asyncio.sleep(max(0.0, self._next_due - asyncio.get_running_loop().time()))

    def close(self) -> None:
        self._closed = True
