"""The fault proxy against a real upstream (Starlette under uvicorn on loopback) and a real
client (httpx): each fault is checked on both sides, what the client saw and whether the
write reached upstream."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from frontdesk.client.faultproxy import (
    Fault,
    FaultKind,
    FaultPlan,
    FaultProxy,
    ProxyEvent,
    RandomPlan,
)

CHUNKS = [b"BEGIN:VCALENDAR\r\n", b"x" * 70000, b"\r\nEND:VCALENDAR\r\n"]


@dataclass
class Upstream:
    """A tiny REST backend: what it holds is the truth about which writes landed."""

    items: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def item(request: Request) -> Response:
            name = request.path_params["name"]
            self.requests.append((request.method, request.url.path))
            if request.method in ("PUT", "POST"):
                self.items[name] = await request.body()
                return Response(b'{"ok": true}', 201, {"etag": f'"{name}-1"'},
                                media_type="application/json")
            if request.method == "DELETE":
                return Response(status_code=204 if self.items.pop(name, None) else 404)
            if name not in self.items:
                return Response(b"no such item", 404)
            return Response(self.items[name], media_type="text/calendar")

        async def chunked(request: Request) -> StreamingResponse:
            async def body() -> AsyncIterator[bytes]:
                for chunk in CHUNKS:
                    yield chunk

            return StreamingResponse(body(), media_type="text/calendar")

        return Starlette(routes=[
            Route("/items/{name}", item, methods=["GET", "PUT", "POST", "DELETE"]),
            Route("/chunked", chunked),
        ])


@contextlib.asynccontextmanager
async def running_upstream() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # bound before the server runs: early connects wait in the backlog
    upstream.port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(upstream.app(), log_level="warning",
                                           log_config=None, lifespan="off"))
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(sockets=[listener]))
            try:
                yield upstream
            finally:
                server.should_exit = True
    finally:
        listener.close()


@dataclass
class Rig:
    upstream: Upstream
    proxy: FaultProxy
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def rig(plan: FaultPlan, *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
              client_timeout: float = 5.0) -> AsyncIterator[Rig]:
    async with running_upstream() as upstream, \
            FaultProxy("127.0.0.1", upstream.port, plan, sleep=sleep) as proxy, \
            httpx.AsyncClient(base_url=proxy.base_url, timeout=client_timeout) as client:
        yield Rig(upstream, proxy, client)


class Gate:
    """An injected sleep that returns only when the test opens the gate."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.called = asyncio.Event()
        self.opened = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.called.set()
        await self.opened.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def proxy_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").startswith("FaultProxy.")]


# -- each fault, both sides --------------------------------------------------------------

async def test_no_fault_forwards_and_relays() -> None:
    async with rig(FaultPlan()) as r:
        resp = await r.client.put("/items/a", content=b"hello")
        assert (resp.status_code, resp.headers["etag"], resp.json()) == (201, '"a-1"',
                                                                          {"ok": True})
        assert r.upstream.items == {"a": b"hello"}
        got = await r.client.get("/items/a")
        assert (got.status_code, got.content) == (200, b"hello")
        assert [(e.method, e.target, e.fault_kind, e.upstream_status, e.client_status)
                for e in r.proxy.log] == [("PUT", "/items/a", FaultKind.NONE, 201, 201),
                                          ("GET", "/items/a", FaultKind.NONE, 200, 200)]


async def test_status_answers_without_forwarding() -> None:
    async with rig(FaultPlan(Fault.status(503))) as r:
        resp = await r.client.put("/items/a", content=b"hello")
        assert resp.status_code == 503
        assert resp.json()["status"] == 503
        assert r.upstream.items == {} and r.upstream.requests == []
        assert r.proxy.log[0].fault_kind is FaultKind.STATUS
        assert (r.proxy.log[0].upstream_status, r.proxy.log[0].client_status) == (None, 503)
        assert not r.proxy.log[0].landed


async def test_status_after_write_lands_but_reports_failure() -> None:
    async with rig(FaultPlan(Fault.status_after_write(500))) as r:
        resp = await r.client.post("/items/b", content=b"body")
        assert resp.status_code == 500
        assert r.upstream.items == {"b": b"body"}
        event = r.proxy.log[0]
        assert (event.fault_kind, event.upstream_status, event.client_status) == (
            FaultKind.STATUS_AFTER_WRITE, 201, 500)


