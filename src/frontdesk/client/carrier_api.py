"""A local stand-in for the Twilio and Telnyx REST APIs, for tests and the carrier emulator.

The real APIs cannot be reached from a test run, so this server answers the requests
frontdesk makes (Twilio: Calls create/update, Messages create; Telnyx: dial, call
commands, messages) in the carriers' own formats: the same paths, the same auth checks,
the same success bodies and error bodies. It records every request it receives.

:class:`CarrierApi` holds the state and decides every answer; :class:`CarrierApiServer`
runs it under uvicorn on 127.0.0.1 (a free port) inside the current event loop. The
emulator that plays the carrier's other half (placing calls into frontdesk, streaming
media) sets :attr:`CarrierApi.on_action` to learn what frontdesk asked for.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import hmac
import json
import math
import re
import secrets
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from frontdesk.client.loopback import serve_loopback

TWILIO_API_VERSION = "2010-04-01"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("twilio", re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Calls\.json"), "calls.create"),
    ("twilio", re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Calls/(?P<call>[^/]+)\.json"),
     "calls.update"),
    ("twilio", re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json"),
     "messages.create"),
    ("telnyx", re.compile(r"/v2/calls"), "dial"),
    ("telnyx", re.compile(r"/v2/calls/(?P<call>[^/]+)/actions/(?P<verb>[a-z_]+)"), "command"),
    ("telnyx", re.compile(r"/v2/messages"), "messages.create"),
)
_CREATES = {("twilio", "calls.create"), ("telnyx", "dial")}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived (recorded before auth, failures or holds apply).

    ``action`` names what it asks for: Twilio ``calls.create`` / ``calls.update`` /
    ``messages.create``; Telnyx ``dial``, ``messages.create`` or the command verb
    (``answer``, ``transfer``, ``hangup``, ...); ``""`` for a path no route knows.
    ``call_id`` is the call it acts on, or for a create the id the new call will get (a
    repeated Telnyx dial is answered with the first dial's call instead).
    A form parameter sent several times appears once in ``form``, its values joined by
    spaces; :meth:`form_list` has them apart.
    """

    carrier: str
    method: str
    path: str
    headers: Mapping[str, str]
    form: Mapping[str, str] | None
    json: Any | None
    action: str = ""
    call_id: str | None = None
    body: bytes = b""

    def form_list(self, name: str) -> list[str]:
        return parse_qs(self.body.decode(), keep_blank_values=True).get(name, [])


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def _twilio_error(status: int, code: int, message: str) -> Answer:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body = {"code": code, "message": message, "more_info": more_info, "status": status}
    return Answer(status, body)


