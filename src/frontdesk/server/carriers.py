"""Carrier routes: Twilio and Telnyx webhooks and media WebSockets.

Each route authenticates (signature, or the one-time stream ticket), parses, and hands
over to :class:`CarrierEdge` or a :class:`MediaSession`. A request that fails
authentication gets 403 (a WebSocket is refused before the upgrade completes), is logged
with the reason and the path only, never the body (it holds callers' numbers), and
changes nothing. The transfer callbacks (``/twilio/dial/{ticket}``, ``/twilio/whisper/
{ticket}``) are signed webhooks too; a ticket that is malformed, forged or names no
transfer gets 404, a used one 410, and neither is ever a 500. A Telnyx transfer reports
through the webhooks of the leg it rings, which carry its ticket as client state: a
webhook whose ticket is forged, names no transfer or was used is acknowledged (Telnyx
would only redeliver it), logged with the reason and changes nothing.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from frontdesk.telephony.edge import CarrierEdge, DialRefused, StreamRefused, TransferIgnored
from frontdesk.telephony.session import MediaSession, StreamProtocol
from frontdesk.telephony.telnyx.media import TelnyxMediaStream
from frontdesk.telephony.telnyx.signature import TelnyxSignatureError, TelnyxVerifier
from frontdesk.telephony.telnyx.webhook import (
    TelnyxEvent,
    TelnyxWebhookError,
    hangup_status,
    parse_event,
)
from frontdesk.telephony.twilio import signature as twilio_signature
from frontdesk.telephony.twilio.media import TwilioMediaStream

log = logging.getLogger(__name__)


class StarletteSocket:
    """The :class:`~frontdesk.telephony.session.Socket` seam over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def receive(self) -> str | bytes | None:
        try:
            message = await self._ws.receive()
        except WebSocketDisconnect:
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, text: str) -> None:
        if self._ws.application_state is not WebSocketState.CONNECTED:
            return
        try:
            await self._ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the carrier hung up mid-send; the pump sees the close

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state is WebSocketState.CONNECTED:
            try:
                await self._ws.close(code, reason)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return  # already gone


