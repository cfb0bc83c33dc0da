"""A fault-injecting HTTP/1.1 proxy: put it between frontdesk and a real backend
(Radicale, a REST CRM) to make backend writes fail in the ways that matter for "never lie".

The interesting failures are the ones where the client's view and the backend's state
disagree: a 500 after the write landed, a timeout after the write landed, a reset before
or after it, a backend that acknowledges writes and drops them, a write that lands ten
seconds late. Each is one :class:`Fault`; a :class:`FaultPlan` picks the fault for each
request (a queue a test fills, or :class:`RandomPlan` for a reproducible benchmark), and
:class:`FaultProxy` applies it and records a :class:`ProxyEvent` so a test can assert
both sides: what the client saw, and whether the write reached upstream.

HTTP parsing is h11 on both sides. Requests and upstream responses are buffered whole
(backend answers here are small) and re-framed with Content-Length, so a chunked upstream
body reaches the client byte for byte. Each request gets a fresh upstream connection, so a
fault never leaves upstream state behind; client connections are kept alive.

A request is *in flight* from the moment its head is parsed until its event is logged;
:meth:`FaultProxy.wait_idle` and :meth:`FaultProxy.wait_for_events` let tests know that a
delayed write has landed without sleeping. A held (hung) connection is logged when the
hold begins, so it does not count as in flight.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import http
import json
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import assert_never

import h11

READ_SIZE = 65536
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# Headers that describe one connection, not the message: never relayed as received.
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
    b"trailer", b"upgrade", b"content-length", b"expect",
})


class FaultKind(enum.Enum):
    NONE = "none"
    DELAY = "delay"
    STATUS = "status"
    STATUS_AFTER_WRITE = "status_after_write"
    HANG_AFTER_WRITE = "hang_after_write"
    RESET_BEFORE_WRITE = "reset_before_write"
    RESET_AFTER_WRITE = "reset_after_write"
    ACK_WITHOUT_WRITE = "ack_without_write"

    @property
    def forwards(self) -> bool:
        """Whether the request reaches upstream (the write lands) under this fault."""
        return self not in (FaultKind.STATUS, FaultKind.RESET_BEFORE_WRITE,
                            FaultKind.ACK_WITHOUT_WRITE)


@dataclass(frozen=True)
class Fault:
    """What the proxy does with one request. Build with the class methods."""

    kind: FaultKind
    seconds: float = 0.0  # DELAY
    status_code: int = 0  # STATUS, STATUS_AFTER_WRITE, ACK_WITHOUT_WRITE
    body: bytes = b""  # ACK_WITHOUT_WRITE
    headers: tuple[tuple[str, str], ...] = ()  # ACK_WITHOUT_WRITE

    @classmethod
    def none(cls) -> Fault:
        return cls(FaultKind.NONE)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait, then forward and relay: the write lands late even if the client gave up."""
        if seconds < 0:
            raise ValueError(f"delay must be >= 0, got {seconds}")
        return cls(FaultKind.DELAY, seconds=seconds)

    @classmethod
    def status(cls, code: int) -> Fault:
        """Answer ``code`` without forwarding: the write does not land."""
        return cls(FaultKind.STATUS, status_code=_check_status(code))

    @classmethod
    def status_after_write(cls, code: int) -> Fault:
        """Forward, discard upstream's answer, answer ``code``: landed, reported as failed."""
        return cls(FaultKind.STATUS_AFTER_WRITE, status_code=_check_status(code))

    @classmethod
    def hang_after_write(cls) -> Fault:
        """Forward, then never answer: the client times out although the write landed."""
        return cls(FaultKind.HANG_AFTER_WRITE)

    @classmethod
    def reset_before_write(cls) -> Fault:
        return cls(FaultKind.RESET_BEFORE_WRITE)

    @classmethod
    def reset_after_write(cls) -> Fault:
        return cls(FaultKind.RESET_AFTER_WRITE)

    @classmethod
    def ack_without_write(cls, status: int = 201, body: bytes = b"",
                          headers: Iterable[tuple[str, str]] = ()) -> Fault:
        """Answer success without forwarding: a backend that silently drops writes."""
        return cls(FaultKind.ACK_WITHOUT_WRITE, status_code=_check_status(status), body=body,
                   headers=tuple(headers))


