"""The carrier edge under bad input, on a real server: unsigned, tampered and replayed
requests are refused and change nothing; malformed media-stream traffic is recorded on
the call and skipped or ends the stream; a socket that drops is a dropped call."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from frontdesk.client.carrier import local_url, stream_from_twiml
from frontdesk.client.harness import CarrierHarness
from frontdesk.runtime import Runtime
from frontdesk.store import BusinessStore, CallRecord
from frontdesk.telephony.telnyx.signature import sign
from frontdesk.telephony.twilio.rest import TwilioActions
from frontdesk.telephony.twilio.signature import compute_signature

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
SHOP = "+15125550100"
CALLER = "+15125550177"
SILENCE_ULAW = base64.b64encode(b"\xff" * 160).decode()


def _shop(runtime: Runtime) -> BusinessStore:
    return runtime.store.for_business("main-street-auto")


def _voice_params(call_sid: str, harness: CarrierHarness) -> dict[str, str]:
    assert harness.settings.twilio is not None
    return {"AccountSid": harness.settings.twilio.account_sid, "CallSid": call_sid,
            "CallStatus": "ringing", "Direction": "inbound", "From": CALLER, "To": SHOP}


async def _post(harness: CarrierHarness, path: str, params: dict[str, str],
                signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    async with httpx.AsyncClient() as http:
        return await http.post(harness.base_url + path, content=urlencode(params),
                               headers=headers)


def _sign(harness: CarrierHarness, path: str, params: dict[str, str]) -> str:
    assert harness.settings.twilio is not None
    return compute_signature(harness.settings.twilio.auth_token,
                             harness.settings.public_url + path, sorted(params.items()))


async def _ringing(harness: CarrierHarness, call_sid: str) -> tuple[str, dict[str, str]]:
    """A signed voice webhook; returns the stream URL to connect to and its headers."""
    params = _voice_params(call_sid, harness)
    response = await _post(harness, "/twilio/voice", params,
                           _sign(harness, "/twilio/voice", params))
    assert response.status_code == 200
    url, _ = stream_from_twiml(response.text)
    assert url is not None
    assert harness.settings.twilio is not None
    headers = {"X-Twilio-Signature": compute_signature(harness.settings.twilio.auth_token, url)}
    return local_url(url, harness.dial(SHOP)), headers


def _start(call_sid: str, stream_sid: str = "MZ1") -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
                       "start": {"streamSid": stream_sid, "accountSid": "AC1",
                                 "callSid": call_sid, "tracks": ["inbound"],
                                 "customParameters": {},
                                 "mediaFormat": {"encoding": "audio/x-mulaw",
                                                 "sampleRate": 8000, "channels": 1}}})


def _media(seq: int, payload: str = SILENCE_ULAW, stream_sid: str = "MZ1") -> str:
    return json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": stream_sid,
                       "media": {"track": "inbound", "chunk": str(seq), "timestamp": "0",
                                 "payload": payload}})


async def _ended(harness: CarrierHarness, runtime: Runtime, call_sid: str) -> CallRecord:
    """The call row once the server's media session for it is over (its row is final)."""
    record = _shop(runtime).find_call_by_carrier_id("twilio", call_sid)
    assert record is not None
    await asyncio.wait_for(harness.edge.wait_finished(record.id), 10)
    final = _shop(runtime).get_call(record.id)
    assert final is not None and final.ended_at is not None
    return final


# -- webhook signatures ---------------------------------------------------------------------


