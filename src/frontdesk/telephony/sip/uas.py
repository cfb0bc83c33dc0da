"""One inbound call's SIP dialog, sans-IO: messages and the clock in, messages and events out.

The dialog also plays the small part of the transaction layer a UAS needs over UDP:
a retransmitted request (same Via branch and method) gets the response already sent;
our 2xx to the INVITE is retransmitted at T1 doubling to T2 until the ACK (no ACK in
64·T1: the call is ended with a BYE); our BYE and REFER are retransmitted the same way
until answered (Timer E/F). Time is a parameter: ``now`` in seconds, any monotonic clock.

Where a message goes is decided here too (``Send.to``): a response to where its request
came from (symmetric, like ``rport``); our requests to the first Record-Route hop, else
the caller's Contact.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from frontdesk.telephony.sip.dialog import (
    DialogInput,
    DialogState,
    IllegalTransition,
    allowed,
    transition,
)
from frontdesk.telephony.sip.headers import (
    ALLOW,
    SipUri,
    addr_uri,
    response,
    tag_of,
    top_via_branch,
    with_tag,
)
from frontdesk.telephony.sip.message import SipMessage, SipRequest, SipResponse

__all__ = ["Address", "Event", "Send", "Timers", "UasDialog", "random_id"]

Address = tuple[str, int]


@dataclass(frozen=True)
class Timers:
    t1: float = 0.5  # RFC 3261 §17.1.1.1 round-trip estimate
    t2: float = 4.0  # cap on the retransmission interval


@dataclass(frozen=True)
class Send:
    message: SipMessage
    to: Address


@dataclass(frozen=True)
class Confirmed:
    """The caller ACKed our 200: media may flow both ways."""


@dataclass(frozen=True)
class RemoteHangup:
    """The caller sent BYE (answered with 200 already)."""


@dataclass(frozen=True)
class Cancelled:
    """The caller gave up before we answered (200 to CANCEL and 487 sent)."""


@dataclass(frozen=True)
class AckTimedOut:
    """Our 200 was never ACKed: we sent BYE."""


@dataclass(frozen=True)
class RequestAnswered:
    """The peer's final response to our BYE or REFER (408: it never answered)."""

    method: str
    status: int
    reason: str


@dataclass(frozen=True)
class TransferProgress:
    """A NOTIFY for our REFER: the status line of the transferred call (RFC 3515 §2.4.5)."""

    status: int


Event = Confirmed | RemoteHangup | Cancelled | AckTimedOut | RequestAnswered | TransferProgress
Output = Send | Event


@dataclass
class _Pending:
    """A message we retransmit until answered, or give up on at ``give_up_at``."""

    message: SipMessage
    next_at: float
    interval: float
    give_up_at: float


def random_id() -> str:
    return secrets.token_hex(8)