async def test_ack_without_write_claims_success_and_drops_it() -> None:
    plan = FaultPlan(Fault.ack_without_write(201, b'{"id": 7}', [("etag", '"fake"')]))
    async with rig(plan) as r:
        resp = await r.client.put("/items/c", content=b"lost")
        assert (resp.status_code, resp.content, resp.headers["etag"]) == (201, b'{"id": 7}',
                                                                          '"fake"')
        assert r.upstream.items == {} and r.upstream.requests == []
        assert (await r.client.get("/items/c")).status_code == 404  # the truth, on a read
        assert r.proxy.counts() == {FaultKind.ACK_WITHOUT_WRITE: 1, FaultKind.NONE: 1}


async def test_hang_after_write_times_out_the_client_but_the_write_landed() -> None:
    async with rig(FaultPlan(Fault.hang_after_write()), client_timeout=0.2) as r:
        with pytest.raises(httpx.ReadTimeout):
            await r.client.put("/items/d", content=b"late")
        await r.proxy.wait_for_events(1)
        assert r.upstream.items == {"d": b"late"}
        event = r.proxy.log[0]
        assert (event.fault_kind, event.upstream_status, event.client_status) == (
            FaultKind.HANG_AFTER_WRITE, 201, None)


async def test_reset_before_write() -> None:
    async with rig(FaultPlan(Fault.reset_before_write())) as r:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await r.client.put("/items/e", content=b"x")
        await r.proxy.wait_idle()
        assert r.upstream.requests == []
        assert (r.proxy.log[0].fault_kind, r.proxy.log[0].client_status) == (
            FaultKind.RESET_BEFORE_WRITE, None)
        # the next request opens a new connection and goes through
        assert (await r.client.put("/items/e", content=b"y")).status_code == 201
        assert r.proxy.connections == 2


async def test_reset_after_write() -> None:
    async with rig(FaultPlan(Fault.reset_after_write())) as r:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await r.client.put("/items/f", content=b"x")
        await r.proxy.wait_idle()
        assert r.upstream.items == {"f": b"x"}
        event = r.proxy.log[0]
        assert (event.fault_kind, event.upstream_status, event.client_status) == (
            FaultKind.RESET_AFTER_WRITE, 201, None)


async def test_reset_is_a_tcp_reset_not_a_clean_close() -> None:
    async with running_upstream() as upstream, \
            FaultProxy("127.0.0.1", upstream.port, FaultPlan(Fault.reset_before_write())) as p:
        reader, writer = await asyncio.open_connection("127.0.0.1", p.port)
        try:
            writer.write(b"PUT /items/g HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nz")
            with pytest.raises(ConnectionResetError):
                await reader.read()  # a FIN would give b"" instead
        finally:
            writer.close()
            with contextlib.suppress(ConnectionResetError):
                await writer.wait_closed()


async def test_delay_holds_the_write_until_the_injected_sleep_returns() -> None:
    gate = Gate()
    async with rig(FaultPlan(Fault.delay(7.5)), sleep=gate.sleep) as r:
        put = asyncio.create_task(r.client.put("/items/h", content=b"slow"))
        await gate.called.wait()
        assert gate.calls == [7.5]
        assert r.upstream.requests == [] and not put.done()
        gate.opened.set()
        resp = await put
        assert resp.status_code == 201 and r.upstream.items == {"h": b"slow"}
        assert r.proxy.log[0].fault_kind is FaultKind.DELAY


async def test_delayed_write_lands_after_the_client_gave_up() -> None:
    gate = Gate()
    async with rig(FaultPlan(Fault.delay(10.0)), sleep=gate.sleep) as r:
        put = asyncio.create_task(r.client.put("/items/i", content=b"late"))
        await gate.called.wait()
        put.cancel()
        with pytest.raises(asyncio.CancelledError):
            await put
        assert r.upstream.items == {}
        gate.opened.set()
        await r.proxy.wait_idle()
        assert r.upstream.items == {"i": b"late"}
        assert r.proxy.log[0].upstream_status == 201


# -- the plan ------------------------------------------------------------------------------

