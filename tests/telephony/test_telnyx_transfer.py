"""Telnyx transfers that report back: the command's body and leg B's webhooks (pure), and
the signed ``/telnyx/webhook`` route on a real server: a leg B that hangs up unanswered
brings the caller back on a return leg streamed from leg A, an answered one is recorded
and nothing else, and unsigned, replayed, forged, unknown and used tickets change
nothing, without a 500."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from frontdesk.call.events import TransferRequested
from frontdesk.client.harness import CarrierHarness
from frontdesk.runtime import Runtime
from frontdesk.store import BusinessStore, CallRecord
from frontdesk.telephony.telnyx.signature import sign
from frontdesk.telephony.telnyx.transfer import (
    LegEvent,
    leg_event,
    not_taken_status,
    transfer_body,
)
from frontdesk.telephony.telnyx.webhook import TelnyxEvent
from frontdesk.telephony.tickets import DialTicket, TransferTicket

NOW = datetime.fromisoformat("2026-12-01T10:00:00-06:00")
SHOP, CALLER, OWNER = "+15125550100", "+15125551234", "+15125550199"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- the command and the webhooks (pure) --------------------------------------------------


def test_the_transfer_body_puts_the_state_on_both_legs_and_only_what_was_given() -> None:
    assert transfer_body(OWNER) == {"to": OWNER}
    assert transfer_body(OWNER, caller_id=SHOP, timeout_s=20, client_state="t.k") == {
        "to": OWNER, "from": SHOP, "timeout_secs": 20, "client_state": _b64("t.k"),
        "target_leg_client_state": _b64("t.k")}


def test_leg_b_webhooks_say_taken_or_why_not() -> None:
    def event(event_type: str, **payload: Any) -> LegEvent | None:
        return leg_event(TelnyxEvent("e", event_type, {"call_control_id": "v3:b", **payload}))

    state = _b64("ticket")
    assert event("call.answered") is None  # no client state: not a transfer's leg
    assert event("call.hangup", client_state="") is None
    assert event("call.initiated", client_state=state) == LegEvent(
        "call.initiated", "v3:b", "ticket", None)
    assert event("call.bridged", client_state=state) == LegEvent(
        "call.bridged", "v3:b", "ticket", None)
    assert event("call.answered", client_state=state) == LegEvent(
        "call.answered", "v3:b", "ticket", "completed")
    assert event("call.hangup", client_state=state, hangup_cause="user_busy",
                 hangup_source="callee") == LegEvent(
        "call.hangup", "v3:b", "ticket", "busy", "user_busy", "callee")
    no_cause = event("call.hangup", client_state=state)
    assert no_cause is not None and (no_cause.status, no_cause.hangup_cause) == (
        "failed", "unspecified")
    for junk in ("not base64!", base64.b64encode(b"\xff\xfe").decode()):  # not UTF-8
        found = event("call.hangup", client_state=junk, hangup_cause="timeout")
        assert found is not None and found.state is None and found.status == "no-answer"


@pytest.mark.parametrize(("cause", "status"), [
    ("user_busy", "busy"), ("busy", "busy"), ("timeout", "no-answer"),
    ("no_answer", "no-answer"), ("originator_cancel", "canceled"),
    ("call_rejected", "failed"), ("not_found", "failed"), ("unspecified", "failed"),
    ("normal_clearing", "failed"), ("time_limit", "failed"), ("something new", "failed")])
def test_an_unanswered_leg_b_hang_up_cause_is_a_dial_status(cause: str, status: str) -> None:
    assert not_taken_status(cause) == status


# -- the route, on a real server ------------------------------------------------------------


def _shop(runtime: Runtime) -> BusinessStore:
    return runtime.store.for_business("main-street-auto")


def _signed(harness: CarrierHarness, event_type: str, payload: dict[str, Any], *,
            stamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A Call Control webhook body and the headers Telnyx would sign it with."""
    body = json.dumps({"data": {"event_type": event_type, "id": str(uuid.uuid4()),
                                "occurred_at": "2026-12-01T16:00:00.000000Z",
                                "payload": payload, "record_type": "event"}}).encode()
    stamp = int(time.time()) if stamp is None else stamp
    return body, {"telnyx-timestamp": str(stamp), "content-type": "application/json",
                  "telnyx-signature-ed25519": sign(harness.telnyx_key, body, stamp)}


