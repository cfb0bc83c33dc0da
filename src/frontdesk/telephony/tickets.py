"""One-time media-stream tickets: the only credential a carrier's WebSocket presents.

A carrier's voice webhook is signed, but the media WebSocket is not (Telnyx) or is signed
over a URL only (Twilio), and a fixed URL gives a signature that could be replayed forever.
So the webhook mints a ticket naming the call row it created, MACed with the carrier's
secret, and puts it in the stream URL's *path* (carriers strip query strings). The
WebSocket is accepted only if the MAC checks and the row is still ``ringing``; claiming
the row moves it to ``active`` in one conditional update, so a replay finds it taken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TicketError(ValueError):
    """The presented ticket is malformed or its MAC does not match (the client's fault)."""


@dataclass(frozen=True)
class StreamTicket:
    business_id: str
    call_id: str

    def mint(self, secret: str) -> str:
        return f"{self.business_id}.{self.call_id}.{_mac(secret, self.business_id, self.call_id)}"

    @classmethod
    def parse(cls, token: str, secret: str) -> StreamTicket:
        parts = token.split(".")
        if len(parts) != 3 or not all(_PART.fullmatch(p) for p in parts):
            raise TicketError("malformed stream ticket")
        business_id, call_id, mac = parts
        if not hmac.compare_digest(mac, _mac(secret, business_id, call_id)):
            raise TicketError("stream ticket does not match")
        return cls(business_id, call_id)


def _mac(secret: str, business_id: str, call_id: str) -> str:
    digest = hmac.new(secret.encode(), f"stream:{business_id}:{call_id}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")
