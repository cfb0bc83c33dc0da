"""A carrier emulator: Twilio or Telnyx as frontdesk sees them, for tests, bench and the CLI.

It places a call the way the carrier does (a signed webhook; for Telnyx, the answer
command that comes back through the REST API), opens the media WebSocket, and then acts
as the phone line in real time: the caller's 20 ms frames go out as μ-law ``media``
messages, agent audio is queued and played one frame per tick as the carrier plays it,
marks are echoed when the audio queued before them has played, and ``clear`` drops the
queue (echoing its pending marks, as Twilio does). REST commands frontdesk sends to the
fake API (transfer, hang-up) end the stream with ``stop``, like the real carrier.

The emulator is an ``AgentAudio`` line for :class:`~frontdesk.client.caller.ScriptedCaller`
(``take()`` is the playback clock) and an event source that reports only what a carrier
can know: ``ClearAudio`` when a clear arrives, ``CallEnded`` when the call ends.

A Twilio transfer is acted on like Twilio does: the caller hears ring-back while the
``<Dial>`` rings; the target's configured outcome (``dial_outcomes``: number -> busy |
no-answer | failed | completed, default completed) decides what happens. A target that
answers hears the ``<Number url>`` whisper first; then the ``action`` URL gets the
``DialCallStatus`` (signed), and if it answers ``<Connect><Stream>`` the caller is back on
a new media stream, where the scripted caller's remaining lines go on. The caller's
scripted input is relayed through one queue for the whole call, so a second stream picks
up where the first left off (what the caller "said" while the line rang is dropped).

A Telnyx transfer is acted on like Telnyx does: the stream stops, the caller hears
ring-back, and the target (``dial_outcomes`` again) is rung on a new leg whose webhooks
(signed) echo the command's ``target_leg_client_state``: ``call.initiated``, then
``call.answered`` and ``call.bridged``, or ``call.hangup`` with the cause (``user_busy``,
``timeout``, ``call_rejected``). The caller's leg stays up; if frontdesk answers the
hang-up by restarting streaming on it, the caller is back on a new media stream. The
caller's leg's later webhooks echo the command's ``client_state``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import math
import secrets
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree as ET

import httpx
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from frontdesk.audio.pcm import FRAME_SAMPLES, SAMPLE_RATE
from frontdesk.call.events import CallEnded, CallEvent, ClearAudio, EndReason, Outcome
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn, Inbound
from frontdesk.client.carrier_api import CarrierApi, RecordedRequest
from frontdesk.telephony.codec import PhoneAudio
from frontdesk.telephony.telnyx import signature as telnyx_signature
from frontdesk.telephony.twilio import signature as twilio_signature


class EmulatorError(RuntimeError):
    """frontdesk did not answer the way the carrier expects."""


@dataclass
class LineLog:
    """What the carrier saw: for assertions and reports."""

    clears: int = 0
    marks_echoed: int = 0
    marks_dropped: int = 0  # echoed because a clear dropped the audio before them
    transfer_to: str | None = None
    hung_up_by_agent: bool = False
    close_code: int | None = None
    # per clear: agent frames the caller heard in the run of audio the clear cut short
    heard_before_clear: list[int] = field(default_factory=list)
    clears_at: list[float] = field(default_factory=list)  # event-loop time each clear arrived
    agent_audio: list[bytes] = field(default_factory=list)  # 16 kHz frames, as played
    # transfers with an outcome (Twilio <Dial action>)
    whispers: list[str] = field(default_factory=list)  # what each answering target heard
    dial_statuses: list[str] = field(default_factory=list)  # DialCallStatus sent, in order
    streams: int = 0  # media streams connected: 2 when the caller came back from a transfer
    ringback_frames: int = 0  # frames of ring-back the caller heard while a <Dial> rang


def _ringback() -> tuple[bytes, ...]:
    """440 + 480 Hz (the North American ring-back tone), steady rather than cadenced so
    a caller who takes turns by ear hears one long carrier turn, not pauses; five 20 ms
    frames hold whole cycles of both tones, so they loop without a click."""
    frames = []
    for index in range(5):
        samples = [round(3000 * (math.sin(2 * math.pi * 440 * t / SAMPLE_RATE)
                                 + math.sin(2 * math.pi * 480 * t / SAMPLE_RATE)))
                   for t in range(index * FRAME_SAMPLES, (index + 1) * FRAME_SAMPLES)]
        frames.append(struct.pack(f"<{FRAME_SAMPLES}h", *samples))
    return tuple(frames)


RINGBACK = _ringback()


@dataclass(frozen=True)
class Dial:
    server_url: str  # where frontdesk really listens, e.g. http://127.0.0.1:8080
    public_url: str  # the URL frontdesk believes carriers use (FRONTDESK_PUBLIC_URL)
    to_number: str
    from_number: str = "+15125550123"


class _Line:
    """The shared carrier line: playback queue, marks, clear, the socket's send queue."""

    def __init__(self, dial: Dial, http: httpx.AsyncClient | None = None) -> None:
        self.dial = dial
        self.http = http  # one client for many emulated calls (each new one costs ~20 ms)
        self.log = LineLog()
        self.codec = PhoneAudio()
        self._playback: collections.deque[bytes | str] = collections.deque()  # frame | mark
        self._listeners: list[Callable[[CallEvent], None]] = []
        self.ringing = False  # a <Dial> rings: the caller hears ring-back, not silence
        self._new_stream()

    def _new_stream(self) -> None:
        """Per-stream state (each media stream numbers its messages from 1)."""
        self._send: asyncio.Queue[str | None] = asyncio.Queue()
        self._ended = asyncio.Event()
        self.ended_reason = EndReason.CALLER_HANGUP
        self._playback.clear()
        self._run = 0  # frames played since the agent's audio last ran dry
        self._seq = 0
        self._chunk = 0

    async def post(self, url: str, body: str | bytes, headers: dict[str, str]) -> httpx.Response:
        if self.http is not None:
            return await self.http.post(url, content=body, headers=headers)
        async with httpx.AsyncClient() as http:
            return await http.post(url, content=body, headers=headers)

    # the ScriptedCaller's seams
    def subscribe_all(self, listener: Callable[[CallEvent], None]) -> None:
        self._listeners.append(listener)

    def take(self) -> bytes | None:
        """One tick of the carrier's playback: marks at the head are echoed first."""
        self._echo_marks()
        if not self._playback:
            self._run = 0
            if self.ringing:
                self.log.ringback_frames += 1
                return RINGBACK[self.log.ringback_frames % len(RINGBACK)]
            return None
        self._run += 1
        frame = self._playback.popleft()
        assert isinstance(frame, bytes)
        self.log.agent_audio.append(frame)
        self._echo_marks()
        return frame

    def _echo_marks(self) -> None:
        while self._playback and isinstance(self._playback[0], str):
            name = self._playback.popleft()
            assert isinstance(name, str)
            self.log.marks_echoed += 1
            self._send.put_nowait(self.mark_message(name))

    def _publish(self, event: CallEvent) -> None:
        for listener in self._listeners:
            listener(event)

    # carrier-specific wire
    def envelope(self, event: str) -> dict[str, Any]:
        """The fields every message of this carrier starts with (event, sequence, stream)."""
        raise NotImplementedError

    def dtmf_body(self, digit: str) -> dict[str, str]:
        return {"digit": digit}

    def next_seq(self) -> str:
        self._seq += 1  # one counter numbers every message we send
        return str(self._seq)

    def mark_message(self, name: str) -> str:
        return json.dumps({**self.envelope("mark"), "mark": {"name": name}})

    def caller_message(self, item: Inbound) -> str | None:
        match item:
            case AudioIn(frame=frame):
                self._chunk += 1
                payload = base64.b64encode(self.codec.encode(frame)).decode()
                return json.dumps({**self.envelope("media"), "media": {
                    "track": "inbound", "chunk": str(self._chunk),
                    "timestamp": str((self._chunk - 1) * 20), "payload": payload}})
            case DtmfIn(digit=digit):
                return json.dumps({**self.envelope("dtmf"), "dtmf": self.dtmf_body(digit)})
            case HangupIn():
                return self.stop_message()

    def caller_messages(self, item: Inbound) -> list[str]:
        message = self.caller_message(item)
        return [] if message is None else [message]

    def on_agent_message(self, data: dict[str, Any]) -> None:
        match data.get("event"):
            case "media":
                self.ringing = False  # the agent is back on the line
                payload = base64.b64decode(data["media"]["payload"])
                self._playback.extend(self.codec.decode(payload))
            case "mark":
                self._playback.append(str(data["mark"]["name"]))
            case "clear":
                self.log.clears += 1
                self.log.heard_before_clear.append(self._run)
                self.log.clears_at.append(asyncio.get_running_loop().time())
                pending = [item for item in self._playback if isinstance(item, str)]
                self._playback.clear()
                for name in pending:
                    self.log.marks_dropped += 1
                    self._send.put_nowait(self.mark_message(name))
                self._publish(ClearAudio(time.perf_counter()))
            case other:
                raise EmulatorError(f"frontdesk sent an unknown event {other!r}")

    def end_stream(self, *, by_agent: bool) -> None:
        """The carrier ends the stream (REST hang-up or transfer): ``stop``, then close."""
        if by_agent:
            self.log.hung_up_by_agent = True
            self.ended_reason = EndReason.AGENT_HANGUP
        self._send.put_nowait(self.stop_message())
        self._send.put_nowait(None)

    def stop_message(self) -> str:
        raise NotImplementedError

    def call_ended(self) -> CallEnded:
        """The call is over (after its last stream): tell the caller."""
        ended = CallEnded(self.ended_reason, Outcome.NONE, time.perf_counter())
        self._publish(ended)
        return ended

    async def stream(self, url: str, headers: dict[str, str], opening: list[str],
                     inbound: AsyncIterator[Inbound]) -> None:
        """One media stream, until either side ends it."""
        self.log.streams += 1
        async with websockets.connect(url, additional_headers=headers, compression=None) as ws:
            for message in opening:
                await ws.send(message)
            async with asyncio.TaskGroup() as tg:
                pump = tg.create_task(self._pump_caller(inbound))
                sender = tg.create_task(self._sender(ws))
                await self._receive(ws)
                pump.cancel()
                sender.cancel()
            self.log.close_code = ws.close_code

    async def _pump_caller(self, inbound: AsyncIterator[Inbound]) -> None:
        async for item in inbound:
            for message in self.caller_messages(item):
                self._send.put_nowait(message)
            if isinstance(item, HangupIn):
                self._send.put_nowait(None)
                return

    async def _sender(self, ws: Any) -> None:
        while (message := await self._send.get()) is not None:
            await ws.send(message)
        self._ended.set()
        await ws.close()

    async def _receive(self, ws: Any) -> None:
        try:
            async for message in ws:
                self.on_agent_message(json.loads(message))
        except websockets.ConnectionClosed:
            pass
        if not self._ended.is_set():  # frontdesk closed the stream
            self.ended_reason = EndReason.AGENT_HANGUP
            self._ended.set()
            self._send.put_nowait(None)