def carrier_router(edge: CarrierEdge) -> APIRouter:
    router = APIRouter()
    settings = edge.settings
    telnyx_verifier = TelnyxVerifier(settings.telnyx.public_key) if settings.telnyx else None

    async def twilio_params(request: Request) -> dict[str, str]:
        if settings.twilio is None:
            raise HTTPException(404, "twilio is not configured")
        body = await request.body()
        url = twilio_signature.public_url(settings.public_url, request.url.path,
                                          request.url.query)
        token, sig = settings.twilio.auth_token, request.headers.get("x-twilio-signature")
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                twilio_signature.validate_json(token, url=url, body=body, signature=sig)
                return {}
            params = twilio_signature.validate_form(token, url=url, body=body, signature=sig)
        except twilio_signature.SignatureError as error:
            log.warning("refused twilio webhook %s: %s", request.url.path, error.reason)
            raise HTTPException(403, "invalid signature") from None
        return dict(params)

    @router.post("/twilio/voice")
    async def twilio_voice(request: Request) -> Response:
        params = await twilio_params(request)
        return Response(await edge.twilio_voice(params), media_type="application/xml")

    @router.post("/twilio/status", status_code=204)
    async def twilio_status(request: Request) -> Response:
        params = await twilio_params(request)
        duration = params.get("CallDuration")
        await edge.status(
            "twilio", params.get("CallSid", ""), (params.get("To", ""), params.get("From", "")),
            params.get("CallStatus", ""), int(duration) if duration and duration.isdigit()
            else None, {k: params[k] for k in ("SipResponseCode",) if k in params})
        return Response(status_code=204)

    @router.post("/twilio/whisper/{token}")
    async def twilio_whisper(request: Request, token: str) -> Response:
        await twilio_params(request)
        try:
            document = await edge.twilio_whisper(token)
        except DialRefused as error:
            log.warning("refused twilio whisper: %s", error.reason)
            raise HTTPException(error.status, error.reason) from None
        return Response(document, media_type="application/xml")

    @router.post("/twilio/dial/{token}")
    async def twilio_dial(request: Request, token: str) -> Response:
        params = await twilio_params(request)
        try:
            document = await edge.twilio_dial_outcome(token, params)
        except DialRefused as error:
            log.warning("refused twilio dial outcome: %s", error.reason)
            raise HTTPException(error.status, error.reason) from None
        return Response(document, media_type="application/xml")

    @router.websocket("/twilio/media/{token}")
    async def twilio_media(websocket: WebSocket, token: str) -> None:
        if settings.twilio is None:
            await websocket.close(1008)
            return
        url = f"{settings.public_ws_url}/twilio/media/{token}"
        try:
            twilio_signature.validate_url(settings.twilio.auth_token, url=url,
                                          signature=websocket.headers.get("x-twilio-signature"))
        except twilio_signature.SignatureError as error:
            log.warning("refused twilio media stream: %s", error.reason)
            await websocket.close(1008)
            return
        await _serve_stream(edge, websocket, "twilio", token, TwilioMediaStream())

    @router.post("/telnyx/webhook")
    async def telnyx_webhook(request: Request) -> dict[str, str]:
        if telnyx_verifier is None:
            raise HTTPException(404, "telnyx is not configured")
        body = await request.body()
        try:
            telnyx_verifier.verify(body, signature=request.headers.get("telnyx-signature-ed25519"),
                                   timestamp=request.headers.get("telnyx-timestamp"),
                                   now=time.time())
        except TelnyxSignatureError as error:
            log.warning("refused telnyx webhook: %s", error.reason)
            raise HTTPException(403, "invalid signature") from None
        try:
            event = parse_event(body)
        except TelnyxWebhookError as error:
            raise HTTPException(400, str(error)) from None
        try:
            await _telnyx_event(edge, event)
        except BaseException:
            # we answer 5xx and Telnyx redelivers: the same headers must then be accepted
            telnyx_verifier.release(signature=request.headers["telnyx-signature-ed25519"],
                                    timestamp=request.headers["telnyx-timestamp"])
            raise
        return {"status": "ok"}

    @router.websocket("/telnyx/media/{token}")
    async def telnyx_media(websocket: WebSocket, token: str) -> None:
        await _serve_stream(edge, websocket, "telnyx", token, TelnyxMediaStream())

    return router


async def _telnyx_event(edge: CarrierEdge, event: TelnyxEvent) -> None:
    try:
        if await edge.telnyx_leg(event):  # a transfer's leg B: never a call of our own
            return
    except TransferIgnored as ignored:
        # a taken transfer's leg B hanging up when the conversation ends is the usual case
        level = logging.INFO if ignored.reason == "used_ticket" else logging.WARNING
        log.log(level, "ignored telnyx transfer webhook %s: %s", event.event_type,
                ignored.reason)
        return
    payload = event.payload
    if event.event_type == "call.initiated":
        await edge.telnyx_initiated(payload)
    elif event.event_type == "call.answered":
        await edge.telnyx_answered(payload)
    elif event.event_type == "call.hangup":
        status, duration = hangup_status(payload)
        await edge.status("telnyx", event.call_control_id,
                          (str(payload.get("to", "")), str(payload.get("from", ""))),
                          status, duration, {"hangup_cause": payload.get("hangup_cause")})


async def _serve_stream(
    edge: CarrierEdge, websocket: WebSocket, carrier: str, token: str, protocol: StreamProtocol
) -> None:
    try:
        claimed = await edge.claim_stream(carrier, token)
    except StreamRefused as error:
        log.warning("refused %s media stream: %s", carrier, error)
        await websocket.close(1008)
        return
    business, call = claimed.business, claimed.call
    await websocket.accept()
    socket = StarletteSocket(websocket)
    session = MediaSession(edge.runtime, business, call, protocol, edge.actions_for(carrier),
                           socket, dial=edge.dial_for(carrier), leg=claimed.leg)
    try:
        await session.run()
    except Exception:  # the edge: log with the call id, close the row as failed
        log.exception("%s call %s failed", carrier, call.id)
        await socket.close(1011, "internal error")
        await edge.close_failed(business, call.id)
    await edge.session_finished(call.id)
