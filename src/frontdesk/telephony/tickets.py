"""One-time media-stream tickets: the only credential a carrier's WebSocket presents.

A carrier's voice webhook is signed, but the media WebSocket is not (Telnyx) or is signed
over a URL only (Twilio), and a fixed URL gives a signature that could be replayed forever.
So the webhook mints a ticket naming the call row it created, MACed with the carrier's
secret, and puts it in the stream URL's *path* (carriers strip query strings). The
WebSocket is accepted only if the MAC checks and the row is still ``ringing``; claiming
the row moves it to ``active`` in one conditional update, so a replay finds it taken.

A transfer's ``<Dial action>`` and whisper URLs carry a :class:`DialTicket` the same way:
it names the call being transferred and the leg id the caller comes back on if nobody
takes it. Each kind of ticket is MACed under its own label, so one can never pass for the
other. A dial ticket is used once because its leg id becomes the return leg's primary
key (and its outcome is recorded on the call): see ``edge.py``.

A Telnyx transfer reports back only through the webhooks of the leg it rings, which name
that new leg and carry the client state we gave the command. So the command carries a
:class:`TransferTicket`: a dial ticket plus the carrier's id for the caller's leg, which
the caller is streamed back on if nobody answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WIDE = re.compile(r"[A-Za-z0-9_-]{1,256}")  # a base64url-encoded carrier id


class TicketError(ValueError):
    """The presented ticket is malformed or its MAC does not match (the client's fault)."""


@dataclass(frozen=True)
class StreamTicket:
    business_id: str
    call_id: str

    def mint(self, secret: str) -> str:
        return _mint(secret, "stream", self.business_id, self.call_id)

    @classmethod
    def parse(cls, token: str, secret: str) -> StreamTicket:
        business_id, call_id = _parse(token, secret, "stream", 2)
        return cls(business_id, call_id)


@dataclass(frozen=True)
class DialTicket:
    """A transfer of ``call_id``; ``leg_id`` is the id its return leg gets, if any."""

    business_id: str
    call_id: str
    leg_id: str

    def mint(self, secret: str) -> str:
        return _mint(secret, "dial", self.business_id, self.call_id, self.leg_id)

    @classmethod
    def parse(cls, token: str, secret: str) -> DialTicket:
        business_id, call_id, leg_id = _parse(token, secret, "dial", 3)
        return cls(business_id, call_id, leg_id)


@dataclass(frozen=True)
class TransferTicket:
    """A transfer of ``call_id`` (return leg id ``leg_id``) on the carrier's call
    ``carrier_call_id``: the caller's leg, which the new leg's webhooks never name.

    The carrier's id is free text (Telnyx's hold ``:``), so it travels base64url-encoded;
    the MAC covers it, so a webhook cannot point the return stream at another call.
    """

    business_id: str
    call_id: str
    leg_id: str
    carrier_call_id: str

    @property
    def dial(self) -> DialTicket:
        return DialTicket(self.business_id, self.call_id, self.leg_id)

    def mint(self, secret: str) -> str:
        encoded = base64.urlsafe_b64encode(self.carrier_call_id.encode()).decode()
        return _mint(secret, "transfer", self.business_id, self.call_id, self.leg_id,
                     encoded.rstrip("="))

    @classmethod
    def parse(cls, token: str, secret: str) -> TransferTicket:
        business_id, call_id, leg_id, encoded = _parse(token, secret, "transfer", 4,
                                                       wide_last=True)
        try:
            carrier_call_id = base64.urlsafe_b64decode(
                encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
            raise TicketError("malformed transfer ticket") from None
        if not carrier_call_id:
            raise TicketError("malformed transfer ticket")
        return cls(business_id, call_id, leg_id, carrier_call_id)


def _mint(secret: str, label: str, *fields: str) -> str:
    return ".".join((*fields, _mac(secret, label, fields)))


def _parse(token: str, secret: str, label: str, count: int, *,
           wide_last: bool = False) -> tuple[str, ...]:
    parts = token.split(".")
    patterns = [_PART] * (count + 1)
    if wide_last:
        patterns[count - 1] = _WIDE
    if len(parts) != count + 1 or not all(
            pattern.fullmatch(part) for pattern, part in zip(patterns, parts, strict=True)):
        raise TicketError(f"malformed {label} ticket")
    *fields, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, label, fields)):
        raise TicketError(f"{label} ticket does not match")
    return tuple(fields)


def _mac(secret: str, label: str, fields: Sequence[str]) -> str:
    digest = hmac.new(secret.encode(), ":".join((label, *fields)).encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")
