"""The REST CRM connector: request signing, then the connector against a real local CRM
server (and httpx.MockTransport for the answers no sane server gives)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from frontdesk.actions.connectors.base import (
    BookingRequest,
    Rejected,
    Unavailable,
    Uncertain,
)
from frontdesk.actions.connectors.crm import CrmConnector, CrmSettings
from frontdesk.actions.connectors.signing import SignatureError, sign, verify
from frontdesk.client.crm_server import CrmServer, CrmServerRunner

SECRET = b"crm-shared-secret"
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

# -- signing ---------------------------------------------------------------------------------


def test_signature_matches_vectors_computed_elsewhere() -> None:
    # pinned with `openssl dgst -sha256 -hmac topsecret` over the documented message
    body = b'{"a":1}'
    assert sign(b"topsecret", "POST", "/appointments?x=1", body, 1_700_000_000.9) == (
        "t=1700000000,v1=5b72398ac8d3f96aa107bb57462a4618919c6236d0bcfca7cfcba6b88974fe8d")
    assert sign(b"topsecret", "get", "/appointments?idempotency_key=k%2F1", b"",
                1_700_000_000) == (
        "t=1700000000,v1=8a8d04c7709423b3889ef4d0d32c32ab617900826e94d0d28dea01bc5c95229b")
    message = b"1700000123.DELETE./appointments/apt_1." + b"\x00\xff"
    expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    assert sign(SECRET, "DELETE", "/appointments/apt_1", b"\x00\xff", 1_700_000_123) == (
        f"t=1700000123,v1={expected}")


def _kind(header: str | None, *, secret: bytes = SECRET, method: str = "POST",
          target: str = "/a?b=1", body: bytes = b"x", now: float = 1000.0) -> str:
    with pytest.raises(SignatureError) as info:
        verify(secret, header, method, target, body, now)
    return info.value.kind


def test_verify_accepts_within_tolerance_and_names_each_failure() -> None:
    good = sign(SECRET, "POST", "/a?b=1", b"x", 1000)
    verify(SECRET, good, "POST", "/a?b=1", b"x", 1300)
    verify(SECRET, good, "post", "/a?b=1", b"x", 700)
    assert _kind(None) == "missing"
    assert _kind("  ") == "missing"
    digest = good.split("v1=")[1]
    for bad in ("garbage", f"t=abc,v1={digest}", "t=1000", f"v1={digest}",
                "t=1000,v1=abc", f"t=1000,t=1000,v1={digest}", f"t=-5,v1={digest}"):
        assert _kind(bad) == "malformed", bad
    assert _kind(good, now=1301) == "stale"
    assert _kind(good, now=699) == "stale"
    assert _kind(good, secret=b"other") == "mismatch"
    assert _kind(good, body=b"y") == "mismatch"
    assert _kind(good, method="PUT") == "mismatch"
    assert _kind(good, target="/a?b=2") == "mismatch"
    # a forged signature is a mismatch even when also stale
    assert _kind(good, secret=b"other", now=5000) == "mismatch"


def test_verify_accepts_any_of_several_v1_during_a_rotation() -> None:
    old = sign(b"old", "GET", "/a", b"", 1000).split("v1=")[1]
    new = sign(SECRET, "GET", "/a", b"", 1000).split("v1=")[1]
    verify(SECRET, f"t=1000,v1={old},v1={new.upper()},v2=future", "GET", "/a", b"", 1000)
    assert _kind(f"t=1000,v1={old}", method="GET", target="/a", body=b"") == "mismatch"


# -- against the local CRM server -----------------------------------------------------------


@dataclass
class Crm:
    server: CrmServer
    connector: CrmConnector
    base_url: str


def booking(key: str, minutes: int = 0, length: int = 30, **extra: Any) -> BookingRequest:
    start = T0 + timedelta(minutes=minutes)
    return BookingRequest(key=key, service_id="cut", service_name="Haircut", start=start,
                          end=start + timedelta(minutes=length), customer_name="Ann Lee",
                          customer_phone="+15550100", call_id="call-1", **extra)


@pytest.fixture
async def crm() -> AsyncIterator[Crm]:
    server = CrmServer(SECRET)
    async with CrmServerRunner(server) as runner:
        connector = CrmConnector(CrmSettings(base_url=runner.base_url, secret=SECRET))
        try:
            yield Crm(server, connector, runner.base_url)
        finally:
            await connector.aclose()


async def test_create_find_list_and_cancel(crm: Crm) -> None:
    request = booking("k1")
    created = await crm.connector.create(request)
    [stored] = crm.server.appointments()
    assert created.external_id == stored["id"]
    assert (created.key, created.start, created.end) == ("k1", request.start, request.end)
    assert (created.service_id, created.customer_name, created.customer_phone) == (
        "cut", "Ann Lee", "+15550100")
    assert stored["call_id"] == "call-1" and stored["service_name"] == "Haircut"
    assert await crm.connector.find("k1") == [created]
    assert await crm.connector.find("other") == []
    await crm.connector.create(booking("k2", minutes=60))
    in_range = await crm.connector.list_range(T0 + timedelta(minutes=20),
                                              T0 + timedelta(minutes=61))
    assert sorted(b.key for b in in_range) == ["k1", "k2"]
    later = await crm.connector.list_range(T0 + timedelta(minutes=30), T0 + timedelta(hours=3))
    assert [b.key for b in later] == ["k2"]  # [9:00, 9:30) does not overlap [9:30, ...)
    assert await crm.connector.cancel("k1") is True
    assert await crm.connector.find("k1") == []
    assert await crm.connector.cancel("k1") is False
    assert [r["idempotency_key"] for r in crm.server.appointments()] == ["k2"]
    assert all(r.signature_valid for r in crm.server.requests)
    assert {r.method for r in crm.server.requests} == {"POST", "GET", "DELETE"}


async def test_times_in_another_zone_are_sent_and_read_back_as_utc(crm: Crm) -> None:
    paris = timezone(timedelta(hours=2))
    start = datetime(2025, 6, 2, 11, 0, tzinfo=paris)
    request = BookingRequest(key="tz", service_id="cut", service_name="Haircut", start=start,
                             end=start + timedelta(minutes=30), customer_name="Ann")
    created = await crm.connector.create(request)
    assert crm.server.appointments()[0]["start"] == "2025-06-02T09:00:00Z"
    assert created.start == T0 and created.start.tzinfo == UTC
    assert created.customer_phone is None
    with pytest.raises(ValueError, match="naive"):
        await crm.connector.list_range(datetime(2025, 6, 2), datetime(2025, 6, 3))


async def test_a_repeated_create_returns_the_same_record(crm: Crm) -> None:
    first = await crm.connector.create(booking("k1"))
    again = await crm.connector.create(booking("k1"))
    assert again == first
    assert len(crm.server.appointments()) == 1
    assert [r.status for r in crm.server.requests] == [201, 200]
    assert [r.key for r in crm.server.requests] == ["k1", "k1"]


async def test_a_crm_ignoring_the_idempotency_key_makes_duplicates_find_shows(
        crm: Crm) -> None:
    # the server knob the executor's lookup-before-retry is tested against
    crm.server.honour_idempotency = False
    first = await crm.connector.create(booking("k1"))
    again = await crm.connector.create(booking("k1"))
    assert first.external_id != again.external_id
    assert len(await crm.connector.find("k1")) == 2


async def test_a_dropped_write_looks_like_success_until_looked_up(crm: Crm) -> None:
    crm.server.drop_writes = True
    created = await crm.connector.create(booking("k1"))
    assert created.key == "k1" and created.external_id
    assert await crm.connector.find("k1") == []  # why the executor verifies before speaking


async def test_an_error_after_the_write_is_uncertain_and_the_record_exists(crm: Crm) -> None:
    crm.server.fail_next(1, 500, after_write=True)
    with pytest.raises(Uncertain) as info:
        await crm.connector.create(booking("k1"))
    assert info.value.applied_maybe and info.value.retryable
    assert "500" in info.value.reason
    [found] = await crm.connector.find("k1")
    assert (await crm.connector.create(booking("k1"))).external_id == found.external_id
    assert len(crm.server.appointments()) == 1


async def test_an_error_before_the_write_is_uncertain_and_nothing_exists(crm: Crm) -> None:
    crm.server.fail_next(1, 503, after_write=False)
    with pytest.raises(Uncertain):
        await crm.connector.create(booking("k1"))
    assert await crm.connector.find("k1") == []


async def test_cancel_failing_after_find_is_uncertain(crm: Crm) -> None:
    await crm.connector.create(booking("k1"))
    crm.server.fail_next(1, 500, after_write=True)
    with pytest.raises(Uncertain):
        await crm.connector.cancel("k1")
    assert crm.server.appointments() == []


async def test_a_slot_conflict_is_rejected(crm: Crm) -> None:
    crm.server.reject_overlaps = True
    await crm.connector.create(booking("k1"))
    with pytest.raises(Rejected) as info:
        await crm.connector.create(booking("k2", minutes=15))
    assert info.value.reason == "slot conflict" and not info.value.retryable
    assert info.value.code == "slot_taken"  # the caller is offered other times
    assert [b.key for b in await crm.connector.list_range(T0, T0 + timedelta(hours=1))] == [
        "k1"]


async def test_a_wrong_secret_is_rejected_as_an_auth_failure(crm: Crm) -> None:
    wrong = CrmConnector(CrmSettings(base_url=crm.base_url, secret=b"not-the-secret"))
    try:
        with pytest.raises(Rejected) as info:
            await wrong.create(booking("k1"))
        assert "authentication failed (401)" in info.value.reason
        with pytest.raises(Unavailable, match="authentication failed"):
            await wrong.find("k1")
    finally:
        await wrong.aclose()
    assert [r.signature_valid for r in crm.server.requests] == [False, False]
    assert crm.server.appointments() == []


async def test_a_skewed_clock_makes_signatures_stale(crm: Crm) -> None:
    skewed = CrmConnector(CrmSettings(base_url=crm.base_url, secret=SECRET),
                          clock=lambda: 1_000_000_000.0)
    try:
        with pytest.raises(Rejected, match="authentication"):
            await skewed.create(booking("k1"))
    finally:
        await skewed.aclose()
    assert crm.server.requests[-1].signature_valid is False


async def test_field_map_renames_fields_end_to_end() -> None:
    names = {"idempotency_key": "external_ref", "id": "appointment_id", "start": "starts_at",
             "end": "ends_at", "customer_name": "client", "service_id": "product"}
    server = CrmServer(SECRET, field_map=names, idempotency_header="X-Request-Id")
    async with CrmServerRunner(server) as runner:
        connector = CrmConnector(CrmSettings(
            base_url=runner.base_url, secret=SECRET, field_map=names,
            find_path="/appointments?external_ref={key}", idempotency_header="X-Request-Id"))
        try:
            created = await connector.create(booking("k/1 ?&"))
            [stored] = server.appointments()
            assert stored["external_ref"] == "k/1 ?&" and stored["client"] == "Ann Lee"
            assert stored["product"] == "cut" and stored["starts_at"] == "2025-06-02T09:00:00Z"
            assert "idempotency_key" not in stored and "start" not in stored
            assert created.external_id == stored["appointment_id"]
            assert created.customer_name == "Ann Lee" and created.service_id == "cut"
            assert server.requests[0].key == "k/1 ?&"
            assert await connector.find("k/1 ?&") == [created]
            assert await connector.list_range(T0, T0 + timedelta(hours=1)) == [created]
            assert await connector.cancel("k/1 ?&") is True
        finally:
            await connector.aclose()
    assert server.appointments() == []


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A port bound but not listening (held so nobody else takes it): connections are
    refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


async def test_a_dead_port_is_unavailable(dead_url: str) -> None:
    connector = CrmConnector(CrmSettings(base_url=dead_url, secret=SECRET))
    try:
        with pytest.raises(Unavailable) as info:
            await connector.create(booking("k1"))
        assert not info.value.applied_maybe and "ConnectError" in info.value.reason
        with pytest.raises(Unavailable):
            await connector.find("k1")
    finally:
        await connector.aclose()


# -- answers only a mock gives ----------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def mocked(handler: Handler, base_url: str = "http://crm.test") -> CrmConnector:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return CrmConnector(CrmSettings(base_url=base_url, secret=SECRET), client=client,
                        clock=lambda: 1_750_000_000.0)


def record(key: str = "k1", **changes: Any) -> dict[str, Any]:
    base = {"id": "r1", "idempotency_key": key, "start": "2025-06-02T09:00:00Z",
            "end": "2025-06-02T09:30:00Z", "customer_name": "Ann Lee"}
    return {**base, **changes}


def raising(exc_type: type[httpx.TransportError], on: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == on:
            raise exc_type("scripted", request=request)
        return httpx.Response(200, json=[])
    return handler


@pytest.mark.parametrize(("exc_type", "expected"), [
    (httpx.ReadTimeout, Uncertain), (httpx.WriteTimeout, Uncertain),
    (httpx.ReadError, Uncertain), (httpx.RemoteProtocolError, Uncertain),
    (httpx.ConnectError, Unavailable), (httpx.ConnectTimeout, Unavailable),
    (httpx.PoolTimeout, Unavailable),
])
async def test_transport_errors_on_create(exc_type: type[httpx.TransportError],
                                          expected: type[Exception]) -> None:
    connector = mocked(raising(exc_type, "POST"))
    with pytest.raises(expected, match=exc_type.__name__):
        await connector.create(booking("k1"))
    assert await connector.find("k1") == []


async def test_transport_errors_on_reads_are_unavailable() -> None:
    connector = mocked(raising(httpx.ReadTimeout, "GET"))
    with pytest.raises(Unavailable, match="ReadTimeout"):
        await connector.find("k1")
    with pytest.raises(Unavailable):
        await connector.list_range(T0, T0 + timedelta(hours=1))


@pytest.mark.parametrize(("status", "content", "why"), [
    (201, b"{not json", "no readable record"),
    (201, json.dumps(record(id=None)).encode(), "no 'id'"),
    (200, json.dumps(record(start="2025-06-02T09:00:00")).encode(), "no UTC offset"),
    (201, json.dumps(record(key="someone-else")).encode(), "another key"),
    (201, json.dumps([record()]).encode(), "not a JSON object"),
    (202, b"", "202 without a record"),
    (204, b"", "204 without a record"),
])
async def test_a_success_without_a_readable_record_is_uncertain(status: int, content: bytes,
                                                                why: str) -> None:
    connector = mocked(lambda request: httpx.Response(status, content=content))
    with pytest.raises(Uncertain, match=why):
        await connector.create(booking("k1"))


async def test_the_booking_is_read_from_the_answer_not_echoed() -> None:
    answer = record(id=42, start="2025-06-02T11:00:00+02:00", end="2025-06-02T11:45:00+02:00",
                    customer_name="A. Lee")
    connector = mocked(lambda request: httpx.Response(201, json=answer))
    created = await connector.create(booking("k1"))
    assert created.external_id == "42" and created.customer_name == "A. Lee"
    assert (created.start, created.end) == (T0, T0 + timedelta(minutes=45))
    assert created.service_id is None  # the CRM did not say, so neither do we


@pytest.mark.parametrize(("status", "expected", "why"), [
    (400, Rejected, "HTTP 400: bad phone"), (422, Rejected, "HTTP 422: bad phone"),
    (403, Rejected, "authentication failed"), (404, Rejected, "HTTP 404"),
    (409, Rejected, "slot conflict"), (429, Unavailable, "HTTP 429"),
    (408, Unavailable, "HTTP 408"), (500, Uncertain, "HTTP 500"), (502, Uncertain, "HTTP 502"),
    (504, Uncertain, "HTTP 504"), (307, Rejected, "HTTP 307"),
])
async def test_create_statuses(status: int, expected: type[Exception], why: str) -> None:
    connector = mocked(lambda request: httpx.Response(status, json={"error": "bad phone"}))
    with pytest.raises(expected, match=why):
        await connector.create(booking("k1"))


@pytest.mark.parametrize(("status", "content"), [
    (500, b"[]"), (404, b"[]"), (401, b"[]"), (200, b"[oops"), (200, b'{"data": []}'),
    (200, json.dumps([record(start=None)]).encode()),
])
async def test_any_read_failure_is_unavailable(status: int, content: bytes) -> None:
    connector = mocked(lambda request: httpx.Response(status, content=content))
    with pytest.raises(Unavailable):
        await connector.find("k1")


async def test_find_keeps_only_the_key_asked_for() -> None:
    # a CRM that ignores the filter and answers with everything, some of it unreadable
    everything = [record("k1", id="a"), record("k2", id="b"), {"junk": True}, "x",
                  record("k1", id="c")]
    connector = mocked(lambda request: httpx.Response(200, json=everything))
    assert [b.external_id for b in await connector.find("k1")] == ["a", "c"]


async def test_list_range_keeps_only_overlapping_records() -> None:
    records = [record("k1", id="a"),
               record("k2", id="b", start="2025-06-02T10:00:00Z", end="2025-06-02T10:30:00Z")]
    connector = mocked(lambda request: httpx.Response(200, json=records))
    found = await connector.list_range(T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    assert [b.external_id for b in found] == ["b"]


async def test_every_request_is_signed_over_the_full_target_under_a_prefix() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode()
        verify(SECRET, request.headers.get("x-frontdesk-signature"), request.method, target,
               request.content, 1_750_000_000.0)
        seen.append((request.method, target))
        if request.method == "POST":
            return httpx.Response(201, json=record())
        if request.method == "DELETE":
            return httpx.Response(404)  # gone already: not an error, not a deletion
        return httpx.Response(200, json=[record()])

    connector = mocked(handler, base_url="http://crm.test/api/v2/")
    await connector.create(booking("k1"))
    await connector.list_range(T0, T0 + timedelta(hours=1))
    assert await connector.cancel("k1") is False
    assert seen == [
        ("POST", "/api/v2/appointments"),
        ("GET", "/api/v2/appointments?start=2025-06-02T09%3A00%3A00Z"
                "&end=2025-06-02T10%3A00%3A00Z"),
        ("GET", "/api/v2/appointments?idempotency_key=k1"),
        ("DELETE", "/api/v2/appointments/r1"),
    ]


async def test_an_injected_client_is_left_open() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    connector = CrmConnector(CrmSettings(base_url="http://crm.test", secret=SECRET),
                             client=client)
    await connector.aclose()
    assert not client.is_closed
    await client.aclose()


@pytest.mark.parametrize(("changes", "why"), [
    ({"base_url": "ftp://crm.test"}, "base_url"),
    ({"base_url": "http://crm.test?x=1"}, "base_url"),
    ({"secret": b""}, "secret"),
    ({"find_path": "/appointments"}, "find_path"),
    ({"list_path": "/appointments?start={start}&end={stop}"}, "list_path"),
    ({"cancel_path": "appointments/{id}"}, "cancel_path"),
    ({"field_map": {"colour": "color"}}, "unknown fields"),
    ({"field_map": {"start": "when", "end": "when"}}, "two of our fields"),
])
def test_settings_refuse_misconfiguration(changes: dict[str, Any], why: str) -> None:
    settings: dict[str, Any] = {"base_url": "http://crm.test", "secret": SECRET, **changes}
    with pytest.raises(ValueError, match=why):
        CrmSettings(**settings)


def test_settings_complete_the_field_map_and_hide_the_secret() -> None:
    settings = CrmSettings(base_url="https://crm.test/api/", secret=SECRET,
                           field_map={"id": "uuid"})
    assert settings.base_url == "https://crm.test/api"
    assert settings.field_map["id"] == "uuid" and settings.field_map["start"] == "start"
    assert "crm-shared-secret" not in repr(settings)
