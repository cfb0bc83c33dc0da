"""Bookings in a CalDAV calendar (RFC 4791): Radicale, Nextcloud, Fastmail, iCloud, ...

Idempotency rests on naming: the resource name and the event UID are both derived from
the idempotency key alone, and the write is ``PUT`` with ``If-None-Match: *`` (RFC 9110
13.1.2), so a retried or duplicated create can neither make a second event nor overwrite
the first: the server answers 412 and we read back what it holds.

Failures become the three errors of :mod:`.base` by one rule: could the request have
changed the calendar? Writes (PUT, DELETE) cut off after sending, or answered 5xx, are
:class:`Uncertain`; reads (GET, REPORT) change nothing, so any failure is
:class:`Unavailable`, never :class:`Rejected`: "could not look" must not read as "not
there" to an executor verifying an uncertain write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    ConnectorError,
    Rejected,
    Unavailable,
    Uncertain,
)
from frontdesk.actions.connectors.ical import ICalError, ParsedEvent, event_ics, parse_events
from frontdesk.actions.connectors.ical import utc_stamp as _stamp

__all__ = ["CalDAVConnector", "CalDAVSettings"]

UID_SUFFIX = "@frontdesk"
_DAV = "{DAV:}"
_CALDAV = "{urn:ietf:params:xml:ns:caldav}"
# A key becomes a file name on the server: keep to characters every server stores as is.
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}", re.ASCII)
_CONNECT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class CalDAVSettings:
    """Where the calendar lives. ``url`` is the calendar collection, ending in '/';
    ``timezone`` places floating times and all-day events other clients wrote."""

    url: str
    username: str
    password: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")) or not self.url.endswith("/"):
            raise ValueError(f"CalDAV url must be an http(s) collection ending in '/': {self.url}")
        try:  # an unknown zone is a configuration error: found at start, not mid-call
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc


def key_of(event: ParsedEvent) -> str:
    """The idempotency key an event carries: our property, else our UID form, else ""
    (a foreign event, listed so reconciliation sees what occupies the calendar)."""
    if event.key:
        return event.key
    return event.uid.removesuffix(UID_SUFFIX) if event.uid.endswith(UID_SUFFIX) else ""


def _booking(event: ParsedEvent, external_id: str) -> BackendBooking:
    return BackendBooking(
        key=key_of(event),
        external_id=external_id,
        start=event.start,
        end=event.end,
        service_id=event.service_id,
        customer_name=event.customer_name,
        customer_phone=event.customer_phone,
    )


def _time_range_query(start: datetime, end: datetime) -> bytes:
    # <C:expand> asks the server for recurring events as instances in UTC, so a foreign
    # weekly meeting shows up on the day it occupies, not on the day its series began.
    window = f'start="{_stamp(start)}" end="{_stamp(end)}"'
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/><C:calendar-data><C:expand {window}/></C:calendar-data></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f"<C:time-range {window}/>"
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    ).encode()


def parse_multistatus(body: bytes) -> list[tuple[str, str]]:
    """(href, calendar-data) of every 200 propstat in a 207 answer. Raises ValueError on
    anything else. DTDs are refused outright: a calendar answer never needs entities,
    and expanding them is how a hostile server makes a client parse gigabytes."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ValueError("multistatus with a DTD")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from exc
    if root.tag != f"{_DAV}multistatus":
        raise ValueError(f"expected DAV:multistatus, got {root.tag}")
    found: list[tuple[str, str]] = []
    for response in root.iter(f"{_DAV}response"):
        href = response.findtext(f"{_DAV}href")
        if not href:
            raise ValueError("response without href")
        for propstat in response.iter(f"{_DAV}propstat"):
            status = (propstat.findtext(f"{_DAV}status") or "").split()
            data = propstat.findtext(f"{_DAV}prop/{_CALDAV}calendar-data")
            if status[1:2] == ["200"] and data is not None:
                found.append((href.strip(), data))
    return found


def _path(href: str) -> str:
    """The external id: the decoded path, whether the server answered with a path or a
    full URL and however it percent-encoded it."""
    return unquote(urlsplit(href).path)


