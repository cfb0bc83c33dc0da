"""A generic REST CRM as a booking backend: signed JSON over HTTP, endpoints configurable.

Many small businesses keep appointments in a CRM with a plain REST API. This connector
speaks to one through four path templates and a field map (our names -> the CRM's JSON
names), so most such APIs fit without code. Every request is signed (see
:mod:`.signing`), reads included, so the CRM can refuse anything not from us.

What it promises the executor (see :mod:`.base`):

- ``create`` sends the commitment's key twice: in the ``Idempotency-Key`` header (a CRM
  that honours it answers a repeat with the first result) and as a field on the record
  (so ``find`` can tell afterwards whether an uncertain write landed, even on a CRM that
  ignores the header). The booking returned is parsed from the CRM's answer, never
  echoed from our request: a 201 with no readable record is :class:`Uncertain`.
- Failures are typed by whether the write could have landed: could not connect ->
  :class:`Unavailable`; sent but no clear answer (timeouts, resets, 5xx) ->
  :class:`Uncertain`; the CRM said no (4xx) -> :class:`Rejected`. 408 and 429 are the
  exceptions among 4xx: the CRM did not act and asks for a later retry, so
  :class:`Unavailable`. Reads have no side effect, so any read failure is
  :class:`Unavailable`.
- ``find`` filters by key on our side too: a CRM that ignores the query parameter and
  answers with every record must not make one booking look like another's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import httpx

from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    Rejected,
    Unavailable,
    Uncertain,
)
from frontdesk.actions.connectors.signing import SIGNATURE_HEADER, sign

__all__ = ["CRM_FIELDS", "CrmConnector", "CrmSettings"]

CRM_FIELDS = ("idempotency_key", "service_id", "service_name", "start", "end",
              "customer_name", "customer_phone", "call_id", "id")
_PLACEHOLDERS = {"create_path": (), "find_path": ("key",), "list_path": ("start", "end"),
                 "cancel_path": ("id",)}
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
             httpx.UnsupportedProtocol)


@dataclass(frozen=True, slots=True)
class CrmSettings:
    """Where the CRM is and how its API is shaped. Paths are templates relative to
    ``base_url`` (which may carry a path prefix); placeholders are filled URL-encoded.
    ``field_map`` may name only the fields that differ; it is completed with identity."""

    base_url: str
    secret: bytes = field(repr=False)
    create_path: str = "/appointments"
    find_path: str = "/appointments?idempotency_key={key}"
    list_path: str = "/appointments?start={start}&end={end}"
    cancel_path: str = "/appointments/{id}"
    idempotency_header: str = "Idempotency-Key"
    field_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a misconfiguration is found at start-up, not as a failed booking mid-call
        url = httpx.URL(self.base_url)
        if url.scheme not in ("http", "https") or not url.host or url.query:
            raise ValueError(f"base_url must be http(s)://host[/prefix]: {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if not self.secret:
            raise ValueError("the signing secret must not be empty")
        for name, placeholders in _PLACEHOLDERS.items():
            template = getattr(self, name)
            try:
                template.format(**{p: "x" for p in placeholders})
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{name} {template!r}: bad placeholder {exc}") from None
            if not template.startswith("/") or any(f"{{{p}}}" not in template
                                                   for p in placeholders):
                raise ValueError(f"{name} must start with '/' and use {placeholders}")
        unknown = set(self.field_map) - set(CRM_FIELDS)
        if unknown:
            raise ValueError(f"field_map names unknown fields: {sorted(unknown)}")
        full = {name: self.field_map.get(name, name) for name in CRM_FIELDS}
        if len(set(full.values())) != len(full):
            raise ValueError("field_map maps two of our fields to one CRM field")
        object.__setattr__(self, "field_map", MappingProxyType(full))


class _BadRecord(ValueError):
    """A record in the CRM's answer that cannot be read as a booking."""