def _check_status(code: int) -> int:
    if not 200 <= code <= 599:
        raise ValueError(f"status must be a final status code (200-599), got {code}")
    return code


def is_write(method: str, target: str) -> bool:
    """The default predicate: only mutating methods get queued or drawn faults."""
    return method in WRITE_METHODS


class FaultPlan:
    """Deterministic faults for tests: writes take queued faults in order, then ``default``;
    requests the predicate rejects (reads, by default) always get ``reads``."""

    def __init__(self, *faults: Fault, default: Fault | None = None,
                 reads: Fault | None = None,
                 applies_to: Callable[[str, str], bool] = is_write) -> None:
        self.default = default or Fault.none()
        self.reads = reads or Fault.none()
        self.applies_to = applies_to
        self._queue: collections.deque[Fault] = collections.deque(faults)

    def push(self, *faults: Fault) -> None:
        self._queue.extend(faults)

    @property
    def pending(self) -> int:
        """Queued faults not yet applied."""
        return len(self._queue)

    def next_fault(self, method: str, target: str) -> Fault:
        if not self.applies_to(method, target):
            return self.reads
        if self._queue:
            return self._queue.popleft()
        return self._fallback()

    def _fallback(self) -> Fault:
        return self.default


class RandomPlan(FaultPlan):
    """Faults for writes drawn from a seeded ``random.Random``: the same seed and the same
    sequence of writes give the same faults, so a benchmark run can be replayed. Pushed
    faults still come first."""

    def __init__(self, seed: int, weights: Mapping[FaultKind, float], *,
                 delay: tuple[float, float] = (0.5, 10.0),
                 statuses: Sequence[int] = (500, 502, 503),
                 ack_status: int = 201, reads: Fault | None = None,
                 applies_to: Callable[[str, str], bool] = is_write) -> None:
        super().__init__(reads=reads, applies_to=applies_to)
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        if not 0 <= delay[0] <= delay[1]:
            raise ValueError(f"bad delay range {delay}")
        self._kinds = list(weights)
        self._weights = [weights[k] for k in self._kinds]
        self._delay = delay
        self._statuses = [_check_status(s) for s in statuses]
        self._ack_status = _check_status(ack_status)
        self._rng = random.Random(seed)

    def _fallback(self) -> Fault:
        kind = self._rng.choices(self._kinds, weights=self._weights)[0]
        match kind:
            case FaultKind.NONE:
                return Fault.none()
            case FaultKind.DELAY:
                return Fault.delay(self._rng.uniform(*self._delay))
            case FaultKind.STATUS:
                return Fault.status(self._rng.choice(self._statuses))
            case FaultKind.STATUS_AFTER_WRITE:
                return Fault.status_after_write(self._rng.choice(self._statuses))
            case FaultKind.HANG_AFTER_WRITE:
                return Fault.hang_after_write()
            case FaultKind.RESET_BEFORE_WRITE:
                return Fault.reset_before_write()
            case FaultKind.RESET_AFTER_WRITE:
                return Fault.reset_after_write()
            case FaultKind.ACK_WITHOUT_WRITE:
                return Fault.ack_without_write(self._ack_status)


@dataclass(frozen=True)
class ProxyEvent:
    """One request as the proxy handled it. ``upstream_status`` is None when nothing was
    forwarded or upstream failed; ``client_status`` is None when the client got no answer
    (reset, hang). ``at`` is the event-loop time the request head arrived."""

    method: str
    target: str
    fault_kind: FaultKind
    upstream_status: int | None
    client_status: int | None
    at: float
    error: str | None = None  # malformed request, upstream down or broken

    @property
    def landed(self) -> bool:
        """Upstream answered the forwarded request (whatever its status)."""
        return self.upstream_status is not None


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class _Outcome:
    """What happened to one request, filled in as it happens (logged even on failure)."""

    upstream: int | None = None
    client: int | None = None
    error: str | None = None
    keep: bool = True  # keep the client connection for the next request
    hold: bool = False  # never answer: hold the connection until the client leaves


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _UpstreamFailed(Exception):
    """Upstream refused the connection or broke the exchange (the proxy answers 502)."""