def _telnyx_error(status: int, code: str, title: str, detail: str, pointer: str = "") -> Answer:
    error: dict[str, Any] = {"code": code, "title": title, "detail": detail,
                             "meta": {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"}}
    if pointer:
        error["source"] = {"pointer": pointer}
    return Answer(status, {"errors": [error]})


_TWILIO_CODES = {401: (20003, "Authenticate"), 403: (20403, "Forbidden"),
                 429: (20429, "Too Many Requests"), 500: (20500, "Internal Server Error"),
                 503: (20503, "Service Unavailable")}
_TELNYX_CODES = {401: ("10009", "Authentication failed"), 403: ("10010", "Authorization failed"),
                 404: ("10005", "Resource not found"), 408: ("10008", "Request timeout"),
                 422: ("10015", "Bad Request"), 429: ("10011", "Too many requests")}


def _error_for(carrier: str, status: int, path: str) -> Answer:
    """The body each carrier sends with a bare HTTP status (used by ``fail_next``)."""
    if carrier == "twilio":
        if status == 404:
            return _twilio_error(404, 20404, f"The requested resource {path} was not found")
        code, message = _TWILIO_CODES.get(status, (20000 + status, f"HTTP {status}"))
        return _twilio_error(status, code, message)
    if carrier == "telnyx":
        code_s, title = _TELNYX_CODES.get(status, ("10007", "Unexpected error"))
        return _telnyx_error(status, code_s, title, f"The fake carrier answered {status}.")
    return Answer(status, {"detail": f"HTTP {status}"})


class CarrierApi:
    """State and answers of the fake carriers: accounts, live calls, scripted failures."""

    def __init__(
        self,
        *,
        twilio_account_sid: str,
        twilio_auth_token: str,
        telnyx_api_key: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.twilio_account_sid = twilio_account_sid
        self.twilio_auth_token = twilio_auth_token
        self.telnyx_api_key = telnyx_api_key
        self.now = now
        self.requests: list[RecordedRequest] = []
        # Awaited before the answer is sent, for each action the fake accepted and applied
        # (not for refused, failed or duplicate requests). Keep it short: the client is
        # waiting, so it must not wait for anything the client does after its answer.
        self.on_action: Callable[[RecordedRequest], Awaitable[None]] | None = None
        # one hook per emulated call (each filters by its call id): many calls at once
        self.call_hooks: list[Callable[[RecordedRequest], Awaitable[None]]] = []
        self.hook_errors: list[Exception] = []
        self._calls: dict[str, tuple[str, str]] = {}  # live call id -> (from, to)
        self._ended: set[str] = set()
        self._failures: collections.deque[int] = collections.deque()
        self._holds: collections.deque[asyncio.Event] = collections.deque()
        self._all_holds: list[asyncio.Event] = []
        self._waiters: list[tuple[Callable[[RecordedRequest], bool], asyncio.Future[Any]]] = []
        self._command_ids: set[tuple[str, str]] = set()
        self._dialled: dict[str, str] = {}  # dial command_id -> call_control_id

    # -- hooks for tests and the emulator -------------------------------------------------

    def register_call(self, carrier_call_id: str, *, from_number: str = "",
                      to_number: str = "") -> None:
        """A live call the carrier knows (one the emulator placed into frontdesk)."""
        self._calls[carrier_call_id] = (from_number, to_number)
        self._ended.discard(carrier_call_id)

    def end_call(self, carrier_call_id: str) -> None:
        """The far end hung up: later actions on the call get "already ended" errors."""
        self._calls.pop(carrier_call_id, None)
        self._ended.add(carrier_call_id)

    def is_live(self, carrier_call_id: str) -> bool:
        return carrier_call_id in self._calls

    def fail_next(self, status: int, *, times: int = 1) -> None:
        """The next ``times`` requests answer ``status`` with the carrier's error body."""
        self._failures.extend([status] * times)

    def hold_next(self, release: asyncio.Event, *, times: int = 1) -> None:
        """The next ``times`` requests are recorded, then wait for ``release`` before being
        handled: a carrier that is slow to answer, without a sleep."""
        self._holds.extend([release] * times)
        self._all_holds.append(release)

    def release_all(self) -> None:
        for event in self._all_holds:
            event.set()
        self._holds.clear()

    async def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], *, start: int = 0
    ) -> RecordedRequest:
        """The first request from index ``start`` on that matches, waiting for it to arrive."""
        for request in self.requests[start:]:
            if predicate(request):
                return request
        future: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await future
        finally:
            self._waiters.remove(entry)

    # -- request handling ------------------------------------------------------------------

    async def handle(self, method: str, path: str, headers: Mapping[str, str],
                     body: bytes) -> Answer:
        request = self._record(method, path, headers, body)
        if self._holds:
            await self._holds.popleft().wait()
        if self._failures:
            return _error_for(request.carrier, self._failures.popleft(), path)
        if request.carrier == "twilio":
            return await self._twilio(request)
        if request.carrier == "telnyx":
            return await self._telnyx(request)
        return Answer(404, {"detail": "Not Found"})

    def _record(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes) -> RecordedRequest:
        carrier, action, call_id = "", "", None
        for route_carrier, pattern, route_action in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None or method != "POST":
                continue
            carrier, action = route_carrier, route_action
            groups = match.groupdict()
            call_id = groups.get("call")
            action = groups.get("verb") or action
            if (carrier, action) in _CREATES:
                call_id = _new_call_id(carrier)
            break
        else:
            carrier = "twilio" if path.startswith("/2010-04-01/") else (
                "telnyx" if path.startswith("/v2/") else "")
        content_type = headers.get("content-type", "")
        form: dict[str, str] | None = None
        parsed_json: Any | None = None
        if content_type.startswith("application/x-www-form-urlencoded"):
            values = parse_qs(body.decode(), keep_blank_values=True)
            form = {key: " ".join(items) for key, items in values.items()}
        elif content_type.startswith("application/json") and body:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
        request = RecordedRequest(carrier, method, path, dict(headers), form, parsed_json,
                                  action, call_id, body)
        self.requests.append(request)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(request):
                future.set_result(request)
        return request

    async def _applied(self, request: RecordedRequest) -> None:
        hooks = [*self.call_hooks, *([self.on_action] if self.on_action else [])]
        for hook in hooks:
            try:
                await hook(request)
            except Exception as exc:  # an emulator bug: surfaced when the server stops
                self.hook_errors.append(exc)

    # -- Twilio ------------------------------------------------------------------------------

    def _twilio_authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.twilio_account_sid) and hmac.compare_digest(
            password, self.twilio_auth_token)

    async def _twilio(self, request: RecordedRequest) -> Answer:
        if not self._twilio_authorized(request.headers):
            answer = _error_for("twilio", 401, request.path)
            return Answer(401, answer.body, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        account = f"/{TWILIO_API_VERSION}/Accounts/{self.twilio_account_sid}/"
        if not request.action or not request.path.startswith(account):
            return _error_for("twilio", 404, request.path)
        form = request.form or {}
        if request.action == "calls.create":
            missing = _first_missing(form, [("To", 21201, "No 'To' number is specified"),
                                            ("From", 21213, "No 'From' number is specified")])
            if missing is not None:
                return missing
            if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
                return _twilio_error(400, 21205, "Url parameter is required")
            assert request.call_id is not None
            self.register_call(request.call_id, from_number=form["From"], to_number=form["To"])
            await self._applied(request)
            return Answer(201, self._twilio_call(request.call_id, "queued", "outbound-api"))
        if request.action == "calls.update":
            return await self._twilio_update(request, form)
        missing = _first_missing(form, [("To", 21604, "A 'To' phone number is required."),
                                        ("From", 21603, "A 'From' phone number is required."),
                                        ("Body", 21602, "Message body is required.")])
        if missing is not None:
            return missing
        await self._applied(request)
        return Answer(201, self._twilio_message(form))

    async def _twilio_update(self, request: RecordedRequest, form: Mapping[str, str]) -> Answer:
        sid = request.call_id or ""
        if sid in self._ended:
            return _twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        if sid not in self._calls:
            return _error_for("twilio", 404, request.path)
        twiml = form.get("Twiml")
        if twiml is not None:
            try:
                ET.fromstring(twiml)
            except ET.ParseError as exc:
                return _twilio_error(400, 12100, f"Document parse failure: {exc}")
        status = "in-progress"
        if form.get("Status") in ("completed", "canceled"):
            status = "completed"
        elif twiml is None and not form.get("Url"):
            return _twilio_error(400, 21218, "Invalid call update: give Url, Twiml or Status")
        body = self._twilio_call(sid, status, "inbound")
        if status == "completed":
            self.end_call(sid)
        await self._applied(request)
        return Answer(200, body)

    def _twilio_call(self, sid: str, status: str, direction: str) -> dict[str, Any]:
        from_number, to_number = self._calls.get(sid, ("", ""))
        uri = f"/{TWILIO_API_VERSION}/Accounts/{self.twilio_account_sid}/Calls/{sid}"
        date = format_datetime(self.now())
        return {
            "account_sid": self.twilio_account_sid, "annotation": None, "answered_by": None,
            "api_version": TWILIO_API_VERSION, "caller_name": None, "date_created": date,
            "date_updated": date, "direction": direction, "duration": None, "end_time": None,
            "forwarded_from": None, "from": from_number, "from_formatted": from_number,
            "group_sid": None, "parent_call_sid": None, "phone_number_sid": None,
            "price": None, "price_unit": "USD", "queue_time": "0", "sid": sid,
            "start_time": None, "status": status, "to": to_number, "to_formatted": to_number,
            "trunk_sid": None, "uri": f"{uri}.json",
            "subresource_uris": {name: f"{uri}/{title}.json" for name, title in (
                ("events", "Events"), ("notifications", "Notifications"),
                ("recordings", "Recordings"), ("streams", "Streams"))},
        }

    def _twilio_message(self, form: Mapping[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{TWILIO_API_VERSION}/Accounts/{self.twilio_account_sid}/Messages/{sid}"
        date = format_datetime(self.now())
        body = form["Body"]
        segments = 1 if len(body) <= 160 else math.ceil(len(body) / 153)
        return {
            "account_sid": self.twilio_account_sid, "api_version": TWILIO_API_VERSION,
            "body": body, "date_created": date, "date_sent": None, "date_updated": date,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": form["From"], "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(segments), "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued", "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": form["To"], "uri": f"{uri}.json",
        }

    # -- Telnyx ------------------------------------------------------------------------------

    async def _telnyx(self, request: RecordedRequest) -> Answer:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key, self.telnyx_api_key):
            return _telnyx_error(401, "10009", "Authentication failed",
                                 "The API key is missing or wrong.")
        if not request.action:
            return _error_for("telnyx", 404, request.path)
        body = request.json if isinstance(request.json, dict) else None
        if body is None:
            return _telnyx_error(400, "10015", "Bad Request", "The body is not a JSON object.")
        if request.action == "dial":
            return await self._telnyx_dial(request, body)
        if request.action == "messages.create":
            missing = _telnyx_missing(body, ["from", "to", "text"])
            if missing is not None:
                return missing
            await self._applied(request)
            return Answer(200, {"data": self._telnyx_message(body)})
        return await self._telnyx_command(request, body)

    async def _telnyx_dial(self, request: RecordedRequest, body: Mapping[str, Any]) -> Answer:
        missing = _telnyx_missing(body, ["connection_id", "to", "from"])
        if missing is not None:
            return missing
        call_id = request.call_id or ""
        first = self._dialled.get(str(body.get("command_id")))
        if first is not None:  # a repeated dial: the call placed the first time
            return Answer(200, {"data": _telnyx_call(first)})
        if isinstance(body.get("command_id"), str):
            self._dialled[body["command_id"]] = call_id
        self.register_call(call_id, from_number=str(body["from"]), to_number=str(body["to"]))
        await self._applied(request)
        return Answer(200, {"data": _telnyx_call(call_id)})

    async def _telnyx_command(self, request: RecordedRequest, body: Mapping[str, Any]) -> Answer:
        call_id = request.call_id or ""
        if call_id in self._ended:
            return _telnyx_error(422, "90018", "Call has already ended",
                                 "This call is no longer active and cannot receive commands.")
        if call_id not in self._calls:
            return _telnyx_error(404, "10005", "Resource not found",
                                 f"No call with call_control_id {call_id}.")
        invalid = _telnyx_invalid_command(request.action, body)
        if invalid is not None:
            return invalid
        if not self._duplicate(call_id, body.get("command_id")):
            if request.action == "hangup":
                self.end_call(call_id)
            await self._applied(request)
        return Answer(200, {"data": {"result": "ok"}})

    def _duplicate(self, call_id: str, command_id: Any) -> bool:
        """Telnyx ignores a command whose command_id it already saw on the same call."""
        if not isinstance(command_id, str) or not command_id:
            return False
        key = (call_id, command_id)
        if key in self._command_ids:
            return True
        self._command_ids.add(key)
        return False

    def _telnyx_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        now = self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        text = str(body["text"])
        return {
            "record_type": "message", "direction": "outbound", "id": str(uuid.uuid4()),
            "type": "SMS", "messaging_profile_id": body.get("messaging_profile_id"),
            "from": {"phone_number": body["from"], "carrier": "Telnyx", "line_type": "VoIP"},
            "to": [{"phone_number": body["to"], "status": "queued", "carrier": "",
                    "line_type": ""}],
            "text": text, "media": [], "webhook_url": body.get("webhook_url"),
            "webhook_failover_url": body.get("webhook_failover_url"), "encoding": "GSM-7",
            "parts": 1 if len(text) <= 160 else math.ceil(len(text) / 153), "tags": [],
            "cost": None, "received_at": now, "sent_at": None, "completed_at": None,
            "valid_until": None, "errors": [],
        }


def _new_call_id(carrier: str) -> str:
    if carrier == "twilio":
        return "CA" + secrets.token_hex(16)
    return "v3:" + secrets.token_urlsafe(33)


def _telnyx_call(call_control_id: str) -> dict[str, Any]:
    return {"call_control_id": call_control_id, "call_leg_id": str(uuid.uuid4()),
            "call_session_id": str(uuid.uuid4()), "is_alive": False, "record_type": "call"}


def _first_missing(form: Mapping[str, str],
                   required: list[tuple[str, int, str]]) -> Answer | None:
    for name, code, message in required:
        if not form.get(name):
            return _twilio_error(400, code, message)
    return None


def _telnyx_missing(body: Mapping[str, Any], required: list[str]) -> Answer | None:
    for name in required:
        if not body.get(name):
            return _telnyx_error(422, "10004", "Missing required parameter",
                                 f"The '{name}' parameter is required.", pointer=f"/{name}")
    return None


# Telnyx's transfer rings the new leg for 5..600 s (default 30) before it hangs up "timeout"
_TRANSFER_TIMEOUT_S = range(5, 601)
_STATE_FIELDS = ("client_state", "target_leg_client_state")


def _telnyx_invalid_command(action: str, body: Mapping[str, Any]) -> Answer | None:
    """What Telnyx refuses (422) in a call command's body, before it acts on it."""
    required = {"transfer": ["to"], "streaming_start": ["stream_url"]}.get(action, [])
    missing = _telnyx_missing(body, required)
    if missing is not None:
        return missing
    for name in _STATE_FIELDS:  # "It must be a valid Base-64 encoded string."
        value = body.get(name)
        if value is not None and not _is_base64(value):
            return _telnyx_error(422, "10015", "Invalid parameter",
                                 f"The '{name}' parameter must be a valid Base-64 string.",
                                 pointer=f"/{name}")
    timeout = body.get("timeout_secs")
    if action == "transfer" and timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int)
            or timeout not in _TRANSFER_TIMEOUT_S):
        return _telnyx_error(422, "10015", "Invalid parameter",
                             "The 'timeout_secs' parameter must be between 5 and 600.",
                             pointer="/timeout_secs")
    return None


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def build_app(api: CarrierApi) -> Starlette:
    """A thin Starlette layer: every path goes to :meth:`CarrierApi.handle`."""

    async def endpoint(request: Request) -> Response:
        answer = await api.handle(request.method, request.url.path, dict(request.headers),
                                  await request.body())
        return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