async def test_reads_pass_through_and_keep_the_queue_for_writes() -> None:
    plan = FaultPlan(Fault.status(503))
    async with rig(plan) as r:
        assert (await r.client.get("/items/x")).status_code == 404
        assert plan.pending == 1
        assert (await r.client.delete("/items/x")).status_code == 503
        assert plan.pending == 0
        assert (await r.client.delete("/items/x")).status_code == 404  # default: none
        plan.reads = Fault.status(502)
        assert (await r.client.get("/items/x")).status_code == 502
        assert [e.fault_kind for e in r.proxy.log] == [
            FaultKind.NONE, FaultKind.STATUS, FaultKind.NONE, FaultKind.STATUS]


def test_fault_plan_order_default_and_predicate() -> None:
    plan = FaultPlan(Fault.status(500), default=Fault.status(503),
                     applies_to=lambda method, target: target.startswith("/crm/"))
    plan.push(Fault.hang_after_write())
    assert plan.next_fault("PUT", "/other") == Fault.none()
    assert plan.next_fault("GET", "/crm/1") == Fault.status(500)
    assert plan.next_fault("PUT", "/crm/1") == Fault.hang_after_write()
    assert plan.next_fault("PUT", "/crm/1") == Fault.status(503)


def test_faults_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Fault.delay(-1)
    with pytest.raises(ValueError):
        Fault.status(99)
    with pytest.raises(ValueError):
        RandomPlan(1, {FaultKind.NONE: 0.0})


def draws(plan: FaultPlan, n: int) -> list[Fault]:
    return [plan.next_fault("PUT", f"/items/{i}") for i in range(n)]


def test_random_plan_is_reproducible_per_seed() -> None:
    weights = {FaultKind.NONE: 2.0, FaultKind.DELAY: 1.0, FaultKind.STATUS: 1.0,
               FaultKind.HANG_AFTER_WRITE: 1.0, FaultKind.RESET_AFTER_WRITE: 0.0}
    first = draws(RandomPlan(42, weights, delay=(1.0, 3.0)), 300)
    assert first == draws(RandomPlan(42, weights, delay=(1.0, 3.0)), 300)
    assert first != draws(RandomPlan(43, weights, delay=(1.0, 3.0)), 300)
    kinds = {f.kind for f in first}
    assert kinds == {FaultKind.NONE, FaultKind.DELAY, FaultKind.STATUS,
                     FaultKind.HANG_AFTER_WRITE}
    assert all(1.0 <= f.seconds <= 3.0 for f in first if f.kind is FaultKind.DELAY)
    assert {f.status_code for f in first if f.kind is FaultKind.STATUS} <= {500, 502, 503}
    plan = RandomPlan(42, weights)
    assert plan.next_fault("GET", "/items/1") == Fault.none()  # reads draw nothing
    plan.push(Fault.reset_before_write())
    assert plan.next_fault("PUT", "/items/1") == Fault.reset_before_write()
    assert draws(plan, 5) == first[:5]


async def test_random_plan_through_the_proxy_matches_its_replay() -> None:
    weights = {FaultKind.NONE: 1.0, FaultKind.STATUS: 1.0, FaultKind.STATUS_AFTER_WRITE: 1.0,
               FaultKind.ACK_WITHOUT_WRITE: 1.0}
    async with rig(RandomPlan(9, weights)) as r:
        for i in range(24):
            await r.client.put(f"/items/{i}", content=str(i).encode())
        expected = draws(RandomPlan(9, weights), 24)
        assert [e.fault_kind for e in r.proxy.log] == [f.kind for f in expected]
        landed = {str(i) for i, f in enumerate(expected) if f.kind.forwards}
        assert set(r.upstream.items) == landed
        assert [e.landed for e in r.proxy.log] == [f.kind.forwards for f in expected]
        assert sum(r.proxy.counts().values()) == 24


# -- HTTP framing ----------------------------------------------------------------------------

async def test_chunked_upstream_response_is_relayed_intact() -> None:
    async with rig(FaultPlan()) as r:
        async with httpx.AsyncClient() as direct:
            raw = await direct.get(f"{r.upstream.url}/chunked")
        assert raw.headers.get("transfer-encoding") == "chunked"  # the case under test
        resp = await r.client.get("/chunked")
        assert resp.content == b"".join(CHUNKS)
        assert resp.headers["content-type"].startswith("text/calendar")


async def test_chunked_request_body_reaches_upstream() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"part one, "
        yield b"part two"

    async with rig(FaultPlan()) as r:
        resp = await r.client.put("/items/k", content=body())
        assert resp.status_code == 201
        assert r.upstream.items == {"k": b"part one, part two"}


