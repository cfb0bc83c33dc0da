"""A local REST CRM that can misbehave, for the CRM connector's tests and the executor's.

A real CRM cannot be reached from a test run, and the failures that matter for "never
lie, never book twice" are the ones a healthy server never shows: a write applied but
answered with a 500, a write acknowledged and silently dropped, a record lost later, an
``Idempotency-Key`` ignored, a slow answer. This server shows each one on demand.

:class:`CrmServer` holds the state and decides every answer (testable without sockets,
via :meth:`CrmServer.handle`); :class:`CrmServerRunner` serves it under uvicorn on
127.0.0.1 (a free port) inside the current event loop.

Endpoints (field names pass through ``field_map``: our name -> the CRM's JSON name):

- ``POST /appointments`` (JSON record) -> 201 with the stored record; a repeat under the
  same ``Idempotency-Key`` -> 200 with the first answer's record, nothing new stored.
- ``GET /appointments?<key field>=K`` and/or ``?start=..&end=..`` -> 200, a JSON list.
- ``DELETE /appointments/{id}`` -> 204, or 404.

Every request must carry a valid ``X-Frontdesk-Signature`` (401 JSON error otherwise).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from frontdesk.actions.connectors.signing import SIGNATURE_HEADER, SignatureError, verify
from frontdesk.client.loopback import serve_loopback

__all__ = ["CrmAnswer", "CrmRequest", "CrmServer", "CrmServerRunner"]

# the CRM's own schema (kept apart from the connector's so a bug there is not mirrored)
_FIELDS = ("idempotency_key", "service_id", "service_name", "start", "end",
           "customer_name", "customer_phone", "call_id", "id")
_COLLECTION = "/appointments"


@dataclass(frozen=True)
class CrmRequest:
    """One request and how it was answered. ``key`` is the Idempotency-Key header."""

    method: str
    target: str  # path and query as received
    key: str | None
    signature_valid: bool
    status: int
    body: bytes = b""


@dataclass(frozen=True)
class CrmAnswer:
    status: int
    body: Any  # decoded JSON; None means no body (204)


@dataclass(frozen=True)
class _Failure:
    status: int
    after_write: bool


def _error(status: int, message: str, **extra: str) -> CrmAnswer:
    return CrmAnswer(status, {"error": message, **extra})


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


class CrmServer:
    """State and answers of the fake CRM. The knobs are plain attributes and methods,
    meant to be changed by a test while the server runs."""

    def __init__(
        self,
        secret: bytes,
        *,
        field_map: Mapping[str, str] | None = None,
        idempotency_header: str = "Idempotency-Key",
        reject_overlaps: bool = False,
        honour_idempotency: bool = True,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tolerance_s: float = 300,
    ) -> None:
        unknown = set(field_map or {}) - set(_FIELDS)
        if unknown:
            raise ValueError(f"field_map names unknown fields: {sorted(unknown)}")
        self.secret = secret
        self.fields = {name: (field_map or {}).get(name, name) for name in _FIELDS}
        self.idempotency_header = idempotency_header.lower()
        self.reject_overlaps = reject_overlaps
        self.honour_idempotency = honour_idempotency
        self.drop_writes = False  # answer 201 with a record, store nothing
        self.latency_s = 0.0  # awaited through ``sleep`` before each request is handled
        self.now = now
        self.tolerance_s = tolerance_s
        self.requests: list[CrmRequest] = []
        self._sleep = sleep
        self._records: dict[str, dict[str, Any]] = {}  # by id, in insertion order
        self._first_answers: dict[str, dict[str, Any]] = {}  # idempotency key -> record
        self._failures: collections.deque[_Failure] = collections.deque()

    # -- knobs and views -----------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, *, after_write: bool) -> None:
        """The next ``n`` writes (POST, DELETE) answer ``status``. With ``after_write`` the
        write is applied first (the answer lies about a write that landed); without, the
        write is not applied."""
        self._failures.extend([_Failure(status, after_write)] * n)

    def lose(self, key: str) -> int:
        """Forget every record stored under ``key``, and the key itself, as if the write
        never arrived (a restore from an old backup). Returns how many records went."""
        self._first_answers.pop(key, None)
        lost = [rid for rid, r in self._records.items() if r.get(self._key_field) == key]
        for rid in lost:
            del self._records[rid]
        return len(lost)

    def appointments(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._records.values()]

    def find_by_key(self, key: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._records.values() if r.get(self._key_field) == key]

    @property
    def _key_field(self) -> str:
        return self.fields["idempotency_key"]

    # -- request handling ----------------------------------------------------------------

    async def handle(self, method: str, target: str, headers: Mapping[str, str],
                     body: bytes) -> CrmAnswer:
        """Answer one request; ``target`` is the raw path and query, as signed."""
        if self.latency_s > 0:
            await self._sleep(self.latency_s)
        lower = {name.lower(): value for name, value in headers.items()}
        key = lower.get(self.idempotency_header)
        try:
            verify(self.secret, lower.get(SIGNATURE_HEADER.lower()), method, target, body,
                   self.now(), self.tolerance_s)
        except SignatureError as exc:
            answer = _error(401, str(exc), kind=exc.kind)
            self.requests.append(CrmRequest(method, target, key, False, 401, body))
            return answer
        answer = self._route(method, target, key, body)
        self.requests.append(CrmRequest(method, target, key, True, answer.status, body))
        return answer

    def _route(self, method: str, target: str, key: str | None, body: bytes) -> CrmAnswer:
        path, _, query = target.partition("?")
        if path == _COLLECTION:
            if method == "GET":
                return self._list(parse_qs(query, keep_blank_values=True))
            if method == "POST":
                return self._write(lambda: self._create(key, body))
        elif path.startswith(_COLLECTION + "/") and "/" not in path[len(_COLLECTION) + 1:]:
            record_id = unquote(path[len(_COLLECTION) + 1:])
            if method == "DELETE":
                return self._write(lambda: self._delete(record_id))
        else:
            return _error(404, f"no such endpoint: {path}")
        return _error(405, f"{method} not allowed on {path}")

    def _write(self, apply: Callable[[], CrmAnswer]) -> CrmAnswer:
        failure = self._failures.popleft() if self._failures else None
        if failure is None:
            return apply()
        if failure.after_write:
            apply()
        return _error(failure.status, f"injected failure {failure.status}",
                      applied=str(failure.after_write).lower())

    def _create(self, key: str | None, body: bytes) -> CrmAnswer:
        try:
            data = json.loads(body)
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(data, dict):
            return _error(400, "the body is not a JSON object")
        body_key = data.get(self._key_field)
        if not isinstance(body_key, str) or not body_key:
            return _error(422, f"{self._key_field} is required")
        if key is not None and key != body_key:
            return _error(422, f"the Idempotency-Key header differs from {self._key_field}")
        start = _parse_time(data.get(self.fields["start"]))
        end = _parse_time(data.get(self.fields["end"]))
        if start is None or end is None or end <= start:
            return _error(422, "start and end must be ISO-8601 with an offset, start < end")
        if self.honour_idempotency and key:
            first = self._first_answers.get(key)
            if first is not None:
                return CrmAnswer(200, dict(first))
        if self.reject_overlaps and self._overlapping(start, end):
            return _error(409, "the slot overlaps an existing appointment")
        kept = {name: data[name] for name in self.fields.values() if name in data}
        created = datetime.fromtimestamp(self.now(), UTC).isoformat().replace("+00:00", "Z")
        record = {**kept, self.fields["id"]: "apt_" + secrets.token_hex(8),
                  "created_at": created}
        if self.drop_writes:
            return CrmAnswer(201, record)
        self._records[record[self.fields["id"]]] = record
        if self.honour_idempotency and key:
            self._first_answers[key] = dict(record)
        return CrmAnswer(201, dict(record))

    def _delete(self, record_id: str) -> CrmAnswer:
        # the idempotency memory outlives the record, as in real APIs
        if self._records.pop(record_id, None) is None:
            return _error(404, f"no appointment {record_id}")
        return CrmAnswer(204, None)

    def _overlapping(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        found = []
        for record in self._records.values():
            other_start = _parse_time(record.get(self.fields["start"]))
            other_end = _parse_time(record.get(self.fields["end"]))
            if other_start and other_end and other_start < end and other_end > start:
                found.append(dict(record))
        return found

    def _list(self, params: Mapping[str, list[str]]) -> CrmAnswer:
        records = self.appointments()
        if self._key_field in params:
            records = [r for r in records if r.get(self._key_field) == params[self._key_field][0]]
        if "start" in params or "end" in params:
            start = _parse_time(params.get("start", [""])[0])
            end = _parse_time(params.get("end", [""])[0])
            if start is None or end is None:
                return _error(400, "start and end must both be ISO-8601 with an offset")
            ids = {r[self.fields["id"]] for r in self._overlapping(start, end)}
            records = [r for r in records if r[self.fields["id"]] in ids]
        return CrmAnswer(200, records)


def build_app(server: CrmServer) -> Starlette:
    """A thin Starlette layer: every request goes to :meth:`CrmServer.handle` with its raw
    target (path and query exactly as sent, which is what the signature covers)."""

    async def endpoint(request: Request) -> Response:
        raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
        query: bytes = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        answer = await server.handle(request.method, target, dict(request.headers),
                                     await request.body())
        if answer.body is None:
            return Response(status_code=answer.status)
        return JSONResponse(answer.body, status_code=answer.status)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


class CrmServerRunner:
    """Serves a :class:`CrmServer` on 127.0.0.1 for the length of an ``async with``;
    :attr:`base_url` is usable at once."""

    def __init__(self, server: CrmServer) -> None:
        self.server = server
        self.base_url = ""
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> CrmServerRunner:
        self.base_url = await self._stack.enter_async_context(serve_loopback(
            lambda _url: build_app(self.server), lifespan="off", ws="none",
            access_log=False))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()
