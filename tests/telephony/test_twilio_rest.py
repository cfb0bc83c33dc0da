"""TwilioActions against the local fake Twilio REST API (and Twilio's own library as oracle)."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer, RecordedRequest
from frontdesk.telephony.actions import CarrierActionError
from frontdesk.telephony.twilio.rest import TwilioActions, TwilioConfig
from frontdesk.telephony.twilio.twiml import dial as dial_twiml

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-token"
CALL = "CA" + "fedcba9876543210" * 2


@pytest.fixture
async def server() -> AsyncIterator[CarrierApiServer]:
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key="k")
    api.register_call(CALL)
    async with CarrierApiServer(api) as running:
        yield running


@pytest.fixture
async def twilio(server: CarrierApiServer) -> AsyncIterator[TwilioActions]:
    actions = TwilioActions(TwilioConfig(SID, TOKEN, api_base=server.base_url))
    yield actions
    await actions.aclose()


def dial_of(request: RecordedRequest) -> ET.Element:
    assert request.form is not None
    root = ET.fromstring(request.form["Twiml"])
    assert root.tag == "Response"
    dial = root.find("Dial")
    assert dial is not None
    return dial


async def test_transfer_redirects_the_call_to_a_dial(
    server: CarrierApiServer, twilio: TwilioActions
) -> None:
    await twilio.transfer(CALL, "+15125550199", caller_id="+15125550100")
    [request] = server.api.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Calls/{CALL}.json"
    assert request.action == "calls.update" and request.call_id == CALL
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic" and base64.b64decode(encoded).decode() == f"{SID}:{TOKEN}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    dial = dial_of(request)
    assert dial.text == "+15125550199" and dial.get("callerId") == "+15125550100"
    assert server.api.is_live(CALL)  # a transfer keeps the call up; only the stream ends


async def test_twiml_is_escaped_and_matches_twilios_own_builder(
    server: CarrierApiServer, twilio: TwilioActions
) -> None:
    number, caller_id = '+1512<5550199>&x', 'Main & "Co" <desk>'
    await twilio.transfer(CALL, number, caller_id=caller_id)  # the fake parses the TwiML
    [request] = server.api.requests
    assert request.form is not None
    raw = request.form["Twiml"]
    assert "&amp;" in raw and "&lt;" in raw and "<desk>" not in raw
    dial = dial_of(request)
    assert dial.text == number and dial.get("callerId") == caller_id
    oracle = VoiceResponse()
    oracle.dial(number, caller_id=caller_id)
    theirs = ET.fromstring(str(oracle))
    ours = ET.fromstring(raw)
    assert ET.tostring(theirs) == ET.tostring(ours)


def test_a_sip_target_is_dialled_with_the_sip_noun() -> None:
    root = ET.fromstring(dial_twiml("sip:desk@pbx.example.com;transport=tls"))
    sip = root.find("Dial/Sip")
    assert sip is not None and sip.text == "sip:desk@pbx.example.com;transport=tls"


async def test_hangup_completes_the_call_and_a_second_hangup_is_no_error(
    server: CarrierApiServer, twilio: TwilioActions
) -> None:
    await twilio.hangup(CALL)
    assert server.api.requests[0].form == {"Status": "completed"}
    assert not server.api.is_live(CALL)
    await twilio.hangup(CALL)  # Twilio answers 400/21220: the call is already over
    assert len(server.api.requests) == 2
    with pytest.raises(CarrierActionError) as info:
        await twilio.transfer(CALL, "+15125550199")
    assert (info.value.status, info.value.code, info.value.retryable) == (400, "21220", False)


async def test_send_sms_returns_the_message_sid(
    server: CarrierApiServer, twilio: TwilioActions
) -> None:
    sent = await twilio.send_sms(from_number="+15125550100", to_number="+15125550123",
                                 text="Booked: Thu 3 PM & see you")
    [request] = server.api.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.form == {"To": "+15125550123", "From": "+15125550100",
                            "Body": "Booked: Thu 3 PM & see you"}
    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.carrier_message_id)
    assert sent.status == "queued"


async def test_place_call_asks_for_every_status_event(
    server: CarrierApiServer, twilio: TwilioActions
) -> None:
    placed = await twilio.place_call(
        from_number="+15125550100", to_number="+15125550123",
        webhook_url="https://fd.example/twilio/voice",
        status_callback_url="https://fd.example/twilio/status")
    [request] = server.api.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert request.form is not None
    assert {k: request.form[k] for k in ("To", "From", "Url", "StatusCallback",
                                         "StatusCallbackMethod")} == {
        "To": "+15125550123", "From": "+15125550100", "Url": "https://fd.example/twilio/voice",
        "StatusCallback": "https://fd.example/twilio/status", "StatusCallbackMethod": "POST"}
    assert request.form_list("StatusCallbackEvent") == [
        "initiated", "ringing", "answered", "completed"]
    assert re.fullmatch(r"CA[0-9a-f]{32}", placed.carrier_call_id)
    assert placed.status == "queued" and request.call_id == placed.carrier_call_id
    await twilio.hangup(placed.carrier_call_id)  # the carrier now knows the new call
    assert not server.api.is_live(placed.carrier_call_id)


async def test_place_call_without_status_callback_sends_none(
    server: CarrierApiServer, twilio: TwilioActions
) -> None:
    await twilio.place_call(from_number="+15125550100", to_number="+15125550123",
                            webhook_url="https://fd.example/twilio/voice")
    assert server.api.requests[0].form_list("StatusCallback") == []
    assert server.api.requests[0].form_list("StatusCallbackEvent") == []


async def test_requests_match_what_twilios_library_sends(server: CarrierApiServer,
                                                         twilio: TwilioActions) -> None:
    client = Client(SID, TOKEN)  # the library's usual (blocking) client, run in a thread
    client.api.base_url = server.base_url
    theirs = await asyncio.to_thread(
        client.calls.create, to="+15125550123", from_="+15125550100",
        url="https://fd.example/v", method="POST", status_callback="https://fd.example/s",
        status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"])
    message = await asyncio.to_thread(
        client.messages.create, to="+15125550123", from_="+15125550100", body="hi")
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(client.calls("CA" + "0" * 32).update, status="completed")
    # the library reads the fake's answers like Twilio's
    assert theirs.sid is not None and theirs.sid.startswith("CA") and theirs.status == "queued"
    assert message.sid is not None and message.sid.startswith("SM")
    assert info.value.status == 404 and info.value.code == 20404
    await twilio.place_call(from_number="+15125550100", to_number="+15125550123",
                            webhook_url="https://fd.example/v",
                            status_callback_url="https://fd.example/s")
    lib_request, ours = server.api.requests[0], server.api.requests[-1]
    for name in ("To", "From", "Url", "Method", "StatusCallback", "StatusCallbackMethod",
                 "StatusCallbackEvent"):
        assert ours.form_list(name) == lib_request.form_list(name), name


async def test_unknown_call_is_a_permanent_404(twilio: TwilioActions) -> None:
    with pytest.raises(CarrierActionError) as info:
        await twilio.transfer("CA" + "0" * 32, "+15125550199")
    error = info.value
    assert (error.carrier, error.action) == ("twilio", "transfer")
    assert (error.status, error.code, error.retryable, error.maybe_applied) == (
        404, "20404", False, False)
    assert "was not found" in error.message


async def test_wrong_token_is_a_permanent_401(server: CarrierApiServer) -> None:
    wrong = TwilioActions(TwilioConfig(SID, "not-the-token", api_base=server.base_url))
    try:
        with pytest.raises(CarrierActionError) as info:
            await wrong.hangup(CALL)
    finally:
        await wrong.aclose()
    assert (info.value.status, info.value.code, info.value.retryable) == (401, "20003", False)
    assert server.api.is_live(CALL)


@pytest.mark.parametrize(("status", "code", "maybe_applied"),
                         [(500, "20500", True), (503, "20503", True), (429, "20429", False)])
async def test_carrier_trouble_is_retryable(server: CarrierApiServer, twilio: TwilioActions,
                                            status: int, code: str, maybe_applied: bool) -> None:
    server.api.fail_next(status)
    with pytest.raises(CarrierActionError) as info:
        await twilio.send_sms(from_number="+15125550100", to_number="+15125550123", text="x")
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.retryable and info.value.maybe_applied == maybe_applied
    sent = await twilio.send_sms(from_number="+15125550100", to_number="+15125550123", text="x")
    assert sent.status == "queued"  # the failure was for one request only


async def test_a_proxy_error_page_is_retryable_without_a_code() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    client = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    actions = TwilioActions(TwilioConfig(SID, TOKEN), client=client)
    with pytest.raises(CarrierActionError) as info:
        await actions.hangup(CALL)
    assert (info.value.status, info.value.code, info.value.retryable) == (502, None, True)
    await actions.aclose()
    assert not client.is_closed  # a client handed in belongs to the caller
    await client.aclose()


async def test_a_carrier_that_never_answers_times_out_retryably(
    server: CarrierApiServer,
) -> None:
    release = asyncio.Event()
    server.api.hold_next(release)
    slow = TwilioActions(TwilioConfig(SID, TOKEN, api_base=server.base_url, timeout_s=0.2))
    try:
        with pytest.raises(CarrierActionError) as info:
            await slow.hangup(CALL)
    finally:
        await slow.aclose()
    assert info.value.status is None and info.value.retryable
    assert info.value.maybe_applied  # the request arrived: it may yet take effect
    async with asyncio.timeout(5):  # it reached the carrier, which never answered it
        held = await server.api.wait_for(lambda r: r.action == "calls.update")
    assert held.form == {"Status": "completed"} and len(server.api.requests) == 1


async def test_a_closed_port_is_retryable_and_surely_not_applied() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    actions = TwilioActions(TwilioConfig(SID, TOKEN, api_base=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(CarrierActionError) as info:
            await actions.send_sms(from_number="+15125550100", to_number="+1512555", text="x")
    finally:
        await actions.aclose()
    assert info.value.status is None and info.value.retryable and not info.value.maybe_applied
