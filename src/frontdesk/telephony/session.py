"""One carrier media stream bridged to one Call (carrier-neutral asyncio adapter).

The protocol core (Twilio or Telnyx) turns text messages into typed stream events; this
adapter owns the socket for the whole stream: a *pump* task reads every message (marks
keep arriving while the agent's last words play out, after the engine stopped reading),
the :class:`CarrierOutput` sender writes ours. Carrier audio is decoded to engine frames,
DTMF becomes a key press, ``stop`` a hang-up, and a socket that closes without ``stop``,
or carries no message for the profile's ``media_timeout_ms``, a dropped call. When the
agent ends the call, the session waits until the caller has heard the last words (the
final mark), then transfers or hangs up through the carrier's REST API.

A transfer goes through the ``dial`` seam when the carrier can report its outcome (Twilio's
``<Dial action>``): a person who does not take the call hands the caller back on a new
stream, whose session is a :class:`ReturnLeg` and opens the call to take a message.

Bad messages never end a call by themselves: a non-fatal protocol error is recorded on
the call (code and reason, never the payload) and skipped; a fatal one, or too many,
closes the stream and the call is recorded as dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from frontdesk.call.escalate import after_transfer
from frontdesk.call.events import CallEnded, ClearAudio, EndReason, TransferRequested
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn, Inbound
from frontdesk.runtime import Runtime
from frontdesk.store import BusinessStore, CallRecord
from frontdesk.telephony.actions import CarrierActionError, CarrierActions
from frontdesk.telephony.codec import PhoneAudio
from frontdesk.telephony.media import (
    CarrierReported,
    DtmfReceived,
    MarkReceived,
    MediaProtocolError,
    MediaReceived,
    StreamConnected,
    StreamEvent,
    StreamStarted,
    StreamStopped,
)
from frontdesk.telephony.output import CarrierOutput, StreamWriter

log = logging.getLogger(__name__)

MAX_BAD_MESSAGES = 25  # a stream this broken is not a phone call any more
START_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 5.0


class StreamProtocol(StreamWriter, Protocol):
    def receive(self, text: str | bytes) -> list[StreamEvent]: ...


class Socket(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next message; None once the peer closed the socket."""
        ...

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class StreamClosed(Exception):
    """The stream ended before it started, or broke the protocol fatally."""


# put the live call (its row, the carrier's id for it) through to the requested person
Dial = Callable[[CallRecord, str, TransferRequested], Awaitable[None]]


@dataclass(frozen=True)
class ReturnLeg:
    """The stream brings the caller back from a transfer nobody took. The leg has a row
    of its own without a carrier id (the carrier's id is unique per row); the carrier
    still knows the call as ``carrier_call_id``, the transferred call's."""

    original_call_id: str
    carrier_call_id: str
    dial_status: str  # busy | no-answer | failed | canceled


