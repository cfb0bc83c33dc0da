"""Every dialog of one SIP listener, sans-IO: datagrams in, messages and events out.

Requests are routed to their dialog by Call-ID. Outside a dialog: a new INVITE opens one
(100 Trying at once; the adapter then answers or rejects it through the dialog),
OPTIONS is answered 200 (trunks use it as a keep-alive), a stray BYE or CANCEL 481, any
other method 501. A datagram that does not parse is answered 400 when its Via, From, To,
Call-ID and CSeq could still be read, else dropped; either way it is reported as
:class:`BadMessage` and never reaches a dialog. Ended dialogs stay 64·T1 to absorb the
peer's retransmissions, then are forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from frontdesk.telephony.sip.dialog import DialogState
from frontdesk.telephony.sip.headers import ALLOW, can_answer, response, tag_of
from frontdesk.telephony.sip.message import SipParseError, SipRequest, SipResponse, parse
from frontdesk.telephony.sip.uas import Address, Event, Send, Timers, UasDialog, random_id

__all__ = ["BadMessage", "DialogEvent", "IncomingCall", "SipEndpoint"]


@dataclass(frozen=True)
class IncomingCall:
    """A new INVITE: answer or reject it through ``dialog``."""

    dialog: UasDialog


@dataclass(frozen=True)
class DialogEvent:
    call_id: str
    event: Event


@dataclass(frozen=True)
class BadMessage:
    """A datagram that was not valid SIP; ``status`` is what we answered (None: dropped)."""

    reason: str
    call_id: str | None
    status: int | None


EndpointOutput = Send | IncomingCall | DialogEvent | BadMessage


@dataclass
class SipEndpoint:
    local: Address
    timers: Timers = field(default_factory=Timers)
    new_id: Callable[[], str] = random_id
    # our address as a given peer should see it (Via, Contact); default ``local``
    local_for: Callable[[Address], Address] | None = None
    dialogs: dict[str, UasDialog] = field(default_factory=dict)
    _forget_at: dict[str, float] = field(default_factory=dict)

    def receive(self, data: bytes, source: Address, now: float) -> list[EndpointOutput]:
        if not data.strip(b"\r\n"):
            return []  # a CRLF keep-alive
        try:
            message = parse(data)
        except SipParseError as error:
            headers = error.headers
            call_id = next((v for n, v in headers if n == "Call-ID"), None)
            if error.is_request and can_answer(headers):
                reply = response(headers, 400, "Bad Request", to_tag=self.new_id(),
                                 extra=(("Warning", f'399 frontdesk "{error.reason[:80]}"'),))
                return [Send(reply, source), BadMessage(error.reason, call_id, 400)]
            return [BadMessage(error.reason, call_id, None)]
        dialog = self.dialogs.get(message.call_id)
        if dialog is not None:
            return self._wrap(dialog, dialog.receive(message, source, now))
        if isinstance(message, SipResponse):
            return []  # to a dialog we forgot
        return self._outside(message, source, now)

    def _outside(self, request: SipRequest, source: Address,
                 now: float) -> list[EndpointOutput]:
        def answer(status: int, reason: str, *extra: tuple[str, str]) -> list[EndpointOutput]:
            return [Send(response(request, status, reason, to_tag=self.new_id(),
                                  extra=extra), source)]

        match request.method:
            case "INVITE" if tag_of(request.need("To")) is None:
                local = self.local_for(source) if self.local_for else self.local
                dialog = UasDialog(request, source, local, now, self.timers, self.new_id)
                self.dialogs[dialog.call_id] = dialog
                return [dialog.provisional(), IncomingCall(dialog)]
            case "OPTIONS":
                return answer(200, "OK", ("Allow", ALLOW), ("Accept", "application/sdp"))
            case "ACK":
                return []
            case "INVITE" | "BYE" | "CANCEL" | "NOTIFY" | "REFER":
                return answer(481, "Call/Transaction Does Not Exist")
            case _:
                return answer(501, "Not Implemented", ("Allow", ALLOW))

    def _wrap(self, dialog: UasDialog, outputs: list[Send | Event]) -> list[EndpointOutput]:
        return [o if isinstance(o, Send) else DialogEvent(dialog.call_id, o) for o in outputs]

    def next_deadline(self) -> float | None:
        due = [*self._forget_at.values()]
        for call_id, dialog in self.dialogs.items():
            if dialog.state is DialogState.ENDED and call_id not in self._forget_at:
                due.append(0.0)  # ended just now: on_timer starts its grace period
            deadline = dialog.next_deadline()
            if deadline is not None:
                due.append(deadline)
        return min(due, default=None)

    def on_timer(self, now: float) -> list[EndpointOutput]:
        out: list[EndpointOutput] = []
        for call_id, dialog in list(self.dialogs.items()):
            if dialog.state is DialogState.ENDED:
                forget = self._forget_at.setdefault(call_id, now + 64 * self.timers.t1)
                if now >= forget:
                    del self.dialogs[call_id], self._forget_at[call_id]
                continue
            deadline = dialog.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._wrap(dialog, dialog.on_timer(now))
        return out
