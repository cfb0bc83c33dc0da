"""One answered SIP call bridged to the call engine (the per-call asyncio adapter).

The server owns the signalling socket and feeds this call its dialog's events; this
object owns the call's RTP session and its engine call. How the line ends decides what
the engine is told, and so whether the caller's session is kept for a ring-back:

* the caller's BYE → ``HangupIn()``: the caller hung up (``continuity.leave`` marks the
  session dropped if a task, e.g. a booking, was unfinished);
* no RTP for ``media_timeout_s`` → ``HangupIn(dropped=True)``, and we send BYE;
* the agent ends the call → the last words play out, then REFER (a transfer) and BYE.

A transfer that fails (the REFER refused or never answered, or its NOTIFY reporting the
new leg busy, unanswered, declined) while the caller is still on the line does not end in
silence: as on Twilio, the caller is brought back on a *return leg*, a call row of its
own that the engine opens with the failed transfer's :class:`AfterTransfer` to take a
message, on the same dialog and RTP session. BYE follows when that leg ends.

Protocol trouble is recorded as call events (status and reason, never payload), on the
row of the leg the engine is on when it happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from frontdesk.call.escalate import AfterTransfer, after_transfer
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
# a failed new leg's SIP status in the words of AfterTransfer (Twilio's dial statuses):
# the person declining the call (603) is as good as busy
_DIAL_STATUS = {486: "busy", 600: "busy", 603: "busy",
                408: "no-answer", 480: "no-answer", 487: "no-answer"}


def dial_status(sip_status: int, *, refer_refused: bool) -> str:
    """The dial status a return leg is opened with. A REFER the caller's side refused (or
    never answered) is a transfer that ``failed`` whatever its code: nobody was rung."""
    return "failed" if refer_refused else _DIAL_STATUS.get(sip_status, "failed")


@dataclass
class SipCall:
    runtime: Runtime
    business: BusinessStore
    record: CallRecord  # the SIP call's row (its carrier id is the Call-ID)
    dialog: UasDialog
    emit: Callable[[list[Output]], None]  # signalling out, through the server
    media_timeout_s: float
    on_open: Callable[[SipCall, OpenCall], None] | None = None  # observers (tests, ops)
    inbound: asyncio.Queue[Inbound] = field(default_factory=asyncio.Queue)
    # event writes the server started for this call (protocol errors): done before it ends
    writes: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.media: RtpSession | None = None
        self.leg = self.record  # the row the engine is on: the record, or a return leg
        self._confirmed = False
        self._settled = asyncio.Event()  # ACKed, or ended before it was
        self._answers: asyncio.Queue[Event] = asyncio.Queue()
        self._remote_bye = False
        self._stopping = False
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
        self._stopping = True
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
        after: AfterTransfer | None = None
        while True:  # the answered call, then a return leg after each failed transfer
            ended = await self._converse(media, after)
            if not self.dialog.can_hang_up:
                if self._remote_bye:
                    await self.note("sip.bye", {})  # the caller's BYE ended it
                return
            if ended.reason is not EndReason.AGENT_HANGUP:
                await self._hang_up({"reason": ended.reason.value})
                return
            await media.output.drain()  # the goodbye is heard before the line goes
            after = await self._transfer(self._transfer_to) if self._transfer_to else None
            if after is None:
                break
        if self.dialog.can_hang_up:  # the caller may have hung up meanwhile
            await self._hang_up({})

    async def _converse(self, media: RtpSession, after: AfterTransfer | None) -> CallEnded:
        """One engine call on the line, on the row of ``self.leg``."""
        self._transfer_to = None
        if after is not None:  # what the caller said while their phone tried the transfer
            _drop_audio(self.inbound)  # is no answer to the return leg
        # the caller's phone may have held our media during the transfer: time from now
        media.last_packet_at = asyncio.get_running_loop().time()
        opened = await self.runtime.open_call(
            to_number=self.leg.to_number, from_number=self.leg.from_number,
            output=media.output, call_id=self.leg.id, after=after)
        opened.bus.subscribe(TransferRequested, self._on_transfer)
        opened.bus.subscribe(ClearAudio, self._on_clear)
        if self.on_open is not None:
            self.on_open(self, opened)
        async with asyncio.TaskGroup() as tg:
            watchdog = tg.create_task(self._watch_media(media))
            ended = await opened.run(self._caller())
            watchdog.cancel()
        return ended

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
                log.warning("call %s: no RTP for %.1f s", self.leg.id, silent_for)
                await self.note("sip.media_timeout", {"seconds": round(silent_for, 1)})
                self.inbound.put_nowait(HangupIn(dropped=True))
                return
            await asyncio.sleep(self.media_timeout_s - silent_for)

    def _on_transfer(self, event: TransferRequested) -> None:
        self._transfer_to = event.number

    def _on_clear(self, _: ClearAudio) -> None:
        self._transfer_to = None  # the caller spoke over the announcement: not transferred

    async def _hang_up(self, data: dict[str, Any]) -> None:
        self.emit(self.dialog.hangup(asyncio.get_running_loop().time()))
        answer = await self._final("BYE")
        await self.note("sip.hangup", data | {"status": answer.status if answer else None})

    async def _transfer(self, number: str) -> AfterTransfer | None:
        """Blind transfer (RFC 3515): REFER the caller's side to ``number`` and wait a
        little for the new leg's outcome. A transfer that went through, or a caller who
        is gone, returns None (we hang up); a failed one with the caller still on the line
        opens a return leg and returns what that leg is to take a message for."""
        host = SipUri.parse(self.dialog.remote_target).host
        target = f"sip:{number}@{host}"
        self.emit(self.dialog.refer(target, asyncio.get_running_loop().time()))
        data: dict[str, Any] = {"to": number, "refer_to": target}
        answer = await self._final("REFER")
        data["status"] = answer.status if answer else None
        if answer is None:  # the caller hung up first
            await self.note("sip.transfer_failed", data)
            return None
        refused = answer.status >= 300  # 408: never answered
        notify = None if refused else await self._notify()
        if notify is not None:
            data["notify"] = notify
        failed = answer.status if refused else notify
        if failed is None or failed < 300:  # the new leg answered, or did not say in time
            await self.note("sip.transfer", data)
            return None
        if not self.dialog.can_hang_up or self._stopping:  # nobody to bring back
            await self.note("sip.transfer_failed", data)
            return None
        status = dial_status(failed, refer_refused=refused)
        return await self._return_leg(data, failed, status)

    async def _notify(self) -> int | None:
        """The new leg's last reported status, once final or after ``REFER_WAIT_S``; the
        NOTIFY is optional (Refer-Sub: false, or a slow leg)."""
        status: int | None = None
        try:
            async with asyncio.timeout(REFER_WAIT_S):
                while True:
                    item = await self._answers.get()
                    if isinstance(item, RemoteHangup):
                        break
                    if isinstance(item, TransferProgress):
                        status = item.status
                        if status >= 200:
                            break
        except TimeoutError:
            pass
        return status

    async def _return_leg(self, data: dict[str, Any], sip_status: int,
                          status: str) -> AfterTransfer:
        """Open the row the caller comes back on (no carrier id: the Call-ID is the
        record's), linked both ways to the leg whose transfer failed."""
        failed = self.leg
        leg = await asyncio.to_thread(self.business.create_call, failed.from_number,
                                      failed.to_number, carrier="sip")
        log.info("call %s: transfer failed (%s), return leg %s", failed.id, sip_status, leg.id)
        await self.note("sip.transfer_failed", data | {"return_call_id": leg.id})
        after = await after_transfer(self.business, failed.id, status)
        self.leg = leg
        await self.note("sip.return_leg", {"original_call_id": failed.id,
                                           "sip_status": sip_status, "dial_status": status})
        return after

    async def _final(self, method: str) -> RequestAnswered | None:
        """The peer's final answer to our ``method`` (the dialog times out with 408)."""
        while True:
            item = await self._answers.get()
            if isinstance(item, RequestAnswered) and item.method == method:
                return item
            if isinstance(item, RemoteHangup):
                return None

    async def note(self, kind: str, data: dict[str, Any]) -> None:
        """Record a call event on the row of the leg the engine is on."""
        await asyncio.to_thread(self.business.add_call_event, self.leg.id, kind, data)


def _drop_audio(inbound: asyncio.Queue[Inbound]) -> None:
    """Empty the queue of audio and key presses; a hang-up in it stays."""
    kept = [item for item in (inbound.get_nowait() for _ in range(inbound.qsize()))
            if isinstance(item, HangupIn)]
    for item in kept:
        inbound.put_nowait(item)