@dataclass
class UasDialog:
    invite: SipRequest
    source: Address  # where the INVITE came from
    local: Address  # our SIP host and port, for Via and Contact
    created_at: float  # when the INVITE arrived, on the clock passed as ``now``
    timers: Timers = field(default_factory=Timers)
    new_id: Callable[[], str] = random_id

    def __post_init__(self) -> None:
        self.state = DialogState.EARLY
        self.local_tag = self.new_id()
        self.contact = f"<sip:frontdesk@{_host(self.local[0])}:{self.local[1]}>"
        self._answered: dict[tuple[str, str], tuple[SipResponse, Address]] = {}
        self._answer_body = b""
        self._cseq = 0
        self._ok: _Pending | None = None  # our 2xx until ACKed
        self._requests: dict[int, _Pending] = {}  # our BYE / REFER by CSeq number
        self._refer_cseq: int | None = None
        invite_contact = self.invite.header("Contact")
        self.remote_target = addr_uri(invite_contact or self.invite.need("From"))
        self.route = [addr_uri(v) for rr in self.invite.header_all("Record-Route")
                      for v in rr.split(",")]

    # -- what the peer told us ----------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    def provisional(self, status: int = 100, reason: str = "Trying") -> Send:
        return self._respond(self.invite, self.source, status, reason)

    def answer(self, sdp: bytes, now: float) -> list[Output]:
        self._move(DialogInput.ANSWER)
        self._answer_body = sdp
        sent = self._respond(self.invite, self.source, 200, "OK", body=sdp)
        self._ok = _Pending(sent.message, now + self.timers.t1, self.timers.t1,
                            now + 64 * self.timers.t1)
        return [sent]

    def reject(self, status: int, reason: str) -> list[Output]:
        self._move(DialogInput.REJECT)
        return [self._respond(self.invite, self.source, status, reason)]

    def receive(self, message: SipMessage, source: Address, now: float) -> list[Output]:
        if isinstance(message, SipResponse):
            return self._on_response(message, now)
        if message.method != "ACK":
            cached = self._answered.get((top_via_branch(message), message.method))
            if cached is not None:  # a retransmission: the same answer again
                return [Send(*cached)]
        match message.method:
            case "ACK":
                if self.state is DialogState.ANSWERED and message.cseq[0] == self.invite.cseq[0]:
                    self._move(DialogInput.ACK)
                    self._ok = None
                    return [Confirmed()]
                return []  # the ACK of a re-INVITE, or of a failure response
            case "CANCEL":
                if not allowed(self.state, DialogInput.CANCEL):
                    return [self._respond(message, source, 200, "OK")]  # too late: no effect
                self._move(DialogInput.CANCEL)
                return [self._respond(message, source, 200, "OK"),
                        self._respond(self.invite, self.source, 487, "Request Terminated"),
                        Cancelled()]
            case "BYE":
                if not allowed(self.state, DialogInput.REMOTE_BYE):
                    return [self._respond(message, source, 481,
                                          "Call/Transaction Does Not Exist")]
                self._move(DialogInput.REMOTE_BYE)
                self._ok = None
                self._requests.clear()
                return [self._respond(message, source, 200, "OK"), RemoteHangup()]
            case "INVITE":  # a re-INVITE (session refresh, hold): the same answer again
                if self.state is not DialogState.CONFIRMED:
                    return [self._respond(message, source, 491, "Request Pending")]
                return [self._respond(message, source, 200, "OK", body=self._answer_body)]
            case "OPTIONS":
                return [self._respond(message, source, 200, "OK")]
            case "NOTIFY" if self._refer_cseq is not None:
                sent = self._respond(message, source, 200, "OK")
                status = _sipfrag_status(message.body)
                return [sent, TransferProgress(status)] if status else [sent]
            case "NOTIFY":
                return [self._respond(message, source, 481, "Subscription Does Not Exist")]
            case _:
                return [self._respond(message, source, 501, "Not Implemented")]

    # -- what we do ------------------------------------------------------------------

    @property
    def can_hang_up(self) -> bool:
        return allowed(self.state, DialogInput.LOCAL_BYE)

    def hangup(self, now: float) -> list[Output]:
        """Send BYE; the peer's answer comes back as :class:`RequestAnswered`."""
        self._move(DialogInput.LOCAL_BYE)
        self._ok = None
        return [self._request("BYE", now)]

    def refer(self, refer_to: str, now: float) -> list[Output]:
        """Ask the caller's side to call ``refer_to`` (RFC 3515 blind transfer)."""
        if self.state is not DialogState.CONFIRMED:
            raise IllegalTransition(f"refer in state {self.state.value}")
        sent = self._request("REFER", now, extra=(
            ("Refer-To", f"<{refer_to}>"), ("Referred-By", self.contact)))
        self._refer_cseq = self._cseq
        return [sent]

    def next_deadline(self) -> float | None:
        due = [p.next_at for p in (self._ok, *self._requests.values()) if p is not None]
        return min(due, default=None)

    def on_timer(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self._ok is not None and self._ok.next_at <= now:
            if now >= self._ok.give_up_at:
                self._ok = None
                self._move(DialogInput.ACK_TIMEOUT)
                out += [AckTimedOut(), self._request("BYE", now)]
            else:
                out.append(Send(self._ok.message, self.source))
                self._backoff(self._ok, now)
        for cseq, pending in list(self._requests.items()):
            if pending.next_at > now:
                continue
            if now >= pending.give_up_at:
                assert isinstance(pending.message, SipRequest)
                out += self._final(cseq, pending.message.method, 408, "Request Timeout")
            else:
                out.append(Send(pending.message, self.next_hop()))
                self._backoff(pending, now)
        return out

    def next_hop(self) -> Address:
        uri = SipUri.parse(self.route[0] if self.route else self.remote_target)
        return uri.host, uri.port or 5060

    # -- inside ----------------------------------------------------------------------

    def _move(self, event: DialogInput) -> None:
        self.state = transition(self.state, event)

    def _backoff(self, pending: _Pending, now: float) -> None:
        pending.interval = min(2 * pending.interval, self.timers.t2)
        pending.next_at = min(now + pending.interval, pending.give_up_at)

    def _respond(self, request: SipRequest, to: Address, status: int, reason: str,
                 body: bytes = b"") -> Send:
        extra: list[tuple[str, str]] = [("Server", "frontdesk")]
        invite_ok = request.method == "INVITE" and 100 < status < 300
        if invite_ok or request.method == "OPTIONS":
            extra.append(("Contact", self.contact))
        if invite_ok or request.method == "OPTIONS" or status in (405, 501):
            extra.append(("Allow", ALLOW))
        if body:
            extra.append(("Content-Type", "application/sdp"))
        sent = response(request, status, reason, to_tag=self.local_tag if status > 100 else None,
                        extra=tuple(extra), body=body)
        if status >= 200:
            self._answered[(top_via_branch(request), request.method)] = (sent, to)
        elif request.method == "INVITE":
            self._answered[(top_via_branch(request), "INVITE")] = (sent, to)
        return Send(sent, to)

    def _request(self, method: str, now: float,
                 extra: tuple[tuple[str, str], ...] = ()) -> Send:
        self._cseq += 1
        host, port = self.local
        headers = (
            ("Via", f"SIP/2.0/UDP {_host(host)}:{port};branch=z9hG4bK{self.new_id()};rport"),
            ("Max-Forwards", "70"),
            ("From", with_tag(self.invite.need("To"), self.local_tag)),
            ("To", self.invite.need("From")),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self._cseq} {method}"),
            *(("Route", f"<{uri}>") for uri in self.route),
            ("Contact", self.contact),
            *extra,
        )
        request = SipRequest(headers, b"", method=method, uri=self.remote_target)
        self._requests[self._cseq] = _Pending(request, now + self.timers.t1, self.timers.t1,
                                              now + 64 * self.timers.t1)
        return Send(request, self.next_hop())

    def _on_response(self, message: SipResponse, now: float) -> list[Output]:
        number, method = message.cseq
        pending = self._requests.get(number)
        if pending is None or tag_of(message.need("From")) != self.local_tag:
            return []  # a retransmitted final response, or not ours
        if message.status < 200:
            pending.next_at = now + self.timers.t2  # it is alive: retransmit slowly
            return []
        return self._final(number, method, message.status, message.reason)

    def _final(self, cseq: int, method: str, status: int, reason: str) -> list[Output]:
        del self._requests[cseq]
        if method == "BYE" and self.state is DialogState.ENDING:
            self._move(DialogInput.BYE_DONE)
        return [RequestAnswered(method, status, reason)]


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _sipfrag_status(body: bytes) -> int | None:
    """``SIP/2.0 200 OK`` → 200 (message/sipfrag, RFC 3420)."""
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if len(first) >= 2 and first[0] == "SIP/2.0" and first[1].isdigit():
        return int(first[1])
    return None