class FaultProxy:
    """Serve on 127.0.0.1 (a free port), forward to ``upstream_host:upstream_port`` and apply
    ``plan`` to each request. Use as ``async with FaultProxy(...) as proxy``; leaving closes
    every connection and cancels and awaits every handler task. A handler that crashes
    with an unexpected exception is a bug: it is re-raised when the proxy closes."""

    def __init__(self, upstream_host: str, upstream_port: int, plan: FaultPlan, *,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.plan = plan
        self.log: list[ProxyEvent] = []
        self.connections = 0  # client connections accepted
        self._sleep = sleep
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._errors: list[BaseException] = []
        self._in_flight = 0
        self._changed = asyncio.Event()  # replaced (after being set) on every log entry
        self._closing = False

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("proxy not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._errors:
            errors, self._errors = self._errors, []
            raise BaseExceptionGroup("fault proxy handler crashed", errors)

    def counts(self) -> collections.Counter[FaultKind]:
        """How many requests got each fault kind so far."""
        return collections.Counter(e.fault_kind for e in self.log)

    async def wait_idle(self) -> None:
        """Until no request is in flight (every parsed request has its event logged)."""
        await self._wait(lambda: self._in_flight == 0)

    async def wait_for_events(self, count: int) -> None:
        """Until at least ``count`` events are logged."""
        await self._wait(lambda: len(self.log) >= count)

    # -- connections ---------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, not a coroutine: the task exists (and is owned) the moment the
        # connection does, so closing can never miss a handler that has not started yet.
        if self._closing:
            writer.transport.abort()
            return
        self.connections += 1
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._errors.append(error)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                try:
                    request = await self._read_request(conn, reader, writer)
                except h11.RemoteProtocolError as exc:
                    await self._bad_request(conn, writer, exc)
                    return
                if request is None:
                    return
                if not await self._handle(request, conn, reader, writer):
                    return
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except OSError:
            return  # the client went away (or reset) mid-exchange: nothing left to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> _Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if conn.they_are_waiting_for_100_continue:
                    writer.write(conn.send(h11.InformationalResponse(status_code=100,
                                                                     headers=[])))
                conn.receive_data(await reader.read(READ_SIZE))
                continue
            match event:
                case h11.Request():
                    head = event
                case h11.Data():
                    body += event.data
                case h11.EndOfMessage():
                    assert head is not None
                    return _Request(head.method.decode("ascii"),
                                    head.target.decode("latin-1"), list(head.headers),
                                    bytes(body))
                case _:  # ConnectionClosed between requests (PAUSED cannot occur here)
                    return None

    async def _bad_request(self, conn: h11.Connection, writer: asyncio.StreamWriter,
                           exc: h11.RemoteProtocolError) -> None:
        at = asyncio.get_running_loop().time()
        status: int | None = None
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            status = exc.error_status_hint
            with contextlib.suppress(OSError):
                await _send(conn, writer, _text_answer(status, f"bad request: {exc}"),
                            close=True)
        self._log(ProxyEvent("", "", FaultKind.NONE, None, status, at, f"malformed: {exc}"))

    # -- one request -----------------------------------------------------------------

    async def _handle(self, req: _Request, conn: h11.Connection,
                      reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Apply the plan's fault to one request and log it; False closes the connection."""
        at = asyncio.get_running_loop().time()
        fault = self.plan.next_fault(req.method, req.target)
        self._in_flight += 1
        out = _Outcome()
        try:
            await self._apply(fault, req, conn, writer, out)
        except asyncio.CancelledError:
            out.error = "proxy closed"
            raise
        finally:
            self._in_flight -= 1
            self._log(ProxyEvent(req.method, req.target, fault.kind, out.upstream, out.client,
                                 at, out.error))
        if out.hold:
            await _hold(reader)
        return out.keep

    async def _apply(self, fault: Fault, req: _Request, conn: h11.Connection,
                     writer: asyncio.StreamWriter, out: _Outcome) -> None:
        answer: _Answer | None = None
        if fault.kind is FaultKind.DELAY:
            await self._sleep(fault.seconds)
        if fault.kind.forwards:
            try:
                answer = await self._exchange(req)
            except _UpstreamFailed as exc:
                out.error, out.client = str(exc), 502
                await _send(conn, writer, _text_answer(502, f"upstream failed: {exc}"))
                return
            out.upstream = answer.status
        match fault.kind:
            case FaultKind.NONE | FaultKind.DELAY:
                assert answer is not None
                out.client = answer.status
                await _send(conn, writer, _relayed(answer, req.method))
            case FaultKind.STATUS | FaultKind.STATUS_AFTER_WRITE:
                out.client = fault.status_code
                await _send(conn, writer, _text_answer(fault.status_code, "injected fault"))
            case FaultKind.ACK_WITHOUT_WRITE:
                out.client = fault.status_code
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fault.headers]
                await _send(conn, writer, _Answer(fault.status_code, headers, fault.body))
            case FaultKind.RESET_BEFORE_WRITE | FaultKind.RESET_AFTER_WRITE:
                _reset(writer)
                out.keep = False
            case FaultKind.HANG_AFTER_WRITE:
                out.keep, out.hold = False, True
            case _:
                assert_never(fault.kind)

    async def _exchange(self, req: _Request) -> _Answer:
        """Send the buffered request on a fresh upstream connection; read the whole answer."""
        try:
            reader, writer = await asyncio.open_connection(*self.upstream)
        except OSError as exc:
            raise _UpstreamFailed(f"connect: {exc}") from exc
        try:
            conn = h11.Connection(h11.CLIENT)
            headers = [(k, v) for k, v in req.headers if k.lower() not in _HOP_BY_HOP]
            if req.body or req.method in WRITE_METHODS:
                headers.append((b"content-length", str(len(req.body)).encode()))
            headers.append((b"connection", b"close"))
            writer.write(conn.send(h11.Request(method=req.method, target=req.target,
                                               headers=headers)))
            if req.body:
                writer.write(conn.send(h11.Data(data=req.body)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            head: h11.Response | None = None
            body = bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(READ_SIZE))
                    continue
                match event:
                    case h11.Response():
                        head = event
                    case h11.Data():
                        body += event.data
                    case h11.EndOfMessage():
                        assert head is not None
                        return _Answer(head.status_code, list(head.headers), bytes(body))
                    case h11.ConnectionClosed():
                        raise _UpstreamFailed("closed before answering")
                    case _:  # InformationalResponse (100 Continue): the final one follows
                        pass
        except (OSError, h11.ProtocolError) as exc:
            raise _UpstreamFailed(f"exchange: {exc!r}") from exc
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _log(self, event: ProxyEvent) -> None:
        self.log.append(event)
        self._changed.set()  # wake every waiter; they re-check their condition
        self._changed = asyncio.Event()

    async def _wait(self, done: Callable[[], bool]) -> None:
        while not done():
            await self._changed.wait()


def _relayed(answer: _Answer, method: str) -> _Answer:
    """Upstream's answer re-framed for the client: same status, headers and body bytes."""
    headers = [(k, v) for k, v in answer.headers if k.lower() not in _HOP_BY_HOP]
    if method == "HEAD" or answer.status == 304:
        # No body follows, but Content-Length still describes the resource: keep it.
        headers += [(k, v) for k, v in answer.headers if k.lower() == b"content-length"]
    return _Answer(answer.status, headers, b"" if method == "HEAD" else answer.body)


def _text_answer(status: int, message: str) -> _Answer:
    body = json.dumps({"error": message, "status": status}).encode()
    return _Answer(status, [(b"content-type", b"application/json")], body)


async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, answer: _Answer, *,
                close: bool = False) -> None:
    headers = list(answer.headers)
    if answer.status not in (204, 304) and not any(k.lower() == b"content-length"
                                                   for k, _ in headers):
        headers.append((b"content-length", str(len(answer.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    try:
        reason = http.HTTPStatus(answer.status).phrase.encode()
    except ValueError:
        reason = b""
    writer.write(conn.send(h11.Response(status_code=answer.status, headers=headers,
                                        reason=reason)))
    if answer.body:
        writer.write(conn.send(h11.Data(data=answer.body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, not FIN: SO_LINGER 0 makes the kernel drop the connection."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _hold(reader: asyncio.StreamReader) -> None:
    """Never answer: wait until the client closes (or the proxy's shutdown cancels us)."""
    with contextlib.suppress(OSError):
        while await reader.read(READ_SIZE):
            pass
