"""The CalDAV connector against a real Radicale (one server per module, a fresh calendar
per test), plus httpx.MockTransport for the failures a healthy server will not produce."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from frontdesk.actions.connectors.base import (
    BookingRequest,
    ConnectorError,
    Rejected,
    Unavailable,
    Uncertain,
)
from frontdesk.actions.connectors.caldav import CalDAVConnector, CalDAVSettings
from frontdesk.client import radicale as radicale_module
from frontdesk.client.radicale import RadicaleServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
KEY = "0123456789abcdef0123456789abcdef"


def booking(key: str = KEY, start: datetime = T0, minutes: int = 60, **kw: str) -> BookingRequest:
    fields = {"customer_name": "Ana Díaz", "customer_phone": "+15551234567", **kw}
    return BookingRequest(
        key=key,
        service_id="oil-change",
        service_name="Oil change",
        start=start,
        end=start + timedelta(minutes=minutes),
        customer_name=fields["customer_name"],
        customer_phone=fields["customer_phone"],
    )


@pytest.fixture(scope="module")
def radicale() -> Iterator[RadicaleServer]:
    with RadicaleServer() as server:
        yield server


@pytest.fixture
def settings(radicale: RadicaleServer) -> CalDAVSettings:
    return radicale.settings(radicale.new_calendar())


@pytest.fixture
async def caldav(settings: CalDAVSettings) -> AsyncIterator[CalDAVConnector]:
    connector = CalDAVConnector(settings, clock=lambda: NOW)
    yield connector
    await connector.aclose()


async def put_raw(settings: CalDAVSettings, name: str, ics: str) -> None:
    """An event written by some other calendar client."""
    auth = (settings.username, settings.password)
    async with httpx.AsyncClient(auth=auth) as client:
        response = await client.put(f"{settings.url}{name}", content=ics.encode())
    assert response.status_code == 201, response.text


def foreign_ics(uid: str, *props: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//other//EN", "BEGIN:VEVENT",
             f"UID:{uid}", "DTSTAMP:20260101T000000Z", *props, "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


# --- against Radicale ----------------------------------------------------------------


async def test_create_then_find(caldav: CalDAVConnector, settings: CalDAVSettings) -> None:
    created = await caldav.create(booking())
    assert created.key == KEY
    assert (created.start, created.end) == (T0, T0 + timedelta(hours=1))
    assert created.external_id.endswith(f"/{KEY}.ics")
    assert settings.url.endswith(created.external_id.rsplit("/", 1)[0] + "/")

    (found,) = await caldav.find(KEY)
    assert found == created
    assert (found.service_id, found.customer_name, found.customer_phone) == (
        "oil-change",
        "Ana Díaz",
        "+15551234567",
    )
    assert await caldav.find("ffffffffffffffffffffffffffffffff") == []


@pytest.mark.parametrize(
    "name", ["O'Brien, Jr.; \"Bud\"", "two\nlines", "山田 太郎 " * 20, "back\\slash"]
)
async def test_awkward_names_survive_the_server(caldav: CalDAVConnector, name: str) -> None:
    await caldav.create(booking(customer_name=name))
    (found,) = await caldav.find(KEY)
    assert found.customer_name == name


async def test_second_create_returns_the_stored_booking(caldav: CalDAVConnector) -> None:
    first = await caldav.create(booking(customer_name="First"))
    again = await caldav.create(booking(customer_name="Second", start=T0 + timedelta(hours=3)))
    assert again == first
    assert again.customer_name == "First"
    listed = await caldav.list_range(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [b.key for b in listed] == [KEY]


async def test_concurrent_creates_of_one_key_make_one_event(caldav: CalDAVConnector) -> None:
    # the same key from four racing retries, each remembering a different name: the
    # server keeps one and every create reports that one, never its own
    names = [f"caller {i}" for i in range(4)]
    results = await asyncio.gather(*(caldav.create(booking(customer_name=n)) for n in names))
    assert len(set(results)) == 1
    listed = await caldav.list_range(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(b.key, b.customer_name) for b in listed] == [(KEY, results[0].customer_name)]


async def test_create_over_a_foreign_event_at_our_name_is_rejected(
    caldav: CalDAVConnector, settings: CalDAVSettings
) -> None:
    await put_raw(settings, f"{KEY}.ics", foreign_ics("someone-else", "DTSTART:20260302T090000Z"))
    with pytest.raises(Rejected, match="another event"):
        await caldav.create(booking())
    assert await caldav.find(KEY) == []


async def test_our_uid_elsewhere_is_a_rejected_uid_conflict(
    caldav: CalDAVConnector, settings: CalDAVSettings
) -> None:
    await put_raw(settings, "copy.ics", foreign_ics(f"{KEY}@frontdesk", "DTSTART:20260302T090000Z"))
    with pytest.raises(Rejected, match="409.*UID"):
        await caldav.create(booking())


async def test_list_range_filters_by_overlap(caldav: CalDAVConnector) -> None:
    keys = [f"k{i}" for i in range(5)]
    for i, key in enumerate(keys):  # back to back hours 09:00..14:00
        await caldav.create(booking(key=key, start=T0 + timedelta(hours=i)))
    window = await caldav.list_range(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    # k0 ends at 10:00 and k3 starts at 12:00: touching is not overlapping
    assert sorted(b.key for b in window) == ["k1", "k2"]
    partial = await caldav.list_range(T0 + timedelta(minutes=30), T0 + timedelta(minutes=90))
    assert sorted(b.key for b in partial) == ["k0", "k1"]
    assert await caldav.list_range(T0 + timedelta(days=1), T0 + timedelta(days=2)) == []


async def test_list_range_shows_other_clients_events(
    caldav: CalDAVConnector, settings: CalDAVSettings
) -> None:
    await caldav.create(booking())
    await put_raw(settings, "dentist.ics", foreign_ics(
        "dentist-1", "DTSTART;TZID=Europe/Berlin:20260302T120000",
        "DTEND;TZID=Europe/Berlin:20260302T123000", "SUMMARY:Dentist"))
    await put_raw(settings, "weekly.ics", foreign_ics(
        "weekly-1", "DTSTART:20260223T150000Z", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=4"))
    await put_raw(settings, "old.ics", foreign_ics(
        "abcdef@frontdesk", "DTSTART:20260302T160000Z", "DTEND:20260302T170000Z"))

    listed = await caldav.list_range(T0, T0 + timedelta(days=1))
    by_id = {b.external_id.rsplit("/", 1)[1]: b for b in listed}
    assert set(by_id) == {f"{KEY}.ics", "dentist.ics", "weekly.ics", "old.ics"}
    dentist = by_id["dentist.ics"]
    assert (dentist.key, dentist.customer_name) == ("", None)
    assert (dentist.start, dentist.end) == (T0 + timedelta(hours=2), T0 + timedelta(hours=2.5))
    # the recurring series began a week earlier: listed as the instance in the window
    weekly = by_id["weekly.ics"]
    assert (weekly.key, weekly.start) == ("", datetime(2026, 3, 2, 15, tzinfo=UTC))
    assert by_id["old.ics"].key == "abcdef"  # our UID form without X-FRONTDESK-KEY


async def test_cancel(caldav: CalDAVConnector) -> None:
    await caldav.create(booking())
    assert await caldav.cancel(KEY) is True
    assert await caldav.find(KEY) == []
    assert await caldav.cancel(KEY) is False
    again = await caldav.create(booking())  # a cancelled key can be booked again
    assert [b.key for b in await caldav.find(KEY)] == [again.key]


async def test_unusable_key(caldav: CalDAVConnector) -> None:
    with pytest.raises(Rejected, match="cannot name"):
        await caldav.create(booking(key="../escape"))
    assert await caldav.find("../escape") == []
    assert await caldav.cancel("a/b") is False


async def test_wrong_password(settings: CalDAVSettings) -> None:
    bad = CalDAVSettings(url=settings.url, username=settings.username, password="wrong")
    connector = CalDAVConnector(bad)
    try:
        with pytest.raises(Rejected, match="401.*password"):
            await connector.create(booking())
        with pytest.raises(Rejected, match="401"):
            await connector.cancel(KEY)
        with pytest.raises(Unavailable, match="401"):  # a read never says "rejected"
            await connector.find(KEY)
        with pytest.raises(Unavailable, match="401"):
            await connector.list_range(T0, T0 + timedelta(days=1))
    finally:
        await connector.aclose()


async def test_missing_calendar(radicale: RadicaleServer) -> None:
    settings = radicale.settings(f"{radicale.base_url}{radicale.username}/nowhere/")
    connector = CalDAVConnector(settings)
    try:
        with pytest.raises(Rejected, match="409"):
            await connector.create(booking())
        with pytest.raises(Unavailable, match="404"):
            await connector.list_range(T0, T0 + timedelta(days=1))
    finally:
        await connector.aclose()


async def test_dead_server_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = CalDAVConnector(CalDAVSettings(f"http://127.0.0.1:{port}/u/c/", "u", "p"))
    try:
        with pytest.raises(Unavailable):
            await connector.create(booking())
        with pytest.raises(Unavailable):
            await connector.find(KEY)
        with pytest.raises(Unavailable):
            await connector.list_range(T0, T0 + timedelta(days=1))
        with pytest.raises(Unavailable):
            await connector.cancel(KEY)
    finally:
        await connector.aclose()


async def test_radicale_server_async_lifecycle() -> None:
    async with RadicaleServer(username="bob") as server:
        assert server.calendar_url == f"{server.base_url}bob/calendar/"
        connector = CalDAVConnector(server.settings())
        try:
            await connector.create(booking())
            assert len(await connector.find(KEY)) == 1
        finally:
            await connector.aclose()
        process_id = server.pid
        assert process_id is not None
        base_url = server.base_url
    assert server.pid is None
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(base_url)


def test_radicale_server_retries_when_its_port_was_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = radicale_module._free_port
        monkeypatch.setattr(radicale_module, "_free_port", lambda: next(ports, real_free_port()))
        with RadicaleServer() as server:
            assert f":{taken}/" not in server.base_url
            assert server.new_calendar().startswith(server.base_url)


# --- failures a healthy server will not produce --------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]
SETTINGS = CalDAVSettings("https://dav.example/u/cal/", "user", "pw")


@contextlib.asynccontextmanager
async def mocked(handler: Handler) -> AsyncIterator[CalDAVConnector]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        yield CalDAVConnector(SETTINGS, client=client, clock=lambda: NOW)


def status(code: int, body: bytes = b"") -> Handler:
    return lambda request: httpx.Response(code, content=body)


def raises(exc: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)

    return handler


async def test_requests_carry_auth_and_preconditions() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "REPORT":
            return httpx.Response(207, content=b'<multistatus xmlns="DAV:"/>')
        return httpx.Response(201)

    async with mocked(handler) as connector:
        await connector.create(booking())
        assert await connector.list_range(T0, T0 + timedelta(hours=1)) == []
    put, report = seen
    assert put.headers["authorization"] == httpx.BasicAuth("user", "pw")._auth_header
    assert put.headers["if-none-match"] == "*"
    assert put.url == f"https://dav.example/u/cal/{KEY}.ics"
    assert b"X-FRONTDESK-KEY:" + KEY.encode() in put.content
    assert report.headers["depth"] == "1"
    assert b'start="20260302T090000Z" end="20260302T100000Z"' in report.content


@pytest.mark.parametrize(
    ("method", "handler", "error"),
    [
        ("PUT", status(500), Uncertain),
        ("PUT", status(503), Uncertain),
        ("PUT", status(202), Uncertain),
        ("PUT", raises(httpx.ReadTimeout), Uncertain),
        ("PUT", raises(httpx.RemoteProtocolError), Uncertain),
        ("PUT", raises(httpx.ConnectTimeout), Unavailable),
        ("PUT", raises(httpx.ConnectError), Unavailable),
        ("PUT", status(401), Rejected),
        ("PUT", status(403), Rejected),
        ("PUT", status(400), Rejected),
        ("DELETE", status(500), Uncertain),
        ("DELETE", raises(httpx.ReadTimeout), Uncertain),
        ("DELETE", status(403), Rejected),
        ("GET", status(500), Unavailable),
        ("GET", status(403), Unavailable),
        ("GET", raises(httpx.ReadTimeout), Unavailable),
        ("GET", status(200, b"<html>login page</html>"), Unavailable),
        ("REPORT", status(503), Unavailable),
        ("REPORT", raises(httpx.ReadError), Unavailable),
        ("REPORT", status(207, b"<multistatus"), Unavailable),
        ("REPORT", status(207, b"<other xmlns='DAV:'/>"), Unavailable),
    ],
)
async def test_failure_mapping(
    method: str, handler: Handler, error: type[ConnectorError]
) -> None:
    async with mocked(handler) as connector:
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "PUT": lambda: connector.create(booking()),
            "DELETE": lambda: connector.cancel(KEY),
            "GET": lambda: connector.find(KEY),
            "REPORT": lambda: connector.list_range(T0, T0 + timedelta(days=1)),
        }
        with pytest.raises(error) as caught:
            await calls[method]()
    assert type(caught.value) is error
    assert caught.value.backend == "caldav"


async def test_412_then_unreadable_is_uncertain() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(412 if request.method == "PUT" else 503)

    async with mocked(handler) as connector:
        with pytest.raises(Uncertain, match="exists but could not be read"):
            await connector.create(booking())

    def vanished(request: httpx.Request) -> httpx.Response:
        return httpx.Response(412 if request.method == "PUT" else 404)

    async with mocked(vanished) as connector:
        with pytest.raises(Uncertain, match="gone"):
            await connector.create(booking())


async def test_entities_in_a_report_are_refused_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<multistatus xmlns="DAV:"><response><href>&b;</href></response></multistatus>'
    )
    async with mocked(status(207, bomb)) as connector:
        with pytest.raises(Unavailable, match="DTD"):
            await connector.list_range(T0, T0 + timedelta(days=1))


async def test_report_skips_non_200_propstats_and_reads_absolute_hrefs() -> None:
    ics = foreign_ics("x", "DTSTART:20260302T090000Z", "DTEND:20260302T100000Z")
    body = (
        '<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<response><href>https://dav.example/u/cal/a%20b.ics</href>"
        f"<propstat><prop><C:calendar-data>{ics}</C:calendar-data></prop>"
        "<status>HTTP/1.1 200 OK</status></propstat></response>"
        "<response><href>/u/cal/gone.ics</href>"
        "<propstat><prop><C:calendar-data/></prop>"
        "<status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"
    ).encode()
    async with mocked(status(207, body)) as connector:
        (listed,) = await connector.list_range(T0, T0 + timedelta(days=1))
    assert listed.external_id == "/u/cal/a b.ics"
    assert (listed.key, listed.start) == ("", T0)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="ending in '/'"):
        CalDAVSettings("https://dav.example/u/cal", "u", "p")
    with pytest.raises(ValueError):
        CalDAVSettings("https://dav.example/u/cal/", "u", "p", timezone="Mars/Olympus")