@dataclass
class MediaSession:
    runtime: Runtime
    business: BusinessStore
    call: CallRecord
    protocol: StreamProtocol
    actions: CarrierActions | None
    socket: Socket
    dial: Dial | None = None  # a transfer that reports its outcome; None: actions.transfer
    leg: ReturnLeg | None = None

    def __post_init__(self) -> None:
        self.codec = PhoneAudio()
        self.output = CarrierOutput(self.protocol, self.codec)
        self._inbound: asyncio.Queue[Inbound] = asyncio.Queue()
        self._bad = 0
        self._stopped = False  # the carrier said "stop": the caller is gone
        self._transfer: TransferRequested | None = None
        self._carrier_id = self.call.carrier_call_id or (
            self.leg.carrier_call_id if self.leg else "")
        self._media_timeout_s = 10.0  # the profile's, once the call is open

    async def run(self) -> None:
        try:
            started = await self._await_start()
        except (StreamClosed, TimeoutError) as error:
            await self.socket.close(1008, "stream did not start")
            await asyncio.to_thread(self.business.end_call, self.call.id, status="failed",
                                    end_reason="stream_not_started")
            await self._note("stream.closed", {"reason": str(error) or "no start in time"})
            return
        await self._note("stream.started", {"stream_id": started.stream_id,
                                             "tracks": list(started.tracks)})
        after = None if self.leg is None else await after_transfer(
            self.business, self.leg.original_call_id, self.leg.dial_status)
        opened = await self.runtime.open_call(
            to_number=self.call.to_number, from_number=self.call.from_number,
            output=self.output, call_id=self.call.id, after=after)
        self._media_timeout_s = opened.profile.engine.media_timeout_ms / 1000
        opened.bus.subscribe(TransferRequested, self._on_transfer)
        opened.bus.subscribe(ClearAudio, self._on_clear)
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(self._pump())
            sender = tg.create_task(self.output.run_sender(self.socket.send))
            ended = await opened.run(self._caller())
            await self._finish(ended)
            pump.cancel()
            sender.cancel()
        await self.socket.close(1000, "call ended")

    async def _await_start(self) -> StreamStarted:
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                text = await self.socket.receive()
                if text is None:
                    raise StreamClosed("closed before start")
                try:
                    events = self.protocol.receive(text)
                except MediaProtocolError as error:
                    await self._protocol_error(error)
                    if error.fatal or self._bad > MAX_BAD_MESSAGES:
                        raise StreamClosed(f"{error.code}: {error}") from None
                    continue
                for event in events:
                    if isinstance(event, StreamStarted):
                        if event.carrier_call_id != self._carrier_id:
                            raise StreamClosed("start names another call")
                        return event
        raise AssertionError("unreachable")  # pragma: no cover

    async def _caller(self) -> AsyncIterator[Inbound]:
        while True:
            item = await self._inbound.get()
            yield item
            if isinstance(item, HangupIn):
                return

    async def _pump(self) -> None:
        """Read the socket for the life of the stream; the engine reads ``_inbound``."""
        while True:
            try:
                async with asyncio.timeout(None if self._stopped else self._media_timeout_s):
                    text = await self.socket.receive()
            except TimeoutError:  # the media path died without closing the socket
                await self._note("stream.media_timeout", {"after_ms": self._media_timeout_s * 1000})
                self.output.close()
                await self.socket.close(1011, "media timeout")
                self._inbound.put_nowait(HangupIn(dropped=True))
                return
            if text is None:
                self.output.close()
                self._inbound.put_nowait(HangupIn(dropped=not self._stopped))
                return
            try:
                events = self.protocol.receive(text)
            except MediaProtocolError as error:
                await self._protocol_error(error)
                if error.fatal or self._bad > MAX_BAD_MESSAGES:
                    self.output.close()
                    await self.socket.close(1008 if error.fatal else 1003, str(error.code))
                    self._inbound.put_nowait(HangupIn(dropped=True))
                    return
                continue
            for event in events:
                self._dispatch(event)

    def _dispatch(self, event: StreamEvent) -> None:
        match event:
            case MediaReceived(payload=payload):
                for frame in self.codec.decode(payload):
                    self._inbound.put_nowait(AudioIn(frame))
            case DtmfReceived(digit=digit):
                self._inbound.put_nowait(DtmfIn(digit))
            case MarkReceived(name=name):
                self.output.on_mark(name)
            case StreamStopped():
                self._stopped = True
                self.output.close()  # the caller is gone: nothing more can be played
                self._inbound.put_nowait(HangupIn())
            case CarrierReported(code=code, title=title):
                log.warning("call %s: carrier reported %s %s", self.call.id, code, title)
            case StreamStarted() | StreamConnected():
                pass

    def _on_transfer(self, event: TransferRequested) -> None:
        self._transfer = event

    def _on_clear(self, _: ClearAudio) -> None:
        self._transfer = None  # the caller spoke over the announcement: not transferred

    async def _finish(self, ended: CallEnded) -> None:
        """The agent ended the call: let the last words play, then act on the line."""
        if ended.reason is not EndReason.AGENT_HANGUP or self._stopped or self.actions is None:
            return
        heard = await self.output.drain(DRAIN_TIMEOUT_S)
        carrier_id = self._carrier_id
        transfer = self._transfer
        action = "transfer" if transfer else "hangup"
        data: dict[str, Any] = {"heard_all": heard}
        try:
            if transfer is not None and self.dial is not None:
                data["to"] = transfer.number
                await self.dial(self.call, carrier_id, transfer)
            elif transfer is not None:
                data["to"] = transfer.number
                await self.actions.transfer(carrier_id, transfer.number,
                                            caller_id=self.call.to_number)
            else:
                await self.actions.hangup(carrier_id)
        except CarrierActionError as error:
            log.warning("call %s: carrier %s failed: %s", self.call.id, action, error)
            data.update(error=str(error), status=error.status, retryable=error.retryable)
            await self._note(f"carrier.{action}_failed", data)
            return
        await self._note(f"carrier.{action}", data)

    async def _protocol_error(self, error: MediaProtocolError) -> None:
        self._bad += 1
        log.warning("call %s: bad media message (%s, fatal=%s): %s", self.call.id,
                    error.code, error.fatal, error)
        await self._note("stream.protocol_error",
                         {"code": str(error.code), "fatal": error.fatal, "reason": str(error)})

    async def _note(self, kind: str, data: dict[str, Any]) -> None:
        await asyncio.to_thread(self.business.add_call_event, self.call.id, kind, data)
