"""The fake CRM's decisions, without sockets: signatures, idempotency, misbehaviour knobs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from frontdesk.actions.connectors.signing import sign
from frontdesk.client.crm_server import CrmAnswer, CrmServer

SECRET = b"server-test-secret"
NOW = 1_750_000_000.0


def make(**kwargs: Any) -> CrmServer:
    return CrmServer(SECRET, now=lambda: NOW, **kwargs)


def appointment(key: str, start: str = "2025-06-02T09:00:00Z",
                end: str = "2025-06-02T09:30:00Z", **extra: Any) -> dict[str, Any]:
    return {"idempotency_key": key, "service_id": "cut", "service_name": "Haircut",
            "start": start, "end": end, "customer_name": "Ann", **extra}


async def call(server: CrmServer, method: str, target: str, body: Any = None, *,
               key: str | None = None, secret: bytes = SECRET, signed_at: float = NOW,
               signed_target: str | None = None) -> CrmAnswer:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"X-Frontdesk-Signature": sign(secret, method, signed_target or target, raw,
                                             signed_at)}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await server.handle(method, target, headers, raw)


async def post(server: CrmServer, key: str, **kwargs: Any) -> CrmAnswer:
    return await call(server, "POST", "/appointments", appointment(key, **kwargs), key=key)


# -- signatures ------------------------------------------------------------------------------


async def test_an_unsigned_request_is_refused_and_recorded_as_such() -> None:
    server = make()
    answer = await server.handle("POST", "/appointments", {"Idempotency-Key": "k1"},
                                 json.dumps(appointment("k1")).encode())
    assert answer.status == 401
    assert answer.body["kind"] == "missing"
    assert server.appointments() == []
    [request] = server.requests
    assert (request.method, request.key, request.signature_valid, request.status) == (
        "POST", "k1", False, 401)


async def test_wrong_secret_stale_time_and_altered_query_are_refused() -> None:
    server = make()
    wrong = await call(server, "GET", "/appointments", secret=b"other")
    stale = await call(server, "GET", "/appointments", signed_at=NOW - 301)
    ahead = await call(server, "GET", "/appointments", signed_at=NOW + 301)
    altered = await call(server, "GET", "/appointments?idempotency_key=b",
                         signed_target="/appointments?idempotency_key=a")
    assert [a.body["kind"] for a in (wrong, stale, ahead, altered)] == [
        "mismatch", "stale", "stale", "mismatch"]
    edge = await call(server, "GET", "/appointments", signed_at=NOW - 300)
    assert edge.status == 200
    assert [r.signature_valid for r in server.requests] == [False] * 4 + [True]


# -- creating, idempotency -----------------------------------------------------------------


async def test_create_stores_the_mapped_fields_with_an_id_and_created_at() -> None:
    server = make()
    answer = await post(server, "k1", unknown_field="dropped")
    assert answer.status == 201
    record = answer.body
    assert record["id"].startswith("apt_")
    assert record["created_at"] == "2025-06-15T15:06:40Z"
    assert "unknown_field" not in record
    assert server.appointments() == [record]
    assert server.find_by_key("k1") == [record]
    assert server.find_by_key("k2") == []


async def test_a_repeated_key_gets_the_first_answer_and_stores_nothing_new() -> None:
    server = make()
    first = await post(server, "k1")
    again = await post(server, "k1")
    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert len(server.appointments()) == 1


async def test_a_careless_crm_ignores_the_idempotency_key() -> None:
    server = make(honour_idempotency=False)
    first = await post(server, "k1")
    again = await post(server, "k1")
    assert (first.status, again.status) == (201, 201)
    assert first.body["id"] != again.body["id"]
    assert len(server.find_by_key("k1")) == 2


async def test_drop_writes_acknowledges_a_record_it_never_keeps() -> None:
    server = make()
    server.drop_writes = True
    dropped = await post(server, "k1")
    assert dropped.status == 201 and dropped.body["id"].startswith("apt_")
    assert server.appointments() == []
    server.drop_writes = False  # the key was not remembered either: a retry writes
    retried = await post(server, "k1")
    assert retried.status == 201 and retried.body["id"] != dropped.body["id"]
    assert len(server.appointments()) == 1


async def test_lose_forgets_the_record_and_the_key() -> None:
    server = make()
    first = await post(server, "k1")
    await post(server, "k2")
    assert server.lose("k1") == 1
    assert [r["idempotency_key"] for r in server.appointments()] == ["k2"]
    again = await post(server, "k1")
    assert again.status == 201 and again.body["id"] != first.body["id"]


async def test_create_validates_its_body() -> None:
    server = make()
    not_json = await server.handle(
        "POST", "/appointments",
        {"X-Frontdesk-Signature": sign(SECRET, "POST", "/appointments", b"{", NOW)}, b"{")
    mismatch = await call(server, "POST", "/appointments", appointment("k1"), key="k2")
    naive = await post(server, "k3", start="2025-06-02T09:00:00")
    backwards = await post(server, "k4", start="2025-06-02T10:00:00Z")
    assert [a.status for a in (not_json, mismatch, naive, backwards)] == [400, 422, 422, 422]
    assert server.appointments() == []


async def test_overlaps_are_refused_only_when_asked() -> None:
    server = make(reject_overlaps=True)
    await post(server, "k1")
    clash = await post(server, "k2", start="2025-06-02T09:15:00+00:00",
                       end="2025-06-02T09:45:00+00:00")
    touching = await post(server, "k3", start="2025-06-02T09:30:00Z",
                          end="2025-06-02T10:00:00Z")
    replay = await post(server, "k1")
    assert (clash.status, touching.status, replay.status) == (409, 201, 200)
    server.reject_overlaps = False
    assert (await post(server, "k2", start="2025-06-02T09:15:00Z")).status == 201


# -- scripted failures -----------------------------------------------------------------------


async def test_fail_next_after_write_applies_the_write_then_answers_the_error() -> None:
    server = make()
    server.fail_next(1, 500, after_write=True)
    failed = await post(server, "k1")
    assert failed.status == 500
    [stored] = server.find_by_key("k1")
    replay = await post(server, "k1")
    assert replay.status == 200 and replay.body == stored


async def test_fail_next_before_write_applies_nothing_and_spares_reads() -> None:
    server = make()
    server.fail_next(2, 503, after_write=False)
    listed = await call(server, "GET", "/appointments")
    assert listed.status == 200  # reads do not consume scripted write failures
    statuses = [(await post(server, "k1")).status for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert len(server.find_by_key("k1")) == 1


async def test_delete_and_its_failures() -> None:
    server = make()
    first = (await post(server, "k1")).body["id"]
    second = (await post(server, "k2")).body["id"]
    server.fail_next(1, 502, after_write=True)
    assert (await call(server, "DELETE", f"/appointments/{first}")).status == 502
    assert server.find_by_key("k1") == []
    server.fail_next(1, 500, after_write=False)
    assert (await call(server, "DELETE", f"/appointments/{second}")).status == 500
    assert len(server.find_by_key("k2")) == 1
    assert (await call(server, "DELETE", f"/appointments/{second}")).status == 204
    assert (await call(server, "DELETE", f"/appointments/{second}")).status == 404


# -- reading ---------------------------------------------------------------------------------


async def test_get_filters_by_key_and_by_overlap() -> None:
    server = make()
    await post(server, "k1")
    await post(server, "k2", start="2025-06-02T10:00:00Z", end="2025-06-02T11:00:00Z")
    by_key = await call(server, "GET", "/appointments?idempotency_key=k2")
    assert [r["idempotency_key"] for r in by_key.body] == ["k2"]
    in_range = await call(server, "GET",
                          "/appointments?start=2025-06-02T09%3A30%3A00Z&end=2025-06-02T10%3A30%3A00Z")
    assert [r["idempotency_key"] for r in in_range.body] == ["k2"]
    both = await call(server, "GET", "/appointments")
    assert len(both.body) == 2
    half = await call(server, "GET", "/appointments?start=2025-06-02T09%3A30%3A00Z")
    assert half.status == 400


async def test_unknown_paths_and_methods() -> None:
    server = make()
    assert (await call(server, "GET", "/nowhere")).status == 404
    assert (await call(server, "PUT", "/appointments")).status == 405
    assert (await call(server, "POST", "/appointments/x/y")).status == 404


# -- configuration ---------------------------------------------------------------------------


async def test_latency_goes_through_the_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    server = make(sleep=sleep)
    await call(server, "GET", "/appointments")
    server.latency_s = 0.25
    await call(server, "GET", "/appointments")
    assert slept == [0.25]


async def test_field_map_renames_the_stored_record_and_the_key_query() -> None:
    server = make(field_map={"idempotency_key": "external_ref", "id": "appointment_id",
                             "start": "starts_at", "end": "ends_at"})
    body = {"external_ref": "k1", "starts_at": "2025-06-02T09:00:00Z",
            "ends_at": "2025-06-02T09:30:00Z"}
    created = await call(server, "POST", "/appointments", body, key="k1")
    assert created.status == 201
    assert set(created.body) == {"external_ref", "starts_at", "ends_at", "appointment_id",
                                 "created_at"}
    found = await call(server, "GET", "/appointments?external_ref=k1")
    assert found.body == [created.body]
    assert server.find_by_key("k1") == [created.body]
    with pytest.raises(ValueError, match="unknown fields"):
        make(field_map={"colour": "color"})