@dataclass(frozen=True)
class DialRequest:
    """The ``<Dial>`` frontdesk redirected the call to."""

    number: str
    action_url: str | None = None  # where the outcome goes; None: the call ends with the dial
    whisper_url: str | None = None  # fetched for the person who answers (a warm transfer)
    timeout_s: int | None = None


class TwilioEmulator(_Line):
    """A Twilio call into frontdesk; with ``answering`` (the CallSid of a call frontdesk
    placed), the callee picking up that outbound call instead: Twilio then sends the
    voice webhook with ``Direction=outbound-api``, From our number and To the callee.
    ``dial_outcomes``: how each transfer target answers a ``<Dial>`` (default completed)."""

    def __init__(self, dial: Dial, *, account_sid: str, auth_token: str,
                 api: CarrierApi | None = None, http: httpx.AsyncClient | None = None,
                 answering: str | None = None,
                 dial_outcomes: Mapping[str, str] | None = None) -> None:
        super().__init__(dial, http)
        self.account_sid, self.auth_token, self.api = account_sid, auth_token, api
        self.outbound = answering is not None
        self.call_sid = answering or "CA" + secrets.token_hex(16)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.twiml: str | None = None
        self.dial_outcomes = dict(dial_outcomes or {})
        self._dialed: DialRequest | None = None  # the transfer the REST API asked for

    async def run(self, inbound: AsyncIterator[Inbound]) -> CallEnded:
        started = time.monotonic()
        theirs, ours = self.dial.from_number, self.dial.to_number
        caller, called = (ours, theirs) if self.outbound else (theirs, ours)
        params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01",
                  "CallSid": self.call_sid,
                  "CallStatus": "in-progress" if self.outbound else "ringing",
                  "Direction": "outbound-api" if self.outbound else "inbound",
                  "From": caller, "To": called, "Called": called, "Caller": caller}
        self.twiml = (await self.post_form("/twilio/voice", params)).text
        stream_url, custom = stream_from_twiml(self.twiml)
        if stream_url is None:
            self.ended_reason = EndReason.AGENT_HANGUP
            return self.call_ended()
        if self.api is not None:
            self.api.register_call(self.call_sid)
            self.api.call_hooks.append(self._on_rest)
        said: asyncio.Queue[Inbound] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as tg:
                relay = tg.create_task(_relay(inbound, said))
                await self._legs(stream_url, custom, said, params)
                relay.cancel()
        finally:
            self.ringing = False
            if self.api is not None:
                self.api.call_hooks.remove(self._on_rest)
        duration = str(round(time.monotonic() - started))
        await self.post_form("/twilio/status", {**params, "CallStatus": "completed",
                                                "CallDuration": duration})
        return self.call_ended()

    async def _legs(self, stream_url: str, custom: dict[str, str],
                    said: asyncio.Queue[Inbound], params: dict[str, str]) -> None:
        """The first stream; then, while frontdesk transfers with an ``action`` that
        answers with a stream, the caller back on a new one."""
        await self._connect(stream_url, custom, said)
        while (request := self._dialed) is not None and request.action_url is not None:
            self._dialed = None
            document = await self._dial_outcome(request, params)
            stream_url_or_none, custom = stream_from_twiml(document)
            if stream_url_or_none is None or _caller_hung_up(said):
                return
            await self._connect(stream_url_or_none, custom, said)

    async def _connect(self, stream_url: str, custom: dict[str, str],
                       said: asyncio.Queue[Inbound]) -> None:
        self._new_stream()
        self.stream_sid = "MZ" + secrets.token_hex(16)
        headers = {"X-Twilio-Signature": twilio_signature.compute_signature(
            self.auth_token, stream_url)}
        opening = [
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json.dumps({"event": "start", "sequenceNumber": self.next_seq(),
                        "streamSid": self.stream_sid,
                        "start": {"streamSid": self.stream_sid, "accountSid": self.account_sid,
                                  "callSid": self.call_sid, "tracks": ["inbound"],
                                  "customParameters": custom,
                                  "mediaFormat": {"encoding": "audio/x-mulaw",
                                                  "sampleRate": 8000, "channels": 1}}}),
        ]
        await self.stream(local_url(stream_url, self.dial), headers, opening, _queued(said))

    async def _dial_outcome(self, request: DialRequest, params: dict[str, str]) -> str:
        """Ring the target (its configured outcome), whisper to it if it answers, and
        post the outcome to the ``action`` URL; returns frontdesk's TwiML answer."""
        assert request.action_url is not None
        status = self.dial_outcomes.get(request.number, "completed")
        child = "CA" + secrets.token_hex(16)
        outcome = {**params, "CallStatus": "in-progress", "DialCallStatus": status,
                   "DialCallSid": child}
        if status in ("completed", "answered"):
            if request.whisper_url is not None:
                whisper = await self.post_signed(request.whisper_url, {
                    "AccountSid": self.account_sid, "CallSid": child,
                    "ParentCallSid": self.call_sid, "CallStatus": "in-progress",
                    "Direction": "outbound-dial", "From": params["To"],
                    "To": request.number})
                self.log.whispers.append(_said(whisper.text))
            outcome["DialCallDuration"] = "1"
        self.log.dial_statuses.append(status)
        return (await self.post_signed(request.action_url, outcome)).text

    async def post_form(self, path: str, params: dict[str, str]) -> httpx.Response:
        return await self.post_signed(self.dial.public_url + path, params)

    async def post_signed(self, public_url: str, params: dict[str, str]) -> httpx.Response:
        """A webhook to ``public_url`` (as frontdesk announced it), signed the way Twilio
        signs, sent to where frontdesk really listens."""
        body = urlencode(params)
        signature = twilio_signature.compute_signature(
            self.auth_token, public_url, sorted(params.items()))
        response = await self.post(
            local_url(public_url, self.dial, websocket=False), body,
            {"X-Twilio-Signature": signature,
             "Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code >= 400:
            path = urlsplit(public_url).path
            raise EmulatorError(f"{path} answered {response.status_code}")
        return response

    async def _on_rest(self, request: RecordedRequest) -> None:
        if self.call_sid not in request.path or request.form is None:
            return
        if "Twiml" in request.form:
            dialed = _dial_request(request.form["Twiml"])
            if dialed is not None:
                self.log.transfer_to = dialed.number
                self._dialed = dialed
                self.ringing = True
            self.end_stream(by_agent=True)
        elif request.form.get("Status") == "completed":
            self.end_stream(by_agent=True)

    def envelope(self, event: str) -> dict[str, Any]:
        return {"event": event, "sequenceNumber": self.next_seq(), "streamSid": self.stream_sid}

    def dtmf_body(self, digit: str) -> dict[str, str]:
        return {"track": "inbound_track", "digit": digit}

    def stop_message(self) -> str:
        return json.dumps({**self.envelope("stop"),
                           "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})


# how a transfer target answers -> the hang-up cause of the leg that rang it (None: answers)
_TELNYX_CAUSES: dict[str, str | None] = {
    "completed": None, "answered": None, "busy": "user_busy", "no-answer": "timeout",
    "failed": "call_rejected"}


@dataclass(frozen=True)
class TelnyxTransfer:
    """The transfer command frontdesk sent (client states as sent: base64)."""

    number: str
    from_number: str | None = None
    timeout_s: int | None = None
    client_state: str | None = None  # echoed on the caller's leg's later webhooks
    target_leg_client_state: str | None = None  # echoed on the new leg's webhooks

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TelnyxTransfer:
        timeout = body.get("timeout_secs")
        return cls(str(body.get("to", "")), _opt_str(body.get("from")),
                   timeout if isinstance(timeout, int) else None,
                   _opt_str(body.get("client_state")),
                   _opt_str(body.get("target_leg_client_state")))


class TelnyxEmulator(_Line):
    """A Telnyx call into frontdesk. ``dial_outcomes``: how each transfer target answers
    (number -> busy | no-answer | failed | completed; default completed)."""

    def __init__(self, dial: Dial, *, private_key: Ed25519PrivateKey, api: CarrierApi,
                 swap_media: bool = False, http: httpx.AsyncClient | None = None,
                 dial_outcomes: Mapping[str, str] | None = None) -> None:
        super().__init__(dial, http)
        self.private_key, self.api = private_key, api
        self.call_control_id = "v3:" + secrets.token_urlsafe(24)
        self.stream_id = str(uuid.uuid4())
        self._swap = swap_media  # send media pairwise out of order (Telnyx does not promise order)
        self._held: str | None = None
        unknown = set((dial_outcomes or {}).values()) - set(_TELNYX_CAUSES)
        if unknown:
            raise ValueError(f"unknown dial outcomes {sorted(unknown)}")
        self.dial_outcomes = dict(dial_outcomes or {})
        self._transfer: TelnyxTransfer | None = None  # the one to ring next
        self._state: str | None = None  # client state this leg's webhooks echo
        self._restarts: asyncio.Queue[RecordedRequest] = asyncio.Queue()  # streaming_start
        self._answered_legs: list[dict[str, Any]] = []  # transfer legs that took the call

    async def run(self, inbound: AsyncIterator[Inbound]) -> CallEnded:
        self.api.register_call(self.call_control_id)
        answered: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()

        async def on_rest(request: RecordedRequest) -> None:
            if self.call_control_id not in request.path:
                return
            if request.path.endswith("/actions/answer") and not answered.done():
                answered.set_result(request)
            elif request.path.endswith("/actions/transfer"):
                transfer = TelnyxTransfer.from_body(request.json or {})
                self.log.transfer_to = transfer.number
                self._transfer = transfer
                self._state = transfer.client_state or self._state
                self.ringing = True
                self.end_stream(by_agent=True)
            elif request.path.endswith("/actions/streaming_start"):
                self._restarts.put_nowait(request)
            elif request.path.endswith("/actions/hangup"):
                self.end_stream(by_agent=True)

        self.api.call_hooks.append(on_rest)
        started = time.time()
        said: asyncio.Queue[Inbound] = asyncio.Queue()
        try:
            await self.post_event("call.initiated", {"direction": "incoming", "state": "parked"})
            answer = await asyncio.wait_for(answered, 10)
            async with asyncio.TaskGroup() as tg:
                relay = tg.create_task(_relay(inbound, said))
                await self._legs(str((answer.json or {}).get("stream_url")), said)
                relay.cancel()
        finally:
            self.ringing = False
            self.api.call_hooks.remove(on_rest)
        ended = {"start_time": _iso(started), "end_time": _iso(time.time())}
        for leg in self._answered_legs:  # the person who took the call hangs up too
            await self.post_webhook("call.hangup", {
                **leg, "hangup_cause": "normal_clearing", "hangup_source": "caller", **ended})
        await self.post_event("call.hangup", {
            "hangup_cause": "normal_clearing", "hangup_source": "caller", **ended})
        return self.call_ended()

    async def _legs(self, stream_url: str, said: asyncio.Queue[Inbound]) -> None:
        """The first stream; then, while frontdesk transfers and the target does not
        take the call, the caller back on the stream frontdesk restarts, if it does."""
        await self._connect(stream_url, said)
        while (transfer := self._transfer) is not None:
            self._transfer = None
            restarted = await self._ring(transfer)
            if restarted is None or _caller_hung_up(said):
                return
            await self._connect(restarted, said)

    async def _connect(self, stream_url: str, said: asyncio.Queue[Inbound]) -> None:
        self._new_stream()
        self._held = None
        self.stream_id = str(uuid.uuid4())
        opening = [
            json.dumps({"event": "connected", "version": "1.0.0"}),
            json.dumps({"event": "start", "sequence_number": self.next_seq(),
                        "stream_id": self.stream_id,
                        "start": {"call_control_id": self.call_control_id,
                                  "call_session_id": str(uuid.uuid4()),
                                  "from": self.dial.from_number, "to": self.dial.to_number,
                                  "custom_parameters": {},
                                  "media_format": {"encoding": "PCMU", "sample_rate": 8000,
                                                   "channels": 1}}}),
        ]
        await self.stream(local_url(stream_url, self.dial), {}, opening, _queued(said))

    async def _ring(self, transfer: TelnyxTransfer) -> str | None:
        """Ring the target on a new leg (its configured outcome) and send that leg's
        webhooks, as Telnyx does: initiated, then answered (and bridged) or a hang-up
        with the cause. Returns the stream URL frontdesk restarted streaming on the
        caller's leg with, if it did so while answering the hang-up webhook (the edge
        does; a restart that came later would not be waited for)."""
        status = self.dial_outcomes.get(transfer.number, "completed")
        cause = _TELNYX_CAUSES[status]
        leg: dict[str, Any] = {
            "call_control_id": "v3:" + secrets.token_urlsafe(24), "connection_id": "1",
            "call_leg_id": str(uuid.uuid4()), "call_session_id": str(uuid.uuid4()),
            "from": transfer.from_number or self.dial.to_number, "to": transfer.number,
            "direction": "outgoing"}
        if transfer.target_leg_client_state is not None:
            leg["client_state"] = transfer.target_leg_client_state
        started = time.time()
        await self.post_webhook("call.initiated", {**leg, "state": "bridging"})
        self.log.dial_statuses.append(status)
        if cause is None:
            self.ringing = False  # the person answered: the caller talks to them now
            await self.post_webhook("call.answered", {**leg, "state": "answered"})
            await self.post_webhook("call.bridged", {**leg, "state": "bridged"})
            self._answered_legs.append(leg)
            return None
        await self.post_webhook("call.hangup", {
            **leg, "hangup_cause": cause, "hangup_source": "callee",
            "start_time": _iso(started), "end_time": _iso(time.time())})
        if self._restarts.empty():
            return None
        restart = self._restarts.get_nowait()
        return str((restart.json or {}).get("stream_url"))

    async def post_event(self, event_type: str, extra: dict[str, Any]) -> httpx.Response:
        """A webhook of the caller's leg (with the client state a command gave it)."""
        payload = {"call_control_id": self.call_control_id, "connection_id": "1",
                   "from": self.dial.from_number, "to": self.dial.to_number, **extra}
        if self._state is not None:
            payload["client_state"] = self._state
        return await self.post_webhook(event_type, payload)

    async def post_webhook(self, event_type: str, payload: dict[str, Any]) -> httpx.Response:
        """A Call Control webhook, signed the way Telnyx signs."""
        body = json.dumps({"data": {"event_type": event_type, "id": str(uuid.uuid4()),
                                    "occurred_at": _iso(time.time()), "payload": payload,
                                    "record_type": "event"}}).encode()
        stamp = int(time.time())
        response = await self.post(
            self.dial.server_url + "/telnyx/webhook", body,
            {"telnyx-signature-ed25519": telnyx_signature.sign(self.private_key, body, stamp),
             "telnyx-timestamp": str(stamp), "content-type": "application/json"})
        if response.status_code >= 400:
            raise EmulatorError(f"/telnyx/webhook answered {response.status_code}")
        return response

    def envelope(self, event: str) -> dict[str, Any]:
        return {"event": event, "sequence_number": self.next_seq(), "stream_id": self.stream_id}

    def stop_message(self) -> str:
        return json.dumps({**self.envelope("stop"),
                           "stop": {"call_control_id": self.call_control_id}})

    def caller_messages(self, item: Inbound) -> list[str]:
        message = self.caller_message(item)
        if not self._swap or message is None:
            return [] if message is None else [message]
        if isinstance(item, AudioIn):
            if self._held is None:
                self._held = message
                return []
            earlier, self._held = self._held, None
            return [message, earlier]  # the later frame first
        pending, self._held = self._held, None
        return [m for m in (pending, message) if m is not None]


def stream_from_twiml(document: str) -> tuple[str | None, dict[str, str]]:
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise EmulatorError(f"frontdesk answered invalid TwiML: {error}") from None
    stream = root.find("./Connect/Stream")
    if stream is None:
        return None, {}
    if "?" in (url := stream.get("url", "")):
        raise EmulatorError("Twilio does not allow a query string in the Stream url")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return url, params


def _dial_request(document: str) -> DialRequest | None:
    dial = ET.fromstring(document).find("Dial")
    if dial is None:
        return None
    noun = dial.find("Number")
    if noun is None:
        noun = dial.find("Sip")
    number = (noun.text if noun is not None else dial.text) or ""
    timeout = dial.get("timeout")
    return DialRequest(number.strip(), action_url=dial.get("action"),
                       whisper_url=noun.get("url") if noun is not None else None,
                       timeout_s=int(timeout) if timeout else None)


def _said(document: str) -> str:
    """The text of a ``<Say>`` document (the whisper)."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise EmulatorError(f"frontdesk answered invalid TwiML: {error}") from None
    return " ".join((say.text or "").strip() for say in root.findall("Say"))


async def _relay(inbound: AsyncIterator[Inbound], into: asyncio.Queue[Inbound]) -> None:
    """The caller's input, for the whole call (a stream ending must not end the caller)."""
    async for item in inbound:
        into.put_nowait(item)
        if isinstance(item, HangupIn):
            return


async def _queued(said: asyncio.Queue[Inbound]) -> AsyncIterator[Inbound]:
    while True:
        item = await said.get()
        yield item
        if isinstance(item, HangupIn):
            return


def _caller_hung_up(said: asyncio.Queue[Inbound]) -> bool:
    """Drop what the caller said while no stream carried it; True if they hung up."""
    while not said.empty():
        if isinstance(said.get_nowait(), HangupIn):
            return True
    return False


def local_url(public_url: str, dial: Dial, *, websocket: bool = True) -> str:
    """Connect to where frontdesk really listens, for the URL it announced publicly."""
    announced, real = urlsplit(public_url), urlsplit(dial.server_url)
    scheme = real.scheme if not websocket else "wss" if real.scheme == "https" else "ws"
    public_path = urlsplit(dial.public_url).path.rstrip("/")
    path = announced.path[len(public_path):] if announced.path.startswith(public_path) \
        else announced.path
    return f"{scheme}://{real.netloc}{real.path.rstrip('/')}{path}"


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + \
        f".{int(stamp % 1 * 1e6):06d}Z"