class CrmConnector:
    """The :class:`~frontdesk.actions.connectors.base.Connector` for a REST CRM.

    ``client`` is for tests and shared pools (it is not closed by :meth:`aclose`); the
    connector's own client has generous timeouts, a backstop behind the executor's
    deadlines. ``clock`` (unix seconds) dates the signatures.
    """

    name = "crm"

    def __init__(
        self,
        settings: CrmSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
        self._f = settings.field_map

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- the protocol ----------------------------------------------------------------------

    async def create(self, request: BookingRequest) -> BackendBooking:
        values = {"idempotency_key": request.key, "service_id": request.service_id,
                  "service_name": request.service_name, "start": _iso(request.start),
                  "end": _iso(request.end), "customer_name": request.customer_name,
                  "customer_phone": request.customer_phone, "call_id": request.call_id}
        record = {self._f[ours]: value for ours, value in values.items() if value is not None}
        body = json.dumps(record, separators=(",", ":")).encode()
        headers = {self.settings.idempotency_header: request.key,
                   "Content-Type": "application/json"}
        response = await self._send("POST", self.settings.create_path, body, headers,
                                    write=True)
        status = response.status_code
        if status in (200, 201):
            try:
                booking = self._booking(_json(response))
            except _BadRecord as exc:
                raise Uncertain(self.name, f"create answered {status} with no readable "
                                           f"record ({exc})") from None
            if booking.key != request.key:
                raise Uncertain(self.name, f"create answered {status} with a record for "
                                           f"another key ({booking.key!r})")
            return booking
        if 200 <= status < 300:
            raise Uncertain(self.name, f"create answered {status} without a record")
        if status == 409:
            raise Rejected(self.name, "slot conflict", code="slot_taken")
        raise self._write_failure("create", response)

    async def find(self, key: str) -> list[BackendBooking]:
        target = self.settings.find_path.format(key=quote(key, safe=""))
        records = await self._read_list(target)
        key_field = self._f["idempotency_key"]
        try:
            return [self._booking(r) for r in records
                    if isinstance(r, dict) and r.get(key_field) == key]
        except _BadRecord as exc:
            raise Unavailable(self.name, f"find: unreadable record ({exc})") from None

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        target = self.settings.list_path.format(start=quote(_iso(start), safe=""),
                                                end=quote(_iso(end), safe=""))
        records = await self._read_list(target)
        try:
            bookings = [self._booking(r) for r in records]
        except _BadRecord as exc:
            raise Unavailable(self.name, f"list: unreadable record ({exc})") from None
        return [b for b in bookings if b.start < end and b.end > start]

    async def cancel(self, key: str) -> bool:
        deleted = False
        for booking in await self.find(key):
            target = self.settings.cancel_path.format(id=quote(booking.external_id, safe=""))
            response = await self._send("DELETE", target, b"", {}, write=True)
            if 200 <= response.status_code < 300:
                deleted = True
            elif response.status_code not in (404, 410):  # gone already: nothing to do
                raise self._write_failure("cancel", response)
        return deleted

    # -- HTTP --------------------------------------------------------------------------------

    async def _send(self, method: str, target: str, body: bytes, headers: dict[str, str], *,
                    write: bool) -> httpx.Response:
        request = self._client.build_request(method, self.settings.base_url + target,
                                             content=body or None, headers=headers)
        # sign exactly the target httpx puts on the wire (prefix and encoding included)
        signed_target = request.url.raw_path.decode("ascii")
        request.headers[SIGNATURE_HEADER] = sign(self.settings.secret, method, signed_target,
                                                 body, self._clock())
        try:
            return await self._client.send(request)
        except _NOT_SENT as exc:
            raise Unavailable(self.name, f"{method} {target}: could not reach the CRM "
                                         f"({type(exc).__name__})") from exc
        except httpx.RequestError as exc:
            reason = f"{method} {target}: no answer ({type(exc).__name__})"
            raise (Uncertain if write else Unavailable)(self.name, reason) from exc

    async def _read_list(self, target: str) -> list[Any]:
        response = await self._send("GET", target, b"", {}, write=False)
        if response.status_code != 200:
            raise Unavailable(self.name, f"GET {target}: {_status_reason(response)}")
        try:
            records = _json(response)
        except _BadRecord as exc:
            raise Unavailable(self.name, f"GET {target}: {exc}") from None
        if not isinstance(records, list):
            raise Unavailable(self.name, f"GET {target}: expected a JSON list")
        return records

    def _write_failure(self, what: str, response: httpx.Response) -> Exception:
        status = response.status_code
        reason = f"{what}: {_status_reason(response)}"
        if status >= 500:
            return Uncertain(self.name, reason)
        if status in (408, 429):
            return Unavailable(self.name, reason)
        return Rejected(self.name, reason)

    def _booking(self, record: Any) -> BackendBooking:
        if not isinstance(record, dict):
            raise _BadRecord("a record is not a JSON object")
        f = self._f
        external_id = record.get(f["id"])
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            external_id = str(external_id)
        key = record.get(f["idempotency_key"])
        if not isinstance(external_id, str) or not external_id:
            raise _BadRecord(f"no {f['id']!r}")
        if not isinstance(key, str) or not key:
            raise _BadRecord(f"no {f['idempotency_key']!r}")
        optional: dict[str, str | None] = {}
        for ours in ("service_id", "customer_name", "customer_phone"):
            value = record.get(f[ours])
            if value is not None and not isinstance(value, str):
                raise _BadRecord(f"{f[ours]!r} is not a string")
            optional[ours] = value
        return BackendBooking(key=key, external_id=external_id,
                              start=_parse_utc(record.get(f["start"]), f["start"]),
                              end=_parse_utc(record.get(f["end"]), f["end"]), **optional)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the CRM needs an absolute time")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_utc(value: Any, name: str) -> datetime:
    """An ISO-8601 time with an offset; a naive time is refused, not guessed."""
    if not isinstance(value, str):
        raise _BadRecord(f"{name!r} is not an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _BadRecord(f"{name!r} is not ISO-8601: {value!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _BadRecord(f"{name!r} has no UTC offset: {value!r}")
    return moment.astimezone(UTC)


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise _BadRecord("the body is not JSON") from None


def _status_reason(response: httpx.Response) -> str:
    status = response.status_code
    if status in (401, 403):
        return (f"authentication failed ({status}): the CRM refused our signature; "
                "check the shared secret and the clocks")
    detail = ""
    try:
        body = json.loads(response.content)
    except ValueError:
        detail = response.text[:200]
    else:
        if isinstance(body, dict):
            detail = next((str(body[k]) for k in ("error", "message", "detail") if k in body),
                          "")
    return f"HTTP {status}" + (f": {detail[:200]}" if detail.strip() else "")
