"""The FastAPI app: health, metrics, and the generic WebSocket call endpoint.

Routes parse and authenticate, then hand over to the runtime; no business logic here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Response, WebSocket, WebSocketDisconnect
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from frontdesk.call.events import CallEvent
from frontdesk.call.inbound import HangupIn, Inbound
from frontdesk.runtime import Runtime
from frontdesk.server.backoffice import BackOffice
from frontdesk.server.calls import calls_router
from frontdesk.server.carriers import carrier_router
from frontdesk.server.pacer import PacedSocketOutput
from frontdesk.server.wire import WireError, event_json, parse_audio, parse_control
from frontdesk.telephony.edge import CarrierEdge
from frontdesk.telephony.sip.server import SipServer

log = logging.getLogger(__name__)

# uvicorn's WebSocket message limit (its default is 16 MiB): above every protocol's own
# limit (64 KiB for carrier media, 32 KiB of PCM on /call), so those checks answer first.
# Serve with ``ws_per_message_deflate=False`` too: base64 audio does not compress, and
# inflating 50 messages a second per call costs CPU for nothing.
WS_MAX_MESSAGE_BYTES = 128 * 1024


def create_app(
    runtime: Runtime, edge: CarrierEdge | None = None, backoffice: BackOffice | None = None,
    sip: SipServer | None = None,
) -> FastAPI:
    """The app; with ``edge`` it also serves the configured carriers' routes, with
    ``backoffice`` it runs the outbox and reconciliation while it serves, and with ``sip``
    it answers SIP calls on that server's UDP port (started before the app serves)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            if backoffice is not None:
                tg.create_task(backoffice.run(stop))
            if sip is not None:  # on stop, its calls hang up (BYE) and end as dropped
                listening = asyncio.Event()
                tg.create_task(sip.run(listening, stop))
                await listening.wait()  # a port in use fails the start, not the first call
            try:
                yield
            finally:
                stop.set()
        await runtime.aclose()
        if edge is not None:
            await edge.aclose()

    app = FastAPI(title="frontdesk", lifespan=lifespan)
    app.include_router(calls_router(runtime.store, runtime.registry))
    if edge is not None:
        app.include_router(carrier_router(edge))

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return {"status": "ok", "businesses": runtime.registry.ids}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    @app.websocket("/call")
    async def call(websocket: WebSocket, to: str, caller: str = "anonymous") -> None:
        await websocket.accept()
        if runtime.registry.get_by_number(to) is None:
            await websocket.send_text(WireError("unknown_number", f"no business answers {to}")
                                      .to_json())
            await websocket.close(code=4404)
            return
        await run_socket_call(runtime, websocket, to_number=to, from_number=caller)

    return app


async def run_socket_call(
    runtime: Runtime, websocket: WebSocket, *, to_number: str, from_number: str
) -> None:
    output = PacedSocketOutput(websocket)
    opened = await runtime.open_call(to_number=to_number, from_number=from_number,
                                     output=output)
    outbox: asyncio.Queue[str] = asyncio.Queue()

    def forward(event: CallEvent) -> None:
        message = event_json(event)
        if message is not None:
            outbox.put_nowait(json.dumps(message))

    opened.bus.subscribe_all(forward)
    await websocket.send_text(json.dumps({"type": "call", "call_id": opened.call_id,
                                          "business": opened.profile.business.id}))

    media_timeout_s = opened.profile.engine.media_timeout_ms / 1000

    async def inbound() -> AsyncIterator[Inbound]:
        while True:
            try:
                async with asyncio.timeout(media_timeout_s):
                    message = await websocket.receive()
            except TimeoutError:  # clients stream audio, silence included: this one died
                log.warning("call %s: no message for %d ms", opened.call_id,
                            opened.profile.engine.media_timeout_ms)
                yield HangupIn(dropped=True)
                return
            except WebSocketDisconnect:
                yield HangupIn(dropped=True)  # gone without a hangup message
                return
            if message["type"] == "websocket.disconnect":
                yield HangupIn(dropped=True)
                return
            try:
                if message.get("bytes") is not None:
                    for item in parse_audio(message["bytes"]):
                        yield item
                else:
                    item = parse_control(message.get("text") or "")
                    yield item
                    if isinstance(item, HangupIn):
                        return
            except WireError as error:
                log.warning("call %s: bad client message: %s", opened.call_id, error)
                outbox.put_nowait(error.to_json())

    async def send_events() -> None:
        while True:
            text = await outbox.get()
            await output.send_text(text)

    try:
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(send_events())
            await opened.run(inbound())
            while not outbox.empty():
                await output.send_text(outbox.get_nowait())
            sender.cancel()
    except Exception:  # the edge: log it with the call id (the row is closed as failed)
        log.exception("call %s failed", opened.call_id)
        await output.send_text(json.dumps({"type": "error", "code": "internal",
                                           "message": "the call failed; it has been logged"}))
    await output.close()