class CarrierApiServer:
    """Serves a :class:`CarrierApi` on 127.0.0.1 for the length of an ``async with``.

    The socket is bound and listening before uvicorn starts, so a client may connect at
    once (it waits in the backlog). On exit held requests are released, the server stops,
    and an exception raised by ``on_action`` during the run is raised here.
    """

    def __init__(
        self,
        api: CarrierApi | None = None,
        *,
        twilio_account_sid: str = "",
        twilio_auth_token: str = "",
        telnyx_api_key: str = "",
    ) -> None:
        """Serve ``api``, or a new :class:`CarrierApi` with these credentials."""
        if api is None:
            if not (twilio_account_sid and twilio_auth_token and telnyx_api_key):
                raise ValueError("give a CarrierApi or all three credentials")
            api = CarrierApi(twilio_account_sid=twilio_account_sid,
                             twilio_auth_token=twilio_auth_token, telnyx_api_key=telnyx_api_key)
        self.api = api
        self.base_url = ""
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> CarrierApiServer:
        self.base_url = await self._stack.enter_async_context(serve_loopback(
            lambda _url: build_app(self.api), lifespan="off", ws="none", access_log=False))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.api.release_all()
        await self._stack.aclose()
        if exc is None and self.api.hook_errors:
            raise self.api.hook_errors[0]