async def _send(harness: CarrierHarness, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await harness.http.post(harness.base_url + "/telnyx/webhook", content=body,
                                   headers=headers)


async def _event(harness: CarrierHarness, event_type: str,
                 payload: dict[str, Any]) -> httpx.Response:
    return await _send(harness, *_signed(harness, event_type, payload))


async def _transferred(runtime: Runtime, harness: CarrierHarness,
                       control_id: str) -> tuple[CallRecord, dict[str, Any]]:
    """A call answered from Telnyx, put through to the owner the way a media session does
    it; returns the call and the transfer command Telnyx was given."""
    harness.api.register_call(control_id)
    answered = await _event(harness, "call.initiated", {
        "call_control_id": control_id, "direction": "incoming", "from": CALLER, "to": SHOP})
    assert answered.status_code == 200
    call = _shop(runtime).find_call_by_carrier_id("telnyx", control_id)
    assert call is not None
    await harness.edge.telnyx_transfer(call, control_id, TransferRequested(OWNER, 0.0, None))
    [transfer] = [r for r in harness.api.requests if r.action == "transfer"]
    assert isinstance(transfer.json, dict)
    return call, transfer.json


def _leg_b(command: dict[str, Any], control_id: str = "v3:leg-b") -> dict[str, Any]:
    """The payload of leg B's webhooks: the new leg's id and the state it was given."""
    return {"call_control_id": control_id, "connection_id": "1", "direction": "outgoing",
            "from": SHOP, "to": OWNER, "client_state": command["target_leg_client_state"]}


def _leg_a(call: CallRecord, command: dict[str, Any]) -> dict[str, Any]:
    """Leg A's own later webhooks echo the transfer's client state too."""
    return {"call_control_id": call.carrier_call_id, "direction": "incoming",
            "from": CALLER, "to": SHOP, "client_state": command["client_state"]}


def _actions(harness: CarrierHarness) -> list[tuple[str, str | None]]:
    return [(r.action, r.call_id) for r in harness.api.requests if r.carrier == "telnyx"]


async def test_the_transfer_rings_for_the_profile_timeout_with_a_ticket_naming_both_legs(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    call, command = await _transferred(runtime, harness, "v3:leg-a-1")
    timeout_s = runtime.registry.by_number(SHOP).escalation.transfer_timeout_s
    assert (command["to"], command["from"], command["timeout_secs"]) == (OWNER, SHOP, timeout_s)
    assert command["client_state"] == command["target_leg_client_state"]
    assert harness.settings.telnyx is not None
    token = base64.b64decode(command["client_state"]).decode()
    ticket = TransferTicket.parse(token, harness.settings.telnyx.api.api_key)
    assert (ticket.call_id, ticket.carrier_call_id) == (call.id, "v3:leg-a-1")
    [dial] = _shop(runtime).list_call_events(call.id, kind="carrier.dial")
    assert dial.data == {"to": OWNER, "leg": ticket.leg_id, "timeout_s": timeout_s,
                         "summary": None}


@pytest.mark.parametrize(("cause", "status"), [("user_busy", "busy"),
                                               ("timeout", "no-answer")])
async def test_leg_b_hanging_up_unanswered_streams_the_caller_back_on_a_return_leg(
    edge: tuple[Runtime, CarrierHarness], cause: str, status: str
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-2")
    leg_b = _leg_b(command)
    # leg B rings: nothing is decided yet, and it is no call of ours
    assert (await _event(harness, "call.initiated", leg_b)).status_code == 200
    assert shop.list_call_events(call.id, kind="carrier.transfer_result") == []
    hangup = await _event(harness, "call.hangup", {**leg_b, "hangup_cause": cause,
                                                   "hangup_source": "callee"})
    assert hangup.status_code == 200
    [result] = shop.list_call_events(call.id, kind="carrier.transfer_result")
    leg = shop.get_call(result.data["return_call_id"])
    assert leg is not None
    assert result.data == {"leg": leg.id, "status": status, "leg_call_control_id": "v3:leg-b",
                           "hangup_cause": cause, "hangup_source": "callee",
                           "return_call_id": leg.id}
    assert (leg.status, leg.carrier, leg.carrier_call_id) == ("ringing", "telnyx", None)
    assert (leg.from_number, leg.to_number) == (CALLER, SHOP)
    [link] = shop.list_call_events(leg.id, kind="carrier.return_leg")
    assert link.data == {"original_call_id": call.id, "dial_status": status,
                         "carrier_call_id": "v3:leg-a-2"}
    # leg A, still up, streams again: bidirectional PCMU to the return leg's one-time URL
    assert _actions(harness) == [("answer", "v3:leg-a-2"), ("transfer", "v3:leg-a-2"),
                                 ("streaming_start", "v3:leg-a-2")]
    start = harness.api.requests[-1].json
    assert isinstance(start, dict)
    answer = harness.api.requests[0].json
    assert isinstance(answer, dict)
    assert "/telnyx/media/" in start["stream_url"] and start["stream_url"] != answer[
        "stream_url"]
    assert {k: v for k, v in start.items() if k not in ("stream_url", "command_id")} == {
        "stream_track": "inbound_track", "stream_bidirectional_mode": "rtp",
        "stream_codec": "PCMU", "stream_bidirectional_codec": "PCMU"}
    # the caller hangs up before the stream comes: leg A's hang-up (echoing the transfer's
    # state) is the call's own, and closes the leg too
    done = await _event(harness, "call.hangup", {**_leg_a(call, command),
                                                 "hangup_cause": "normal_clearing"})
    assert done.status_code == 200
    first = shop.get_call(call.id)
    assert first is not None and first.carrier_status == "completed"
    closed = shop.get_call(leg.id)
    assert closed is not None and (closed.status, closed.end_reason) == (
        "missed", "carrier_completed")


async def test_an_answered_leg_b_is_recorded_as_taken_and_nothing_else(
    edge: tuple[Runtime, CarrierHarness], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-3")
    leg_b = _leg_b(command)
    caplog.set_level(logging.INFO)
    for event_type in ("call.initiated", "call.answered", "call.bridged"):
        assert (await _event(harness, event_type, leg_b)).status_code == 200
    [result] = shop.list_call_events(call.id, kind="carrier.transfer_result")
    assert result.data == {"leg": result.data["leg"], "status": "completed",
                           "leg_call_control_id": "v3:leg-b"}
    # an answered outgoing leg is not taken for a callback of ours: no row, no stream
    assert [c.id for c in shop.list_calls()] == [call.id]
    assert _actions(harness) == [("answer", "v3:leg-a-3"), ("transfer", "v3:leg-a-3")]
    # the conversation ends: leg B's hang-up finds the ticket used, leg A's is the call's
    bye = await _event(harness, "call.hangup", {**leg_b, "hangup_cause": "normal_clearing"})
    assert bye.status_code == 200
    assert "ignored telnyx transfer webhook call.hangup: used_ticket" in caplog.text
    done = await _event(harness, "call.hangup", {**_leg_a(call, command),
                                                 "hangup_cause": "normal_clearing"})
    assert done.status_code == 200
    assert len(shop.list_call_events(call.id, kind="carrier.transfer_result")) == 1
    first = shop.get_call(call.id)
    assert first is not None and first.carrier_status == "completed"
    assert [c.id for c in shop.list_calls()] == [call.id]
    assert _actions(harness) == [("answer", "v3:leg-a-3"), ("transfer", "v3:leg-a-3")]


async def test_unsigned_tampered_stale_or_replayed_leg_b_webhooks_get_403_and_change_nothing(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-4")
    busy = {**_leg_b(command), "hangup_cause": "user_busy"}
    body, headers = _signed(harness, "call.hangup", busy)
    unsigned = {k: v for k, v in headers.items() if k != "telnyx-signature-ed25519"}
    assert (await _send(harness, body, unsigned)).status_code == 403
    assert (await _send(harness, body.replace(b"user_busy", b"timeout!!"),
                        headers)).status_code == 403
    stale = _signed(harness, "call.hangup", busy, stamp=int(time.time()) - 301)
    assert (await _send(harness, *stale)).status_code == 403
    assert shop.list_call_events(call.id, kind="carrier.transfer_result") == []
    assert [c.id for c in shop.list_calls()] == [call.id]
    assert [a for a, _ in _actions(harness)] == ["answer", "transfer"]
    # the genuine delivery is taken once; the same signed request again is a replay
    assert (await _send(harness, body, headers)).status_code == 200
    assert (await _send(harness, body, headers)).status_code == 403
    assert len(shop.list_call_events(call.id, kind="carrier.transfer_result")) == 1
    assert len(shop.list_calls()) == 2
    assert [a for a, _ in _actions(harness)] == ["answer", "transfer", "streaming_start"]


async def test_forged_unknown_and_used_tickets_are_ignored_logged_and_change_nothing(
    edge: tuple[Runtime, CarrierHarness], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-5")
    assert harness.settings.telnyx is not None and harness.settings.twilio is not None
    secret = harness.settings.telnyx.api.api_key
    token = base64.b64decode(command["client_state"]).decode()
    ticket = TransferTicket.parse(token, secret)
    caplog.set_level(logging.INFO)
    forged = {
        "unknown_ticket": [
            "not base64!", _b64("hello"), _b64(token[:-2] + "xx"),
            _b64(TransferTicket(ticket.business_id, ticket.call_id, ticket.leg_id,
                                "v3:leg-a-5").mint("another account's key")),
            _b64(TransferTicket("no-such-shop", ticket.call_id, ticket.leg_id,
                                "v3:leg-a-5").mint(secret)),
            _b64(DialTicket(ticket.business_id, ticket.call_id, ticket.leg_id).mint(secret))],
        "no_transfer": [_b64(TransferTicket(ticket.business_id, ticket.call_id, "no-such-leg",
                                            "v3:leg-a-5").mint(secret))],
    }
    for reason, states in forged.items():
        for state in states:
            for event_type in ("call.answered", "call.hangup"):
                response = await _event(harness, event_type, {
                    **_leg_b(command), "client_state": state, "hangup_cause": "user_busy"})
                assert response.status_code == 200
            assert f"ignored telnyx transfer webhook call.hangup: {reason}" in caplog.text
    assert shop.list_call_events(call.id, kind="carrier.transfer_result") == []
    assert [c.id for c in shop.list_calls()] == [call.id]
    assert [a for a, _ in _actions(harness)] == ["answer", "transfer"]
    # the real outcome is taken once; a second hang-up (a redelivery) or an answer after
    # it finds the ticket used
    busy = {**_leg_b(command), "hangup_cause": "user_busy"}
    assert (await _event(harness, "call.hangup", busy)).status_code == 200
    assert (await _event(harness, "call.hangup", busy)).status_code == 200
    assert (await _event(harness, "call.answered", _leg_b(command))).status_code == 200
    assert "used_ticket" in caplog.text
    [result] = shop.list_call_events(call.id, kind="carrier.transfer_result")
    assert result.data["status"] == "busy"
    assert len(shop.list_calls()) == 2
    assert [a for a, _ in _actions(harness)] == ["answer", "transfer", "streaming_start"]
    assert CALLER not in caplog.text and OWNER not in caplog.text


async def test_no_return_leg_for_a_caller_who_already_hung_up(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-6")
    gone = await _event(harness, "call.hangup", {**_leg_a(call, command),
                                                 "hangup_cause": "normal_clearing"})
    assert gone.status_code == 200
    busy = await _event(harness, "call.hangup", {**_leg_b(command),
                                                 "hangup_cause": "user_busy"})
    assert busy.status_code == 200
    [result] = shop.list_call_events(call.id, kind="carrier.transfer_result")
    assert result.data["status"] == "busy" and "return_call_id" not in result.data
    assert [c.id for c in shop.list_calls()] == [call.id]
    assert [a for a, _ in _actions(harness)] == ["answer", "transfer"]


async def test_a_leg_b_cancelled_by_the_caller_brings_nobody_back(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-7")
    cancel = await _event(harness, "call.hangup", {
        **_leg_b(command), "hangup_cause": "originator_cancel", "hangup_source": "caller"})
    assert cancel.status_code == 200
    [result] = shop.list_call_events(call.id, kind="carrier.transfer_result")
    assert result.data["status"] == "canceled" and "return_call_id" not in result.data
    assert [c.id for c in shop.list_calls()] == [call.id]


async def test_when_leg_a_cannot_stream_again_the_leg_fails_and_the_line_is_hung_up(
    edge: tuple[Runtime, CarrierHarness],
) -> None:
    runtime, harness = edge
    shop = _shop(runtime)
    call, command = await _transferred(runtime, harness, "v3:leg-a-8")
    harness.api.end_call("v3:leg-a-8")  # gone, and its hang-up webhook is not here yet
    busy = await _event(harness, "call.hangup", {**_leg_b(command),
                                                 "hangup_cause": "user_busy"})
    assert busy.status_code == 200
    [result] = shop.list_call_events(call.id, kind="carrier.transfer_result")
    leg = shop.get_call(result.data["return_call_id"])
    assert leg is not None and (leg.status, leg.end_reason) == ("failed", "stream_failed")
    [failed] = shop.list_call_events(leg.id, kind="carrier.stream_failed")
    assert failed.data == {"status": 422, "retryable": False, "maybe_applied": False}
    assert [a for a, _ in _actions(harness)] == ["answer", "transfer", "streaming_start",
                                                 "hangup"]
