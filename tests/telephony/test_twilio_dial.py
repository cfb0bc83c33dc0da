"""Transfers that report back: the ``<Dial action>`` TwiML (against Twilio's own builder),
dial tickets, and the signed ``/twilio/dial`` and ``/twilio/whisper`` routes refusing
unsigned, forged, unknown and reused requests without a 500."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import datetime
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from frontdesk.call.events import TransferRequested
from frontdesk.client.harness import CarrierHarness
from frontdesk.runtime import Runtime
from frontdesk.store import BusinessStore, CallRecord
from frontdesk.telephony.tickets import DialTicket, StreamTicket, TicketError
from frontdesk.telephony.twilio import twiml
from frontdesk.telephony.twilio.signature import compute_signature

NOW = datetime.fromisoformat("2026-12-01T10:00:00-06:00")
SHOP, CALLER, OWNER = "+15125550100", "+15125551234", "+15125550199"
CALLBACKS = twiml.DialCallbacks(action_url="https://desk.example/twilio/dial/T", timeout_s=20,
                                whisper_url="https://desk.example/twilio/whisper/T")


def _tree(element: ET.Element) -> tuple[str, dict[str, str], str, list[object]]:
    return (element.tag, dict(element.attrib), (element.text or "").strip(),
            [_tree(child) for child in element])


# -- TwiML and tickets (pure) ---------------------------------------------------------------


def test_a_warm_transfer_dials_with_an_action_a_timeout_and_a_whisper() -> None:
    document = twiml.dial(OWNER, caller_id=SHOP, callbacks=CALLBACKS)
    oracle = VoiceResponse()
    dial = oracle.dial(action=CALLBACKS.action_url, method="POST", timeout=20, caller_id=SHOP)
    dial.number(OWNER, url=CALLBACKS.whisper_url, method="POST")
    assert _tree(ET.fromstring(document)) == _tree(ET.fromstring(str(oracle)))


def test_a_cold_transfer_has_no_whisper_and_a_sip_target_keeps_its_noun() -> None:
    cold = twiml.DialCallbacks(action_url="https://d/a?x=1&y=<2>", timeout_s=5)
    root = ET.fromstring(twiml.dial(OWNER, callbacks=cold))
    [dial] = root
    assert dial.get("action") == "https://d/a?x=1&y=<2>" and dial.get("timeout") == "5"
    [number] = dial
    assert (number.tag, number.text, number.get("url")) == ("Number", OWNER, None)
    sip = ET.fromstring(twiml.dial("sip:desk@pbx.example", callbacks=CALLBACKS)).find("Dial/Sip")
    assert sip is not None and sip.text == "sip:desk@pbx.example"
    assert sip.get("url") == CALLBACKS.whisper_url
    # without callbacks the document is what it always was: the number as the Dial's text
    plain = ET.fromstring(twiml.dial(OWNER)).find("Dial")
    assert plain is not None and plain.text == OWNER and len(plain) == 0


def test_whisper_and_hangup_documents() -> None:
    said = ET.fromstring(twiml.say('Refund call from +1512 & "co" <x>'))
    assert [(c.tag, c.text) for c in said] == [("Say", 'Refund call from +1512 & "co" <x>')]
    assert [c.tag for c in ET.fromstring(twiml.hangup())] == ["Hangup"]


def test_a_dial_ticket_round_trips_and_never_passes_for_a_stream_ticket() -> None:
    ticket = DialTicket("main-street-auto", "call-1", "0b7e5a9e-3c1e-4c7b-9d2f-1a2b3c4d5e6f")
    token = ticket.mint("secret")
    assert DialTicket.parse(token, "secret") == ticket
    with pytest.raises(TicketError, match="does not match"):
        DialTicket.parse(token, "other secret")
    business, call, leg, mac = token.split(".")
    with pytest.raises(TicketError, match="does not match"):
        DialTicket.parse(f"{business}.{call}.other-leg.{mac}", "secret")
    # same fields, other label: a stream ticket's MAC is no dial ticket's, and back
    stream = StreamTicket(business, call).mint("secret")
    with pytest.raises(TicketError):
        DialTicket.parse(f"{stream.rsplit('.', 1)[0]}.{leg}.{stream.rsplit('.', 1)[1]}",
                         "secret")
    with pytest.raises(TicketError):
        StreamTicket.parse(f"{business}.{call}.{mac}", "secret")
    for bad in ("", "a.b.c", "a.b.c.d.e", f"{token}/x", "../etc.x.y.z"):
        with pytest.raises(TicketError):
            DialTicket.parse(bad, "secret")


# -- the routes, on a real server -----------------------------------------------------------


def _shop(runtime: Runtime) -> BusinessStore:
    return runtime.store.for_business("main-street-auto")


async def _post(harness: CarrierHarness, public_url: str, params: dict[str, str], *,
                signed: bool = True) -> httpx.Response:
    assert harness.settings.twilio is not None
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Twilio-Signature"] = compute_signature(
            harness.settings.twilio.auth_token, public_url, sorted(params.items()))
    path = urlsplit(public_url).path
    return await harness.http.post(harness.base_url + path, content=urlencode(params),
                                   headers=headers)


async def _transferred(runtime: Runtime, harness: CarrierHarness, call_sid: str,
                       summary: str | None) -> tuple[CallRecord, ET.Element]:
    """A ringing call, put through to the owner the way a media session does it; returns
    the call and the ``<Dial>`` Twilio was given."""
    assert harness.settings.twilio is not None
    voice = {"AccountSid": harness.settings.twilio.account_sid, "CallSid": call_sid,
             "CallStatus": "ringing", "Direction": "inbound", "From": CALLER, "To": SHOP}
    public = harness.settings.public_url
    assert (await _post(harness, public + "/twilio/voice", voice)).status_code == 200
    call = _shop(runtime).find_call_by_carrier_id("twilio", call_sid)
    assert call is not None
    harness.api.register_call(call_sid)
    await harness.edge.twilio_transfer(call, call_sid, TransferRequested(OWNER, 0.0, summary))
    [update] = [r for r in harness.api.requests if r.form and "Twiml" in r.form]
    assert update.form is not None
    dial = ET.fromstring(update.form["Twiml"]).find("Dial")
    assert dial is not None
    return call, dial


def _outcome(call_sid: str, status: str) -> dict[str, str]:
    return {"AccountSid": "AC1", "CallSid": call_sid, "CallStatus": "in-progress",
            "DialCallSid": "CA" + "9" * 32, "DialCallStatus": status}


async def test_dial_and_whisper_refuse_unsigned_forged_unknown_and_reused_tickets(
    edge: tuple[Runtime, CarrierHarness], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "1" * 32
    call, dial = await _transferred(runtime, harness, call_sid, "Refund call: brakes.")
    action, whisper = dial.get("action"), dial.find("Number")
    assert action is not None and whisper is not None and dial.get("timeout") == "20"
    whisper_url = whisper.get("url")
    assert whisper_url is not None and dial.get("callerId") == SHOP
    caplog.set_level(logging.INFO)
    busy = _outcome(call_sid, "busy")
    # unsigned, or signed for another URL: 403 and nothing changes
    assert (await _post(harness, action, busy, signed=False)).status_code == 403
    assert (await _post(harness, whisper_url, {}, signed=False)).status_code == 403
    # forged, malformed or for no transfer: 404
    public = harness.settings.public_url
    assert harness.settings.twilio is not None
    secret = harness.settings.twilio.auth_token
    business, call_id, leg, mac = action.rsplit("/", 1)[1].split(".")
    for bad in (f"{business}.{call_id}.{leg}.{mac[:-2]}xx", "nonsense",
                DialTicket(business, call_id, "no-such-leg").mint(secret)):
        assert (await _post(harness, f"{public}/twilio/dial/{bad}", busy)).status_code == 404
        assert (await _post(harness, f"{public}/twilio/whisper/{bad}", {})).status_code == 404
    # a stream ticket is no dial ticket
    stream = StreamTicket(business, call_id).mint(secret)
    assert (await _post(harness, f"{public}/twilio/dial/{stream}", busy)).status_code == 404
    # a status Twilio never sends, or the outcome of another call: refused
    assert (await _post(harness, action, _outcome(call_sid, "maybe"))).status_code == 400
    assert (await _post(harness, action, _outcome("CA" + "2" * 32, "busy"))).status_code == 403
    assert _shop(runtime).list_call_events(call.id, kind="carrier.transfer_result") == []
    assert [c.id for c in _shop(runtime).list_calls()] == [call.id]
    # the whisper works while the person is being rung
    said = await _post(harness, whisper_url, {"CallSid": "CA" + "9" * 32})
    assert said.status_code == 200
    assert [(c.tag, c.text) for c in ET.fromstring(said.text)] == [
        ("Say", "Refund call: brakes.")]
    # the real outcome is taken once; a replay gets 410, and so does the whisper
    first = await _post(harness, action, busy)
    assert first.status_code == 200
    assert ET.fromstring(first.text).find("Connect/Stream") is not None
    assert (await _post(harness, action, busy)).status_code == 410
    assert (await _post(harness, action, _outcome(call_sid, "completed"))).status_code == 410
    assert (await _post(harness, whisper_url, {})).status_code == 410
    assert len(_shop(runtime).list_call_events(call.id, kind="carrier.transfer_result")) == 1
    assert len(_shop(runtime).list_calls()) == 2
    assert "refused twilio dial outcome" in caplog.text and CALLER not in caplog.text
    assert "Refund call" not in caplog.text


async def test_a_busy_target_opens_a_return_leg_streamed_to_us(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "3" * 32
    call, dial = await _transferred(runtime, harness, call_sid, None)
    number = dial.find("Number")
    assert number is not None and number.get("url") is None  # a cold transfer: no whisper
    action = dial.get("action")
    assert action is not None
    answer = await _post(harness, action, _outcome(call_sid, "no-answer"))
    assert answer.status_code == 200
    root = ET.fromstring(answer.text)
    stream = root.find("Connect/Stream")
    assert stream is not None
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["return_leg_of"] == call.id
    # if our stream fails, the caller hears an apology, not the person who just didn't answer
    assert [c.tag for c in root] == ["Connect", "Say", "Hangup"]
    leg = _shop(runtime).get_call(params["call_id"] or "")
    assert leg is not None
    assert (leg.status, leg.carrier, leg.carrier_call_id) == ("ringing", "twilio", None)
    assert (leg.from_number, leg.to_number) == (CALLER, SHOP)
    [link] = _shop(runtime).list_call_events(leg.id, kind="carrier.return_leg")
    assert link.data == {"original_call_id": call.id, "dial_status": "no-answer",
                         "carrier_call_id": call_sid}
    [result] = _shop(runtime).list_call_events(call.id, kind="carrier.transfer_result")
    assert (result.data["status"], result.data["return_call_id"]) == ("no-answer", leg.id)
    # the caller hangs up before the stream comes: the status callback closes the leg too
    assert harness.settings.twilio is not None
    status = {"AccountSid": harness.settings.twilio.account_sid, "CallSid": call_sid,
              "CallStatus": "completed", "From": CALLER, "To": SHOP, "CallDuration": "30"}
    done = await _post(harness, harness.settings.public_url + "/twilio/status", status)
    assert done.status_code == 204
    closed = _shop(runtime).get_call(leg.id)
    assert closed is not None and (closed.status, closed.end_reason) == (
        "missed", "carrier_completed")


async def test_a_taken_transfer_is_recorded_and_hung_up_after(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "4" * 32
    call, dial = await _transferred(runtime, harness, call_sid, None)
    action = dial.get("action")
    assert action is not None
    # a cold transfer has no whisper to fetch
    token = action.rsplit("/", 1)[1]
    whisper = f"{harness.settings.public_url}/twilio/whisper/{token}"
    assert (await _post(harness, whisper, {})).status_code == 404
    answer = await _post(harness, action, {**_outcome(call_sid, "completed"),
                                           "DialCallDuration": "42"})
    assert answer.status_code == 200
    assert [c.tag for c in ET.fromstring(answer.text)] == ["Hangup"]
    [result] = _shop(runtime).list_call_events(call.id, kind="carrier.transfer_result")
    assert result.data["status"] == "completed" and result.data["DialCallDuration"] == "42"
    assert "return_call_id" not in result.data
    assert [c.id for c in _shop(runtime).list_calls()] == [call.id]


async def test_no_return_leg_for_a_caller_who_already_hung_up(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call_sid = "CA" + "5" * 32
    call, dial = await _transferred(runtime, harness, call_sid, None)
    action = dial.get("action")
    assert action is not None and harness.settings.twilio is not None
    status = {"AccountSid": harness.settings.twilio.account_sid, "CallSid": call_sid,
              "CallStatus": "completed", "From": CALLER, "To": SHOP, "CallDuration": "12"}
    done = await _post(harness, harness.settings.public_url + "/twilio/status", status)
    assert done.status_code == 204
    answer = await _post(harness, action, _outcome(call_sid, "canceled"))
    assert answer.status_code == 200
    assert [c.tag for c in ET.fromstring(answer.text)] == ["Hangup"]
    [result] = _shop(runtime).list_call_events(call.id, kind="carrier.transfer_result")
    assert result.data["status"] == "canceled" and "return_call_id" not in result.data
    assert [c.id for c in _shop(runtime).list_calls()] == [call.id]