async def test_keep_alive_serves_many_requests_and_faults_on_one_connection() -> None:
    plan = FaultPlan(Fault.status(503), Fault.ack_without_write(), Fault.none())
    async with rig(plan) as r:
        statuses = [(await r.client.put(f"/items/{i}", content=b"v")).status_code
                    for i in range(3)]
        head = await r.client.head("/items/2")
        get = await r.client.get("/items/2")
        assert statuses == [503, 201, 201]
        assert (head.status_code, head.headers["content-length"], head.content) == (200, "1",
                                                                                    b"")
        assert (get.status_code, get.content) == (200, b"v")
        assert r.proxy.connections == 1
        assert r.upstream.items == {"2": b"v"}


async def test_expect_100_continue_is_answered_before_the_body() -> None:
    async with running_upstream() as upstream, \
            FaultProxy("127.0.0.1", upstream.port, FaultPlan()) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            writer.write(b"PUT /items/m HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n"
                         b"expect: 100-continue\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100 ")
            writer.write(b"body")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 201 ")
        finally:
            writer.close()
            await writer.wait_closed()
        assert upstream.items == {"m": b"body"}


# -- bad input, bad upstream, shutdown -------------------------------------------------------

async def test_malformed_request_gets_400_and_the_connection_closes() -> None:
    async with running_upstream() as upstream, \
            FaultProxy("127.0.0.1", upstream.port, FaultPlan()) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        answer = await reader.read()  # to EOF: the proxy closed the connection
        writer.close()
        await writer.wait_closed()
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"connection: close" in answer.lower()
        assert upstream.requests == []
        [event] = proxy.log
        assert event.client_status == 400 and (event.error or "").startswith("malformed")


async def test_upstream_down_gives_502() -> None:
    async with FaultProxy("127.0.0.1", free_port(), FaultPlan()) as proxy, \
            httpx.AsyncClient(base_url=proxy.base_url) as client:
        resp = await client.put("/items/a", content=b"x")
        assert resp.status_code == 502
        assert (await client.get("/items/a")).status_code == 502  # connection kept alive
        assert proxy.connections == 1
        assert all(e.upstream_status is None and e.client_status == 502
                   and (e.error or "").startswith("connect") for e in proxy.log)


async def test_garbage_from_upstream_gives_502() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SPAM SPAM SPAM\r\n\r\n")
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    async with server, FaultProxy("127.0.0.1", server.sockets[0].getsockname()[1],
                                  FaultPlan(Fault.status_after_write(500))) as proxy, \
            httpx.AsyncClient(base_url=proxy.base_url) as client:
        resp = await client.put("/items/a", content=b"x")
        assert resp.status_code == 502
        event: ProxyEvent = proxy.log[0]
        assert (event.fault_kind, event.upstream_status) == (FaultKind.STATUS_AFTER_WRITE, None)
        assert (event.error or "").startswith("exchange")


async def test_closing_ends_held_idle_and_delayed_connections_without_leaks() -> None:
    gate = Gate()  # never opened: the delayed write is cut off by the shutdown
    plan = FaultPlan(Fault.hang_after_write(), Fault.delay(5.0))
    async with running_upstream() as upstream:
        async with FaultProxy("127.0.0.1", upstream.port, plan, sleep=gate.sleep) as proxy:
            held_r, held_w = await asyncio.open_connection("127.0.0.1", proxy.port)
            held_w.write(b"PUT /items/a HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\na")
            await proxy.wait_for_events(1)  # upstream answered, the hold has begun
            late_r, late_w = await asyncio.open_connection("127.0.0.1", proxy.port)
            late_w.write(b"PUT /items/b HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nb")
            await gate.called.wait()
            idle_r, idle_w = await asyncio.open_connection("127.0.0.1", proxy.port)
            idle_w.write(b"GET /items/a HTTP/1.1\r\nhost: x\r\n\r\n")
            assert (await idle_r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
            assert len(proxy_tasks()) == 3
        assert proxy_tasks() == []
        for reader, writer in ((held_r, held_w), (late_r, late_w), (idle_r, idle_w)):
            assert not (await reader.read()).startswith(b"HTTP")  # EOF, never an answer
            writer.close()
            await writer.wait_closed()
        assert upstream.items == {"a": b"a"}  # the held write landed; the delayed one never
        late = [e for e in proxy.log if e.target == "/items/b"]
        assert [(e.upstream_status, e.error) for e in late] == [(None, "proxy closed")]
