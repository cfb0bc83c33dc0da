"""What every booking backend offers the executor, and how its failures are typed.

The executor never looks at HTTP status codes or socket errors: a connector turns each
failure into one of three errors that answer the only question that matters for
"never lie, never book twice": could the write have landed?

- :class:`Rejected`: the backend answered and said no (a validation error, a conflict,
  bad credentials). Nothing was written; retrying the same request will not help.
- :class:`Unavailable`: the request never reached the backend (connection refused, a
  connect timeout, an open circuit). Nothing was written; a retry is safe.
- :class:`Uncertain`: the request was sent and no clear answer came back (a read
  timeout, a reset, a 5xx). It may have landed; look it up by idempotency key before
  any retry.

Every write carries the commitment's idempotency key to the backend (CalDAV: the event
UID; the CRM: an ``Idempotency-Key`` header and a field on the record), so a lookup by
key tells whether an uncertain write landed, and a retry can never create a second row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "BackendBooking",
    "BookingRequest",
    "Connector",
    "ConnectorError",
    "Rejected",
    "Uncertain",
    "Unavailable",
]


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """One appointment to write. Datetimes are aware; ``key`` is the idempotency key."""

    key: str
    service_id: str
    service_name: str
    start: datetime
    end: datetime
    customer_name: str
    customer_phone: str | None = None
    call_id: str | None = None
    business_name: str = ""
    resource_id: str | None = None  # the preferred resource (bay, chair) if the caller chose one


@dataclass(frozen=True, slots=True)
class BackendBooking:
    """A booking as the backend holds it (read back, never echoed from the request)."""

    key: str  # the idempotency key stored with the record
    external_id: str  # the backend's own id (CalDAV resource href, CRM record id)
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    service_id: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None


class ConnectorError(Exception):
    """A backend call that did not succeed. ``backend`` names the connector."""

    applied_maybe: bool = False  # True only for Uncertain
    retryable: bool = False

    def __init__(self, backend: str, reason: str, *, code: str = "") -> None:
        super().__init__(f"{backend}: {reason}")
        self.backend = backend
        self.reason = reason
        self.code = code  # a stable short name for callers that branch on it ("slot_taken")


class Rejected(ConnectorError):
    """The backend refused the request; nothing was written and a retry will not help."""


class Unavailable(ConnectorError):
    """The request did not reach the backend; nothing was written, a retry is safe."""

    retryable = True


class Uncertain(ConnectorError):
    """The request was sent but no clear answer came back; it may have been applied."""

    applied_maybe = True
    retryable = True


class Connector(Protocol):
    """A booking backend. Methods raise only :class:`ConnectorError` subclasses (never
    httpx or socket errors). Deadlines are the caller's: the executor wraps each call in
    ``asyncio.timeout`` and counts a write cut off by it as :class:`Uncertain`, so a
    connector needs only its own generous transport timeouts as a backstop."""

    name: str

    async def create(self, request: BookingRequest) -> BackendBooking:
        """Write the booking under ``request.key``; idempotent: if a booking with this key
        already exists, return it instead of writing a second one."""
        ...

    async def find(self, key: str) -> list[BackendBooking]:
        """Every booking stored under ``key`` (more than one means a duplicate)."""
        ...

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        """Every booking overlapping [start, end), for reconciliation."""
        ...

    async def cancel(self, key: str) -> bool:
        """Remove the booking(s) under ``key``; False if there was none."""
        ...
