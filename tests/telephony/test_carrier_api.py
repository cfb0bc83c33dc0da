"""The fake carrier REST API itself: formats, auth, hooks the emulator relies on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer, RecordedRequest
from frontdesk.telephony.actions import CarrierActionError
from frontdesk.telephony.telnyx.rest import TelnyxActions, TelnyxConfig
from frontdesk.telephony.twilio.rest import TwilioActions, TwilioConfig

SID = "AC" + "ab" * 16
TOKEN = "secret"
KEY = "KEY_telnyx"
CALL = "CA" + "12" * 16
AUTH = httpx.BasicAuth(SID, TOKEN)
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest.fixture
async def server() -> AsyncIterator[CarrierApiServer]:
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key=KEY,
                     now=lambda: NOW)
    api.register_call(CALL, from_number="+15125550123", to_number="+15125550100")
    async with CarrierApiServer(api) as running:
        yield running


@pytest.fixture
async def http(server: CarrierApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        yield client


def is_dial(request: RecordedRequest) -> bool:
    return request.form is not None and "<Dial" in request.form.get("Twiml", "")


async def test_on_action_fires_and_wait_for_returns(server: CarrierApiServer) -> None:
    seen: list[RecordedRequest] = []
    dialled = asyncio.Event()

    async def emulator(request: RecordedRequest) -> None:  # what the carrier emulator does
        seen.append(request)
        if is_dial(request):
            dialled.set()

    server.api.on_action = emulator
    twilio = TwilioActions(TwilioConfig(SID, TOKEN, api_base=server.base_url))
    try:
        async with asyncio.timeout(5), asyncio.TaskGroup() as tg:
            waiting = tg.create_task(server.api.wait_for(is_dial))
            await twilio.send_sms(from_number="+15125550100", to_number="+1512555", text="x")
            assert not waiting.done()
            await twilio.transfer(CALL, "+15125550199")
            await dialled.wait()
        request = waiting.result()
    finally:
        await twilio.aclose()
    assert request.call_id == CALL and request.action == "calls.update"
    assert [r.action for r in seen] == ["messages.create", "calls.update"]
    # a request already received is found at once; ``start`` skips the earlier ones
    assert await server.api.wait_for(lambda r: r.action == "messages.create") is seen[0]
    later = asyncio.create_task(server.api.wait_for(
        lambda r: r.action == "messages.create", start=len(server.api.requests)))
    await asyncio.sleep(0)  # one turn of the loop: it looks at the history and waits
    assert not later.done()
    later.cancel()
    with pytest.raises(asyncio.CancelledError):
        await later


async def test_refused_requests_are_recorded_but_not_applied(
    server: CarrierApiServer, http: httpx.AsyncClient
) -> None:
    applied: list[RecordedRequest] = []

    async def emulator(request: RecordedRequest) -> None:
        applied.append(request)

    server.api.on_action = emulator
    path = f"/2010-04-01/Accounts/{SID}/Calls/{CALL}.json"
    assert (await http.post(path, data={"Status": "completed"})).status_code == 401
    server.api.fail_next(503, times=2)
    for _ in range(2):
        assert (await http.post(path, data={"Status": "completed"}, auth=AUTH)).status_code == 503
    unknown = await http.post(f"/2010-04-01/Accounts/{SID}/Calls/CA{'0' * 32}.json",
                              data={"Status": "completed"}, auth=AUTH)
    assert unknown.status_code == 404
    assert applied == [] and len(server.api.requests) == 4 and server.api.is_live(CALL)
    done = await http.post(path, data={"Status": "completed"}, auth=AUTH)
    assert done.status_code == 200 and [r.action for r in applied] == ["calls.update"]


async def test_twilio_answers_look_like_twilio(
    server: CarrierApiServer, http: httpx.AsyncClient
) -> None:
    unauthorized = await http.post(f"/2010-04-01/Accounts/{SID}/Messages.json", data={})
    assert unauthorized.headers["www-authenticate"].startswith("Basic")
    assert unauthorized.json() == {"code": 20003, "message": "Authenticate",
                                   "more_info": "https://www.twilio.com/docs/errors/20003",
                                   "status": 401}
    missing = await http.post(f"/2010-04-01/Accounts/{SID}/Messages.json",
                              data={"To": "+15125550123", "From": "+15125550100"}, auth=AUTH)
    assert (missing.status_code, missing.json()["code"]) == (400, 21602)
    bad_twiml = await http.post(f"/2010-04-01/Accounts/{SID}/Calls/{CALL}.json",
                                data={"Twiml": "<Response><Dial>+1 & 2</Dial></Response>"},
                                auth=AUTH)
    assert (bad_twiml.status_code, bad_twiml.json()["code"]) == (400, 12100)
    other_account = await http.post(f"/2010-04-01/Accounts/AC{'9' * 32}/Calls/{CALL}.json",
                                    data={"Status": "completed"}, auth=AUTH)
    assert (other_account.status_code, other_account.json()["code"]) == (404, 20404)
    redirect = await http.post(f"/2010-04-01/Accounts/{SID}/Calls/{CALL}.json",
                               data={"Twiml": "<Response><Hangup/></Response>"}, auth=AUTH)
    call = redirect.json()
    assert redirect.status_code == 200
    assert (call["sid"], call["account_sid"], call["status"]) == (CALL, SID, "in-progress")
    assert (call["from"], call["to"]) == ("+15125550123", "+15125550100")
    assert call["date_created"] == "Wed, 25 Nov 2026 16:00:00 +0000"
    assert call["uri"] == f"/2010-04-01/Accounts/{SID}/Calls/{CALL}.json"


async def test_telnyx_answers_look_like_telnyx(
    server: CarrierApiServer, http: httpx.AsyncClient
) -> None:
    bearer = {"Authorization": f"Bearer {KEY}"}
    unauthorized = await http.post("/v2/messages", json={}, headers={"Authorization": "Bearer x"})
    [error] = unauthorized.json()["errors"]
    assert (unauthorized.status_code, error["code"], error["title"]) == (
        401, "10009", "Authentication failed")
    missing = await http.post("/v2/calls", json={"to": "+15125550123", "from": "+15125550100"},
                              headers=bearer)
    [error] = missing.json()["errors"]
    assert missing.status_code == 422
    assert (error["code"], error["source"]) == ("10004", {"pointer": "/connection_id"})
    dial = await http.post("/v2/calls", headers=bearer, json={
        "connection_id": "c1", "to": "+15125550123", "from": "+15125550100",
        "webhook_url": "https://fd.example/w", "command_id": "dial-1"})
    data = dial.json()["data"]
    assert set(data) == {"call_control_id", "call_leg_id", "call_session_id", "is_alive",
                         "record_type"}
    assert (data["is_alive"], data["record_type"]) == (False, "call")
    again = await http.post("/v2/calls", headers=bearer, json={
        "connection_id": "c1", "to": "+15125550123", "from": "+15125550100",
        "webhook_url": "https://fd.example/w", "command_id": "dial-1"})
    assert again.json()["data"]["call_control_id"] == data["call_control_id"]  # dialled once
    command = await http.post(f"/v2/calls/{data['call_control_id']}/actions/speak",
                              headers=bearer, json={"payload": "hello"})
    assert command.json() == {"data": {"result": "ok"}}
    sms = await http.post("/v2/messages", headers=bearer,
                          json={"from": "+15125550100", "to": "+15125550123", "text": "hi"})
    message = sms.json()["data"]
    assert (message["record_type"], message["direction"], message["text"]) == (
        "message", "outbound", "hi")
    assert message["to"] == [{"phone_number": "+15125550123", "status": "queued",
                              "carrier": "", "line_type": ""}]
    assert (await http.post("/v2/nothing", headers=bearer, json={})).json()["errors"][0][
        "code"] == "10005"


async def test_an_emulator_hang_up_makes_later_commands_fail(
    server: CarrierApiServer,
) -> None:
    server.api.register_call("v3:live")
    server.api.end_call("v3:live")  # the caller hung up on the emulated carrier
    telnyx = TelnyxActions(TelnyxConfig(KEY, "c1", api_base=server.base_url))
    try:
        await telnyx.hangup("v3:live")  # already ended: hanging up again is no error
        with pytest.raises(CarrierActionError, match="90018"):
            await telnyx.transfer("v3:live", "+15125550199")
    finally:
        await telnyx.aclose()


async def test_a_failing_hook_is_raised_when_the_server_stops() -> None:
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key=KEY)
    api.register_call(CALL)

    async def broken(request: RecordedRequest) -> None:
        raise RuntimeError("emulator bug")

    api.on_action = broken
    with pytest.raises(RuntimeError, match="emulator bug"):
        async with CarrierApiServer(api) as server, httpx.AsyncClient() as http:
            answer = await http.post(f"{server.base_url}/2010-04-01/Accounts/{SID}/Calls/"
                                     f"{CALL}.json", data={"Status": "completed"}, auth=AUTH)
            assert answer.status_code == 200  # the carrier acted; the bug is the emulator's


async def test_a_held_request_is_recorded_at_once_and_handled_when_released() -> None:
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key=KEY)
    api.register_call(CALL)
    release = asyncio.Event()
    api.hold_next(release)
    async with CarrierApiServer(api) as server, httpx.AsyncClient() as http:
        pending = asyncio.create_task(http.post(
            f"{server.base_url}/2010-04-01/Accounts/{SID}/Calls/{CALL}.json",
            data={"Status": "completed"}, auth=AUTH))
        await api.wait_for(lambda r: r.action == "calls.update")
        assert api.is_live(CALL)  # recorded, not yet handled
        release.set()
        assert (await pending).status_code == 200
        assert not api.is_live(CALL)


async def test_leaving_the_server_answers_requests_still_held() -> None:
    async with asyncio.timeout(5), httpx.AsyncClient() as http:
        async with CarrierApiServer(twilio_account_sid=SID, twilio_auth_token=TOKEN,
                                    telnyx_api_key=KEY) as server:
            api = server.api
            api.hold_next(asyncio.Event())  # never set by the test
            pending = asyncio.create_task(http.post(
                f"{server.base_url}/v2/calls/v3:x/actions/hangup", json={},
                headers={"Authorization": f"Bearer {KEY}"}))
            await api.wait_for(lambda r: r.action == "hangup")
        answer = await pending
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "10005"