async def test_unsigned_tampered_or_misaddressed_webhooks_get_403_and_change_nothing(
    edge: tuple[Runtime, CarrierHarness], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, harness = edge
    params = _voice_params("CA" + "1" * 32, harness)
    good = _sign(harness, "/twilio/voice", params)
    caplog.set_level(logging.INFO)
    assert (await _post(harness, "/twilio/voice", params, None)).status_code == 403
    tampered = {**params, "From": "+15125550666"}
    assert (await _post(harness, "/twilio/voice", tampered, good)).status_code == 403
    elsewhere = _sign(harness, "/twilio/status", params)
    assert (await _post(harness, "/twilio/voice", params, elsewhere)).status_code == 403
    assert (await _post(harness, "/twilio/status", params, good)).status_code == 403
    assert _shop(runtime).list_calls() == []
    assert CALLER not in caplog.text and "refused twilio webhook" in caplog.text
    assert (await _post(harness, "/twilio/voice", params, good)).status_code == 200
    assert len(_shop(runtime).list_calls()) == 1


async def test_telnyx_webhooks_need_a_fresh_valid_ed25519_signature(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    control_id = "v3:edge-test"
    harness.api.register_call(control_id)
    body = json.dumps({"data": {"event_type": "call.initiated", "id": "e1",
                                "payload": {"call_control_id": control_id,
                                            "direction": "incoming", "from": CALLER,
                                            "to": SHOP}}}).encode()

    async def post(content: bytes, stamp: int, signature: str | None) -> int:
        headers = {"telnyx-timestamp": str(stamp), "content-type": "application/json"}
        if signature is not None:
            headers["telnyx-signature-ed25519"] = signature
        async with httpx.AsyncClient() as http:
            response = await http.post(harness.base_url + "/telnyx/webhook", content=content,
                                       headers=headers)
        return response.status_code

    now = int(time.time())
    assert await post(body, now, None) == 403
    assert await post(body, now - 301, sign(harness.telnyx_key, body, now - 301)) == 403
    signed = sign(harness.telnyx_key, body, now)
    assert await post(body.replace(b"incoming", b"outgoing"), now, signed) == 403
    assert _shop(runtime).list_calls() == []
    assert await post(body, now, signed) == 200
    assert await post(body, now, signed) == 403  # the same delivery again: a replay
    assert len(_shop(runtime).list_calls()) == 1
    [answer] = [r for r in harness.api.requests if r.path.endswith("/actions/answer")]
    assert answer.json is not None and "/telnyx/media/" in answer.json["stream_url"]


# -- the media WebSocket ----------------------------------------------------------------------


async def test_the_stream_needs_its_signature_and_a_ticket_works_once(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "2" * 32
    url, headers = await _ringing(harness, call_sid)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(_start(call_sid))
        await ws.send(json.dumps({"event": "stop", "sequenceNumber": "2", "streamSid": "MZ1",
                                  "stop": {"callSid": call_sid}}))
        await ws.wait_closed()
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(url, additional_headers=headers):
            pass
    record = await _ended(harness, runtime, call_sid)
    assert record.status == "completed"


async def test_malformed_messages_are_recorded_skipped_and_the_call_goes_on(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "3" * 32
    url, headers = await _ringing(harness, call_sid)
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(_start(call_sid))
        await ws.send("{not json")
        await ws.send(json.dumps({"event": "teleport", "streamSid": "MZ1"}))
        await ws.send(_media(2, payload="***not base64***"))
        await ws.send(_media(3, stream_sid="MZ-other"))
        for seq in range(4, 30):
            await ws.send(_media(seq))
        agent: list[Any] = []
        await ws.send(json.dumps({"event": "stop", "sequenceNumber": "30", "streamSid": "MZ1",
                                  "stop": {"callSid": call_sid}}))
        async for message in ws:
            agent.append(json.loads(message))
    record = await _ended(harness, runtime, call_sid)
    assert record.status == "completed"
    errors = [e.data for e in _shop(runtime).list_call_events(record.id)
              if e.kind == "stream.protocol_error"]
    assert [e["code"] for e in errors] == ["bad_json", "unknown_event", "bad_payload",
                                           "wrong_stream"]
    assert not any(e["fatal"] for e in errors)
    assert any(m["event"] == "media" for m in agent)  # the greeting still played


@pytest.mark.parametrize(("first", "code"), [("media", "media_before_start"),
                                             ("huge", "oversize")])
async def test_fatal_stream_errors_close_the_stream_and_mark_the_call(
    edge: tuple[Runtime, CarrierHarness], first: str, code: str
) -> None:
    runtime, harness = edge
    call_sid = "CA" + ("4" if first == "media" else "5") * 32
    url, headers = await _ringing(harness, call_sid)
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        if first == "media":
            await ws.send(_media(1))
        else:
            await ws.send(_start(call_sid))
            await ws.send(_media(2, payload="A" * 100_000))
        with pytest.raises(websockets.ConnectionClosedError):
            async for _ in ws:
                pass
        assert ws.close_code == 1008
    record = await _ended(harness, runtime, call_sid)
    assert record.status == ("failed" if first == "media" else "dropped")
    errors = [e.data for e in _shop(runtime).list_call_events(record.id)
              if e.kind == "stream.protocol_error"]
    assert [(e["code"], e["fatal"]) for e in errors] == [(code, True)]


async def test_a_socket_that_closes_without_stop_is_a_dropped_call(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "6" * 32
    url, headers = await _ringing(harness, call_sid)
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(_start(call_sid))
        for seq in range(2, 10):
            await ws.send(_media(seq))
    record = await _ended(harness, runtime, call_sid)
    assert (record.status, record.end_reason) == ("dropped", "dropped")


async def test_a_status_callback_closes_a_call_whose_stream_never_came(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "7" * 32
    await _ringing(harness, call_sid)
    params = {**_voice_params(call_sid, harness), "CallStatus": "no-answer",
              "CallDuration": "0"}
    response = await _post(harness, "/twilio/status", params,
                           _sign(harness, "/twilio/status", params))
    assert response.status_code == 204
    record = _shop(runtime).find_call_by_carrier_id("twilio", call_sid)
    assert record is not None
    assert (record.status, record.carrier_status, record.duration_s) == ("missed", "no-answer",
                                                                         0)


# -- outbound calls ---------------------------------------------------------------------------


async def test_an_outbound_twilio_call_we_placed_is_streamed_for_our_business(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    assert harness.settings.twilio is not None
    actions = TwilioActions(harness.settings.twilio)
    placed = await actions.place_call(from_number=SHOP, to_number=CALLER,
                                      webhook_url=harness.settings.public_url + "/twilio/voice")
    await actions.aclose()
    params = {**_voice_params(placed.carrier_call_id, harness), "Direction": "outbound-api",
              "From": SHOP, "To": CALLER, "CallStatus": "in-progress"}
    response = await _post(harness, "/twilio/voice", params,
                           _sign(harness, "/twilio/voice", params))
    url, _ = stream_from_twiml(response.text)
    assert url is not None and "/twilio/media/" in url
    record = _shop(runtime).find_call_by_carrier_id("twilio", placed.carrier_call_id)
    assert record is not None
    assert (record.from_number, record.to_number, record.status) == (CALLER, SHOP, "ringing")


async def test_an_answered_outbound_telnyx_call_gets_its_stream(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    control_id = "v3:outbound"
    harness.api.register_call(control_id)
    body = json.dumps({"data": {"event_type": "call.answered", "id": "e2",
                                "payload": {"call_control_id": control_id,
                                            "direction": "outgoing", "from": SHOP,
                                            "to": CALLER}}}).encode()
    stamp = int(time.time())
    async with httpx.AsyncClient() as http:
        response = await http.post(
            harness.base_url + "/telnyx/webhook", content=body,
            headers={"telnyx-timestamp": str(stamp),
                     "telnyx-signature-ed25519": sign(harness.telnyx_key, body, stamp)})
    assert response.status_code == 200
    [start] = [r for r in harness.api.requests if r.path.endswith("/actions/streaming_start")]
    assert start.json is not None and start.json["stream_codec"] == "PCMU"
    record = _shop(runtime).find_call_by_carrier_id("telnyx", control_id)
    assert record is not None and (record.from_number, record.to_number) == (CALLER, SHOP)


async def test_an_unanswered_callback_is_recorded_on_its_session(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    now = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
    session = shop.open_session(caller_number=CALLER, now=now)
    shop.mark_dropped(session.id, now=now, resume_until=now + timedelta(hours=24),
                      callback_at=now)
    [claimed] = shop.claim_callbacks(now=now, owner="office", lease_s=60, limit=1)
    call_sid = "CA" + "8" * 32
    shop.set_callback_state(claimed.id, state="placed", now=now, owner="office",
                            carrier_call_id=call_sid)
    # Twilio reports our outbound call: From is our number, To the callee
    params = {**_voice_params(call_sid, harness), "Direction": "outbound-api",
              "From": SHOP, "To": CALLER, "CallStatus": "no-answer", "CallDuration": "0"}
    response = await _post(harness, "/twilio/status", params,
                           _sign(harness, "/twilio/status", params))
    assert response.status_code == 204
    after = shop.get_session(session.id)
    assert after is not None and after.callback_state == "failed"
    assert shop.find_call_by_carrier_id("twilio", call_sid) is None  # no call row was made
