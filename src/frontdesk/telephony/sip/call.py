"""One answered SIP call bridged to the call engine (the per-call asyncio adapter).

The server owns the signalling socket and feeds this call its dialog's events; this
object owns the call's RTP session and its engine call. How the line ends decides what
the engine is told, and so whether the caller's session is kept for a ring-back:

* the caller's BYE → ``HangupIn()``: the caller hung up (``continuity.leave`` marks the
  session dropped if a task, e.g. a booking, was unfinished);
* no RTP for ``media_timeout_s`` → ``HangupIn(dropped=True)``, and we send BYE;
* the agent ends the call → the last words play out, then REFER (a transfer) and BYE.

Protocol trouble is recorded on the call as events (status and reason, never payload).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from frontdesk.call.events import CallEnded, ClearAudio, EndReason, TransferRequested
from frontdesk.call.inbound import HangupIn, Inbound
from frontdesk.runtime import OpenCall, Runtime
from frontdesk.store import BusinessStore, CallRecord
from frontdesk.telephony.sip.headers import SipUri
from frontdesk.telephony.sip.media import RtpSession
from frontdesk.telephony.sip.uas import (
    AckTimedOut,
    Cancelled,
    Confirmed,
    Event,
    Output,
    RemoteHangup,
    RequestAnswered,
    TransferProgress,
    UasDialog,
)

log = logging.getLogger(__name__)

REFER_WAIT_S = 4.0  # how long the transferred leg may take to report before we hang up


@dataclass
class SipCall:
    runtime: Runtime
    business: BusinessStore
    record: CallRecord
    dialog: UasDialog
    emit: Callable[[list[Output]], None]  # signalling out, through the server
    media_timeout_s: float
    on_open: Callable[[SipCall, OpenCall], None] | None = None  # observers (tests, ops)
    inbound: asyncio.Queue[Inbound] = field(default_factory=asyncio.Queue)
    # event writes the server started for this call (protocol errors): done before it ends
    writes: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.media: RtpSession | None = None
        self._confirmed = False
        self._settled = asyncio.Event()  # ACKed, or ended before it was
        self._answers: asyncio.Queue[Event] = asyncio.Queue()
        self._remote_bye = False
        self._transfer_to: str | None = None

    def on_event(self, event: Event) -> None:
        """A dialog event, from the server's signalling loop."""
        match event:
            case Confirmed():
                self._confirmed = True
                self._settled.set()
            case RemoteHangup():
                self._remote_bye = True
                if self.media is not None:
                    self.media.output.close()  # nobody is listening any more
                self.inbound.put_nowait(HangupIn())
                self._answers.put_nowait(event)  # whatever we waited for, it won't come
                self._settled.set()
            case Cancelled() | AckTimedOut():
                self.inbound.put_nowait(HangupIn(dropped=True))
                self._settled.set()
            case RequestAnswered() | TransferProgress():
                self._answers.put_nowait(event)

    def stop(self) -> None:
        """The server is stopping: end the call as a dropped line (we send BYE)."""
        self.inbound.put_nowait(HangupIn(dropped=True))
        self._settled.set()

    async def run(self, media: RtpSession) -> None:
        self.media = media
        try:
            await self._run(media)
        finally:
            media.close()
        if media.bad_packets:  # how many, never what they held
            await self.note("rtp.bad_packets", {"count": media.bad_packets})

    async def _run(self, media: RtpSession) -> None:
        await self._settled.wait()  # the dialog gives up on a missing ACK by itself
        if not self._confirmed:
            if self.dialog.can_hang_up:  # answered, never ACKed, and we are stopping
                self.emit(self.dialog.hangup(asyncio.get_running_loop().time()))
            await asyncio.to_thread(self.business.end_call, self.record.id, status="failed",
                                    end_reason="not_confirmed")
            await self.note("sip.not_confirmed", {})
            return
        media.last_packet_at = asyncio.get_running_loop().time()
        opened = await self.runtime.open_call(
            to_number=self.record.to_number, from_number=self.record.from_number,
            output=media.output, call_id=self.record.id)
        opened.bus.subscribe(TransferRequested, self._on_transfer)
        opened.bus.subscribe(ClearAudio, self._on_clear)
        if self.on_open is not None:
            self.on_open(self, opened)
        async with asyncio.TaskGroup() as tg:
            watchdog = tg.create_task(self._watch_media(media))
            ended = await opened.run(self._caller())
            watchdog.cancel()
            await self._finish(ended, media)

    async def _caller(self) -> AsyncIterator[Inbound]:
        while True:
            item = await self.inbound.get()
            yield item
            if isinstance(item, HangupIn):
                return

    async def _watch_media(self, media: RtpSession) -> None:
        """No RTP for ``media_timeout_s``: the line is dead (a crashed phone, a lost
        route), though nobody hung up."""
        loop = asyncio.get_running_loop()
        while True:
            silent_for = loop.time() - media.last_packet_at
            if silent_for >= self.media_timeout_s:
                log.warning("call %s: no RTP for %.1f s", self.record.id, silent_for)
                await self.note("sip.media_timeout", {"seconds": round(silent_for, 1)})
                self.inbound.put_nowait(HangupIn(dropped=True))
                return
            await asyncio.sleep(self.media_timeout_s - silent_for)

    def _on_transfer(self, event: TransferRequested) -> None:
        self._transfer_to = event.number

    def _on_clear(self, _: ClearAudio) -> None:
        self._transfer_to = None  # the caller spoke over the announcement: not transferred

    async def _finish(self, ended: CallEnded, media: RtpSession) -> None:
        if not self.dialog.can_hang_up:
            if self._remote_bye:
                await self.note("sip.bye", {})  # the caller's BYE ended it
            return
        data: dict[str, Any] = {}
        if ended.reason is EndReason.AGENT_HANGUP:
            await media.output.drain()  # the goodbye is heard before the line goes
            if self._transfer_to:
                await self._transfer(self._transfer_to)
        else:
            data["reason"] = ended.reason.value
        if not self.dialog.can_hang_up:  # the caller hung up meanwhile
            return
        self.emit(self.dialog.hangup(asyncio.get_running_loop().time()))
        answer = await self._final("BYE")
        data.update(status=answer.status if answer else None)
        await self.note("sip.hangup", data)

    async def _transfer(self, number: str) -> None:
        """Blind transfer (RFC 3515): REFER the caller's side to ``number``, wait a little
        for the new leg's outcome, then hang up our leg either way."""
        host = SipUri.parse(self.dialog.remote_target).host
        target = f"sip:{number}@{host}"
        self.emit(self.dialog.refer(target, asyncio.get_running_loop().time()))
        data: dict[str, Any] = {"to": number, "refer_to": target}
        answer = await self._final("REFER")
        data["status"] = answer.status if answer else None
        if answer is not None and answer.status < 300:
            try:
                async with asyncio.timeout(REFER_WAIT_S):
                    while True:
                        item = await self._answers.get()
                        if isinstance(item, RemoteHangup):
                            break
                        if isinstance(item, TransferProgress):
                            data["notify"] = item.status
                            if item.status >= 200:
                                break
            except TimeoutError:
                pass  # the NOTIFY is optional (Refer-Sub: false, or a slow leg)
        ok = answer is not None and answer.status < 300
        await self.note("sip.transfer" if ok else "sip.transfer_failed", data)

    async def _final(self, method: str) -> RequestAnswered | None:
        """The peer's final answer to our ``method`` (the dialog times out with 408)."""
        while True:
            item = await self._answers.get()
            if isinstance(item, RequestAnswered) and item.method == method:
                return item
            if isinstance(item, RemoteHangup):
                return None

    async def note(self, kind: str, data: dict[str, Any]) -> None:
        await asyncio.to_thread(self.business.add_call_event, self.record.id, kind, data)
