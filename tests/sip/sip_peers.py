"""A frontdesk SIP server on loopback (stub speech, energy VAD) and a raw UDP peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from frontdesk.audio import FRAME_BYTES, split_frames
from frontdesk.escalation import classify
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS, tone_utterance
from frontdesk.store import BusinessStore, open_store
from frontdesk.telephony.codec import PhoneAudio
from frontdesk.telephony.sip.server import SipConfig, SipServer
from frontdesk.telephony.sip.uas import Timers

NOW = datetime.fromisoformat("2026-11-30T10:00:00-06:00")  # Monday, open
SHOP, CALLER = "+15125550100", "+15125551234"


@dataclass
class Serving:
    runtime: Runtime
    server: SipServer
    _stop: asyncio.Event
    _task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop the server the graceful way (its calls hang up) and wait for it."""
        self._stop.set()
        async with asyncio.timeout(30):
            await self._task

    @property
    def port(self) -> int:
        assert self.server.address is not None
        return self.server.address[1]

    @property
    def shop(self) -> BusinessStore:
        return self.runtime.store.for_business("main-street-auto")


@contextlib.asynccontextmanager
async def serving(store_url: str, script: list[str], *, media_timeout_s: float | None = None,
                  timers: Timers | None = None) -> AsyncIterator[Serving]:
    # as ``frontdesk serve`` does before the first call: a model (re)trained inside a call
    # would hold up its greeting or its transfer past the sipp scenario's timeouts
    await asyncio.to_thread(classify.warm)
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(50, script), tts=StubTTS(20, ms_per_char=1),
                    new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    config = SipConfig(host="127.0.0.1", port=0, media_timeout_s=media_timeout_s,
                       timers=timers or Timers())
    server = SipServer(runtime, config)
    started, stop = asyncio.Event(), asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(server.run(started, stop))
            await started.wait()
            try:
                yield Serving(runtime, server, stop, task)
            finally:
                stop.set()  # calls still up hang up, and end before the store closes
    finally:
        await runtime.aclose()
        store.close()


def caller_audio(lines_ms: list[int], *, lead_ms: int = 800, gap_ms: int = 1200) -> bytes:
    """8 kHz mu-law for sipp's rtp_stream: silence, then each line as a tone burst
    (what the stub STT hears as the next scripted line) followed by silence."""
    silence: Callable[[int], bytes] = lambda ms: bytes(FRAME_BYTES * (ms // 20))  # noqa: E731
    pcm = silence(lead_ms) + b"".join(tone_utterance(ms) + silence(gap_ms) for ms in lines_ms)
    codec = PhoneAudio()
    return b"".join(codec.encode(frame) for frame in split_frames(pcm))


class UdpPeer(asyncio.DatagramProtocol):
    """A bare UDP socket for hand-written SIP: every datagram it gets is queued."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.received.put_nowait(data)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    async def next(self, timeout_s: float = 10.0) -> bytes:
        async with asyncio.timeout(timeout_s):
            return await self.received.get()


@contextlib.asynccontextmanager
async def udp_peer() -> AsyncIterator[UdpPeer]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    try:
        yield peer
    finally:
        transport.close()
