"""The SIP listener (asyncio adapter): one UDP socket, the sans-IO endpoint, the calls.

One loop reads datagrams and the endpoint's timers (retransmissions) and carries out
what the endpoint says: send a message, start a call, pass a dialog event to its call,
log a bad datagram. Each call runs as a task of the server's TaskGroup; a call that
fails is logged with its id and ends alone, never the listener.

A new INVITE is answered 404 when no business owns the dialled number (the Request-URI's
user part, else the To header's), 488 when its SDP offers no PCMU audio; otherwise the
call row is created (carrier ``sip``, the SIP Call-ID as the carrier's id), an RTP port
opened, and the call answered with 200 OK and our SDP.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from frontdesk.runtime import OpenCall, Runtime
from frontdesk.telephony.sip.call import SipCall
from frontdesk.telephony.sip.dialog import DialogState
from frontdesk.telephony.sip.endpoint import (
    BadMessage,
    DialogEvent,
    EndpointOutput,
    IncomingCall,
    SipEndpoint,
)
from frontdesk.telephony.sip.headers import SipUri, addr_uri
from frontdesk.telephony.sip.media import RtpSession
from frontdesk.telephony.sip.message import SipParseError
from frontdesk.telephony.sip.sdp import (
    NoCommonCodec,
    SdpError,
    SdpOffer,
    answer,
    parse_offer,
    select,
)
from frontdesk.telephony.sip.uas import Address, Output, Send, Timers, UasDialog

__all__ = ["SipConfig", "SipConfigError", "SipServer", "caller_number", "dialled_numbers"]

log = logging.getLogger(__name__)
_CARRIER_ID_MAX = 64  # the store's column width


class SipConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SipConfig:
    host: str = "127.0.0.1"
    port: int = 5060
    public_host: str | None = None  # for Contact and SDP when ``host`` is a wildcard
    # no RTP this long: the line is dead (None: the profile's ``engine.media_timeout_ms``)
    media_timeout_s: float | None = None
    stop_grace_s: float = 5.0  # on stop, how long calls may take to hang up
    timers: Timers = field(default_factory=Timers)

    @classmethod
    def from_listen(cls, listen: str) -> SipConfig:
        """``HOST:PORT`` (``[::1]:5060`` for IPv6)."""
        host, sep, port = listen.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise SipConfigError(f"--sip wants HOST:PORT, got {listen!r}")
        return cls(host=host, port=int(port))


class _Stop:
    """Queued when the server is told to stop."""


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[tuple[bytes, Address] | None | _Stop]) -> None:
        self._queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._queue.put_nowait((data, (str(addr[0]), int(str(addr[1])))))

    def error_received(self, exc: Exception) -> None:
        log.debug("sip socket: %s", exc)


class SipServer:
    def __init__(self, runtime: Runtime, config: SipConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.calls: dict[str, SipCall] = {}  # by SIP Call-ID
        # told of each call once its engine call is open (e.g. to watch its event bus)
        self.on_open: Callable[[SipCall, OpenCall], None] | None = None
        self.address: Address | None = None  # where we listen, once started
        self.finished: collections.deque[str] = collections.deque(maxlen=1000)  # call ids
        self._finished_changed = asyncio.Condition()
        self._inbox: asyncio.Queue[tuple[bytes, Address] | None | _Stop] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()  # one per incoming call
        self._stopping = False
        self._transport: asyncio.DatagramTransport | None = None
        self._tg: asyncio.TaskGroup | None = None
        self.endpoint = SipEndpoint((config.host, config.port), config.timers)

    async def run(self, started: asyncio.Event | None = None,
                  stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or until cancelled, which drops every call at once).

        On ``stop`` new INVITEs get 503 and each call in progress ends as a dropped line:
        the caller gets our BYE and the call engine a ``HangupIn(dropped=True)``, so a
        task left unfinished is kept in the caller's session for a ring-back. Calls still
        running ``stop_grace_s`` later are cancelled."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Inbox(self._inbox), local_addr=(self.config.host, self.config.port))
        self._transport = transport
        host, port = transport.get_extra_info("sockname")[:2]
        self.address = address = (str(host), int(port))
        self.endpoint.local = address
        self.endpoint.local_for = lambda peer: (self._public_host(peer[0]), address[1])
        log.info("sip: listening on udp %s:%s", *self.address)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                if stop is not None:
                    tg.create_task(self._stop_on(stop))
                if started is not None:
                    started.set()
                await self._serve(loop)
                for task in self._tasks:  # past the grace period
                    task.cancel()
        finally:
            transport.close()

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        give_up_at: float | None = None
        while give_up_at is None or (self._tasks and loop.time() < give_up_at):
            deadline = self.endpoint.next_deadline()
            if give_up_at is not None:
                deadline = give_up_at if deadline is None else min(deadline, give_up_at)
            item: tuple[bytes, Address] | None | _Stop = None
            try:
                async with asyncio.timeout_at(deadline):
                    item = await self._inbox.get()
            except TimeoutError:
                pass
            now = loop.time()
            if isinstance(item, _Stop) and give_up_at is None:
                give_up_at = now + self.config.stop_grace_s
                self._stopping = True
                for call in self.calls.values():
                    call.stop()
                continue
            outputs = self.endpoint.on_timer(now)
            if isinstance(item, tuple):
                outputs += self.endpoint.receive(item[0], item[1], now)
            self._carry_out(outputs)

    async def _stop_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._inbox.put_nowait(_Stop())

    async def wait_finished(self, count: int = 1) -> list[str]:
        """The ids of the first ``count`` calls whose rows are final (for tests, ops)."""
        async with self._finished_changed:
            await self._finished_changed.wait_for(lambda: len(self.finished) >= count)
            return list(self.finished)[:count]

    # -- signalling ------------------------------------------------------------------

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._inbox.put_nowait(None)  # wake the loop: stopping may wait for this one

    def _emit(self, outputs: list[Output]) -> None:
        self._carry_out(outputs)
        self._inbox.put_nowait(None)  # wake the loop: the timers may have changed

    def _carry_out(self, outputs: Sequence[EndpointOutput | Output]) -> None:
        assert self._tg is not None and self._transport is not None
        for item in outputs:
            match item:
                case Send(message=message, to=to):
                    self._transport.sendto(bytes(message), to)
                case IncomingCall(dialog=dialog) if self._stopping:
                    self._carry_out(dialog.reject(503, "Service Unavailable"))
                case IncomingCall(dialog=dialog):
                    task = self._tg.create_task(self._incoming(dialog))
                    self._tasks.add(task)
                    task.add_done_callback(self._call_done)
                case DialogEvent(call_id=call_id, event=event):
                    call = self.calls.get(call_id)
                    if call is not None:
                        call.on_event(event)
                case BadMessage(reason=reason, call_id=call_id, status=status):
                    log.warning("sip: bad datagram (call-id %s, answered %s): %s",
                                call_id, status, reason)
                    bad_call = self.calls.get(call_id or "")
                    if bad_call is not None:  # the call waits for it before it is final
                        task = self._tg.create_task(bad_call.note(
                            "sip.protocol_error", {"status": status, "reason": reason}))
                        bad_call.writes.add(task)
                        task.add_done_callback(bad_call.writes.discard)
                case _:  # the dialog's own events arrive wrapped in DialogEvent
                    pass

    # -- one call --------------------------------------------------------------------

    async def _incoming(self, dialog: UasDialog) -> None:
        try:
            await self._take(dialog)
        except Exception:  # the edge: one broken call must not take the listener down
            log.exception("sip call %s failed", dialog.call_id)
            if dialog.state is DialogState.EARLY:
                self._emit(dialog.reject(500, "Server Internal Error"))
            elif dialog.can_hang_up:
                self._emit(dialog.hangup(asyncio.get_running_loop().time()))

    async def _take(self, dialog: UasDialog) -> None:
        """Refuse the INVITE (404, 488, 482) or answer it and run the call."""
        invite = dialog.invite
        dialled = dialled_numbers(invite.uri, invite.need("To"))
        registry = self.runtime.registry
        found = next(((n, p) for n in dialled if (p := registry.get_by_number(n)) is not None),
                     None)
        if found is None:
            log.info("sip: no business answers %s", dialled[0] if dialled else invite.uri)
            self._emit(dialog.reject(404, "Not Found"))
            return
        try:
            offer = parse_offer(invite.body)
            select(offer)
        except (NoCommonCodec, SdpError) as error:
            log.info("sip: call %s refused: %s", dialog.call_id, error)
            self._emit(dialog.reject(488, "Not Acceptable Here"))
            return
        to_number, profile = found
        business = self.runtime.store.for_business(profile.business.id)
        record, created = await asyncio.to_thread(
            business.open_carrier_call, caller_number(invite.need("From")), to_number,
            carrier="sip", carrier_call_id=dialog.call_id[:_CARRIER_ID_MAX])
        if not created or not await asyncio.to_thread(business.claim_call, record.id):
            self._emit(dialog.reject(482, "Loop Detected"))  # a Call-ID seen before
            return
        media_timeout_s = (self.config.media_timeout_s
                           or profile.engine.media_timeout_ms / 1000)
        call = SipCall(self.runtime, business, record, dialog, self._emit, media_timeout_s,
                       self.on_open)
        try:
            await self._answer(call, offer)
        finally:
            self.calls.pop(dialog.call_id, None)
            for write in list(call.writes):
                await write
            async with self._finished_changed:
                self.finished.append(record.id)
                self._finished_changed.notify_all()

    async def _answer(self, call: SipCall, offer: SdpOffer) -> None:
        dialog, record = call.dialog, call.record
        media = await RtpSession.open(self.config.host, call.inbound.put_nowait)
        try:
            agreed = answer(offer, local_address=dialog.local[0], local_port=media.port,
                            session_id=secrets.randbelow(2**31))
            media.negotiated((agreed.remote_address, agreed.remote_port), agreed.dtmf_payload)
            if dialog.state is not DialogState.EARLY:  # cancelled while we got ready
                await asyncio.to_thread(call.business.end_call, record.id, status="canceled",
                                        end_reason="caller_cancel")
                return
            if self._stopping:
                self._emit(dialog.reject(503, "Service Unavailable"))
                await asyncio.to_thread(call.business.end_call, record.id, status="failed",
                                        end_reason="server_stopping")
                return
            self.calls[dialog.call_id] = call
            self._emit(dialog.answer(agreed.body, asyncio.get_running_loop().time()))
            await call.note("sip.answered", {"rtp_port": media.port,
                                             "dtmf_payload": agreed.dtmf_payload})
            await call.run(media)
        finally:
            media.close()

    def _public_host(self, peer: str) -> str:
        """The address the peer should reach us at (Contact, SDP ``c=``)."""
        if self.config.public_host:
            return self.config.public_host
        host = self.address[0] if self.address else self.config.host
        try:
            wildcard = ipaddress.ip_address(host).is_unspecified
        except ValueError:  # a name
            wildcard = False
        if not wildcard:
            return host
        family = socket.AF_INET6 if ":" in peer else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:  # no packet is sent
            probe.connect((peer, 9))
            return str(probe.getsockname()[0])


def _user(uri: str) -> str:
    """The number (user part) of a SIP or tel URI; "" if there is none."""
    if uri[:4].lower() == "tel:":
        return uri[4:].split(";", 1)[0]
    try:
        return SipUri.parse(uri).user
    except SipParseError:
        return ""


def dialled_numbers(request_uri: str, to: str) -> list[str]:
    """Candidate dialled numbers: the Request-URI's user, then To's (with a ``+`` added
    to a bare digit string, as trunks often drop it)."""
    found: list[str] = []
    for uri in (request_uri, _address_or_empty(to)):
        user = _user(uri)
        for candidate in (user, f"+{user}" if user.isdigit() else ""):
            if candidate and candidate not in found:
                found.append(candidate)
    return found


def caller_number(from_: str) -> str:
    return _user(_address_or_empty(from_)) or "anonymous"


def _address_or_empty(value: str) -> str:
    try:
        return addr_uri(value)
    except SipParseError:
        return ""
