"""TelnyxActions against the local fake Telnyx v2 REST API."""

from __future__ import annotations

import asyncio
import base64
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer, RecordedRequest
from frontdesk.telephony.actions import CarrierActionError
from frontdesk.telephony.telnyx.rest import TelnyxActions, TelnyxConfig

KEY = "KEY0123_telnyx"
CONNECTION = "1494404757140276705"
CALL = "v3:lGc2tYdUqfxUiBbgWbQGbX1u6plRmGeGWMYbYaAGbAbo"


@pytest.fixture
async def server() -> AsyncIterator[CarrierApiServer]:
    api = CarrierApi(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="t",
                     telnyx_api_key=KEY)
    api.register_call(CALL)
    async with CarrierApiServer(api) as running:
        yield running


@pytest.fixture
async def telnyx(server: CarrierApiServer) -> AsyncIterator[TelnyxActions]:
    actions = TelnyxActions(TelnyxConfig(KEY, CONNECTION, api_base=server.base_url))
    yield actions
    await actions.aclose()


def body_of(request: RecordedRequest) -> dict[str, object]:
    assert isinstance(request.json, dict)
    return request.json


def assert_uuid(value: object) -> None:
    assert isinstance(value, str) and str(uuid.UUID(value)) == value


async def test_answer_starts_a_bidirectional_pcmu_stream(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    await telnyx.answer(CALL, stream_url="wss://fd.example/telnyx/media", client_state="acme:7")
    [request] = server.api.requests
    assert (request.method, request.path) == ("POST", f"/v2/calls/{CALL}/actions/answer")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    body = body_of(request)
    assert_uuid(body.pop("command_id"))
    client_state = body.pop("client_state")
    assert isinstance(client_state, str) and base64.b64decode(client_state) == b"acme:7"
    assert body == {"stream_url": "wss://fd.example/telnyx/media",
                    "stream_track": "inbound_track", "stream_bidirectional_mode": "rtp",
                    "stream_codec": "PCMU", "stream_bidirectional_codec": "PCMU"}


async def test_transfer_sends_the_target_and_optional_caller_id(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    await telnyx.transfer(CALL, "+15125550199", caller_id="+15125550100")
    await telnyx.transfer(CALL, "sip:desk@pbx.example.com")
    with_id, without = (body_of(r) for r in server.api.requests)
    assert server.api.requests[0].action == "transfer"
    assert (with_id["to"], with_id["from"]) == ("+15125550199", "+15125550100")
    assert without["to"] == "sip:desk@pbx.example.com" and "from" not in without
    assert with_id["command_id"] != without["command_id"]


async def test_a_transfer_that_reports_back_rings_for_a_timeout_with_client_state(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    await telnyx.transfer(CALL, "+15125550199", caller_id="+15125550100", timeout_s=20,
                          client_state="shop.call.leg.mac")
    [request] = server.api.requests
    body = body_of(request)
    assert_uuid(body.pop("command_id"))
    state = base64.b64encode(b"shop.call.leg.mac").decode()
    # the state goes on the new leg (target_leg_client_state) and on this one (client_state)
    assert body == {"to": "+15125550199", "from": "+15125550100", "timeout_secs": 20,
                    "client_state": state, "target_leg_client_state": state}


async def test_the_fake_refuses_what_telnyx_refuses_in_a_transfer_or_a_stream_start(
    server: CarrierApiServer,
) -> None:
    async def command(verb: str, body: dict[str, object]) -> tuple[int, object]:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{server.base_url}/v2/calls/{CALL}/actions/{verb}", json=body,
                headers={"Authorization": f"Bearer {KEY}"})
        errors = response.json().get("errors") or [{}]
        return response.status_code, errors[0].get("source", {}).get("pointer")

    ok = base64.b64encode(b"x").decode()
    assert await command("transfer", {"to": "+1", "timeout_secs": 4}) == (422, "/timeout_secs")
    assert await command("transfer", {"to": "+1", "timeout_secs": 601}) == (422, "/timeout_secs")
    assert await command("transfer", {"to": "+1", "timeout_secs": "20"}) == (
        422, "/timeout_secs")
    assert await command("transfer", {"to": "+1", "client_state": "not base64!"}) == (
        422, "/client_state")
    assert await command("transfer", {"to": "+1", "target_leg_client_state": ok + "*"}) == (
        422, "/target_leg_client_state")
    assert await command("streaming_start", {"stream_track": "inbound_track"}) == (
        422, "/stream_url")
    assert await command("transfer", {"to": "+1", "timeout_secs": 5, "client_state": ok,
                                      "target_leg_client_state": ok}) == (200, None)
    assert await command("streaming_start", {"stream_url": "wss://x/m"}) == (200, None)


async def test_a_repeated_command_id_acts_once(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    applied: list[str] = []

    async def on_action(request: RecordedRequest) -> None:
        applied.append(request.action)

    server.api.on_action = on_action
    await telnyx.transfer(CALL, "+15125550199", command_id="commitment-42-transfer")
    await telnyx.transfer(CALL, "+15125550199", command_id="commitment-42-transfer")
    assert len(server.api.requests) == 2 and applied == ["transfer"]
    await telnyx.transfer(CALL, "+15125550199", command_id="commitment-43-transfer")
    assert applied == ["transfer", "transfer"]


async def test_hangup_ends_the_call_and_a_second_hangup_is_no_error(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    await telnyx.hangup(CALL)
    assert server.api.requests[0].path == f"/v2/calls/{CALL}/actions/hangup"
    assert set(body_of(server.api.requests[0])) == {"command_id"}
    assert not server.api.is_live(CALL)
    await telnyx.hangup(CALL)  # Telnyx answers 422/90018: the call is already over
    with pytest.raises(CarrierActionError) as info:
        await telnyx.transfer(CALL, "+15125550199")
    assert (info.value.status, info.value.code, info.value.retryable) == (422, "90018", False)


async def test_send_sms_returns_the_message_id(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    sent = await telnyx.send_sms(from_number="+15125550100", to_number="+15125550123",
                                 text="Your booking is confirmed.")
    [request] = server.api.requests
    assert request.path == "/v2/messages"
    assert body_of(request) == {"from": "+15125550100", "to": "+15125550123",
                                "text": "Your booking is confirmed."}
    assert_uuid(sent.carrier_message_id)
    assert sent.status == "queued"


async def test_place_call_dials_on_the_connection(
    server: CarrierApiServer, telnyx: TelnyxActions
) -> None:
    placed = await telnyx.place_call(from_number="+15125550100", to_number="+15125550123",
                                     webhook_url="https://fd.example/telnyx/webhook",
                                     status_callback_url="https://fd.example/ignored")
    [request] = server.api.requests
    body = body_of(request)
    assert request.path == "/v2/calls" and request.action == "dial"
    assert_uuid(body.pop("command_id"))
    assert body == {"connection_id": CONNECTION, "to": "+15125550123",
                    "from": "+15125550100", "webhook_url": "https://fd.example/telnyx/webhook"}
    assert placed.carrier_call_id.startswith("v3:") and placed.status == "queued"
    assert placed.carrier_call_id == request.call_id
    await telnyx.hangup(placed.carrier_call_id)  # ':' in the id survives the path
    assert not server.api.is_live(placed.carrier_call_id)


async def test_unknown_call_is_a_permanent_404(telnyx: TelnyxActions) -> None:
    with pytest.raises(CarrierActionError) as info:
        await telnyx.answer("v3:nope", stream_url="wss://fd.example/m")
    error = info.value
    assert (error.carrier, error.action) == ("telnyx", "answer")
    assert (error.status, error.code, error.retryable, error.maybe_applied) == (
        404, "10005", False, False)


async def test_wrong_key_is_a_permanent_401(server: CarrierApiServer) -> None:
    wrong = TelnyxActions(TelnyxConfig("KEY_wrong", CONNECTION, api_base=server.base_url))
    try:
        with pytest.raises(CarrierActionError) as info:
            await wrong.hangup(CALL)
    finally:
        await wrong.aclose()
    assert (info.value.status, info.value.code, info.value.retryable) == (401, "10009", False)
    assert server.api.is_live(CALL)


@pytest.mark.parametrize(("status", "code"), [(500, "10007"), (503, "10007"), (429, "10011")])
async def test_carrier_trouble_is_retryable(server: CarrierApiServer, telnyx: TelnyxActions,
                                            status: int, code: str) -> None:
    server.api.fail_next(status)
    with pytest.raises(CarrierActionError) as info:
        await telnyx.transfer(CALL, "+15125550199")
    assert (info.value.status, info.value.code, info.value.retryable) == (status, code, True)
    assert info.value.maybe_applied == (status >= 500)
    await telnyx.transfer(CALL, "+15125550199")


async def test_a_carrier_that_never_answers_times_out_retryably(
    server: CarrierApiServer,
) -> None:
    release = asyncio.Event()
    server.api.hold_next(release)
    slow = TelnyxActions(TelnyxConfig(KEY, CONNECTION, api_base=server.base_url,
                                      timeout_s=0.2))
    try:
        with pytest.raises(CarrierActionError) as info:
            await slow.transfer(CALL, "+15125550199")
    finally:
        await slow.aclose()
    assert info.value.status is None and info.value.retryable and info.value.maybe_applied
    async with asyncio.timeout(5):  # it reached the carrier, which never answered it
        held = await server.api.wait_for(lambda r: r.action == "transfer")
    assert body_of(held)["to"] == "+15125550199" and len(server.api.requests) == 1


async def test_a_closed_port_is_retryable_and_surely_not_applied() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    actions = TelnyxActions(TelnyxConfig(KEY, CONNECTION, api_base=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(CarrierActionError) as info:
            await actions.hangup(CALL)
    finally:
        await actions.aclose()
    assert info.value.status is None and info.value.retryable and not info.value.maybe_applied