class CalDAVConnector:
    """One calendar collection. Owns its HTTP client unless one is passed in."""

    name = "caldav"

    def __init__(
        self,
        settings: CalDAVSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._zone = ZoneInfo(settings.timezone)
        self._auth = httpx.BasicAuth(settings.username, settings.password)
        self._owns_client = client is None
        # Generous backstops only: the executor's asyncio.timeout sets the real deadline.
        if client is None:
            client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self._client = client
        self._clock = clock

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def href(self, key: str) -> str | None:
        """The resource URL for ``key``; None if the key cannot name a resource (then no
        booking can exist under it: create refuses it, find and cancel find nothing)."""
        return f"{self.settings.url}{key}.ics" if _SAFE_KEY.fullmatch(key) else None

    # --- the protocol ------------------------------------------------------------------

    async def create(self, request: BookingRequest) -> BackendBooking:
        href = self.href(request.key)
        if href is None:
            raise Rejected(self.name, f"key {request.key!r} cannot name a CalDAV resource")
        body = event_ics(request, f"{request.key}{UID_SUFFIX}", self._clock())
        headers = {"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"}
        response = await self._send("PUT", href, write=True, headers=headers, body=body.encode())
        if response.status_code in (200, 201, 204):
            # The PUT answer has no body: report what we wrote, which the executor then
            # verifies with find() before anything is spoken.
            return _booking(parse_events(body)[0], _path(href))
        if response.status_code == 412:
            return await self._existing(request.key, href)
        raise self._write_failure("PUT", href, response)

    async def find(self, key: str) -> list[BackendBooking]:
        href = self.href(key)
        if href is None:
            return []
        events = await self._get(href)  # raises only Unavailable
        return [_booking(event, _path(href)) for event in events if key_of(event) == key]

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        url = self.settings.url
        headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
        query = _time_range_query(start, end)
        response = await self._send("REPORT", url, write=False, headers=headers, body=query)
        if response.status_code != 207:
            raise Unavailable(self.name, self._status_reason("REPORT", url, response))
        try:
            return [
                _booking(event, _path(href))
                for href, data in parse_multistatus(response.content)
                for event in parse_events(data, self._zone)
            ]
        except ValueError as exc:  # ICalError is a ValueError
            raise Unavailable(self.name, f"REPORT {url}: unreadable answer: {exc}") from exc

    async def cancel(self, key: str) -> bool:
        href = self.href(key)
        if href is None:
            return False
        response = await self._send("DELETE", href, write=True)
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        raise self._write_failure("DELETE", href, response)

    # --- helpers -----------------------------------------------------------------------

    async def _existing(self, key: str, href: str) -> BackendBooking:
        """After a 412: the resource exists. Return it if it is ours; any failure to read
        it is Uncertain, because a booking under this key may well be there."""
        try:
            events = await self._get(href)
        except ConnectorError as exc:
            reason = f"{href} exists but could not be read: {exc.reason}"
            raise Uncertain(self.name, reason) from exc
        ours = [event for event in events if key_of(event) == key]
        if ours:
            return _booking(ours[0], _path(href))
        if not events:
            raise Uncertain(self.name, f"{href} existed on PUT and was gone on GET")
        held = ", ".join(repr(key_of(event)) for event in events)
        raise Rejected(self.name, f"{href} already holds another event (key {held})")

    async def _get(self, href: str) -> list[ParsedEvent]:
        response = await self._send("GET", href, write=False)
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise Unavailable(self.name, self._status_reason("GET", href, response))
        try:
            return parse_events(response.text, self._zone)
        except ICalError as exc:
            raise Unavailable(self.name, f"GET {href}: unreadable calendar: {exc}") from exc

    async def _send(
        self,
        method: str,
        url: str,
        *,
        write: bool,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        try:
            return await self._client.request(
                method, url, headers=headers, content=body, auth=self._auth
            )
        except _CONNECT_FAILURES as exc:
            raise Unavailable(self.name, f"{method} {url}: not reached: {exc!r}") from exc
        except httpx.RequestError as exc:  # sent, or partly sent: it may have landed
            error = Uncertain if write else Unavailable
            raise error(self.name, f"{method} {url}: no answer: {exc!r}") from exc

    def _write_failure(self, method: str, url: str, response: httpx.Response) -> ConnectorError:
        """5xx, or a 2xx we did not ask for (202 Accepted: not done yet, maybe later), may
        have landed; 3xx and 4xx were refused before anything was written."""
        reason = self._status_reason(method, url, response)
        if response.status_code >= 500 or response.is_success:
            return Uncertain(self.name, reason)
        return Rejected(self.name, reason)

    @staticmethod
    def _status_reason(method: str, url: str, response: httpx.Response) -> str:
        status = response.status_code
        if status == 401:
            return f"{method} {url}: 401, the server refused the username or password"
        if status == 403:
            return f"{method} {url}: 403, this user may not use the calendar"
        if status == 409 and b"no-uid-conflict" in response.content:
            return f"{method} {url}: 409, another resource in the calendar has this UID"
        if status == 409:
            return f"{method} {url}: 409, conflict (does the calendar collection exist?)"
        if status == 404 and method == "REPORT":
            return f"{method} {url}: 404, no calendar at this URL"
        return f"{method} {url}: HTTP {status} {response.reason_phrase}".rstrip()
