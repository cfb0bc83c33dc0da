"""Stream tickets, TwiML documents and Telnyx webhook bodies (pure functions)."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from frontdesk.telephony.telnyx.webhook import TelnyxWebhookError, hangup_status, parse_event
from frontdesk.telephony.tickets import DialTicket, StreamTicket, TicketError, TransferTicket
from frontdesk.telephony.twilio import twiml


def test_a_ticket_round_trips_and_any_change_is_refused() -> None:
    ticket = StreamTicket("main-street-auto", "0b7e5a9e-3c1e-4c7b-9d2f-1a2b3c4d5e6f")
    token = ticket.mint("secret")
    assert StreamTicket.parse(token, "secret") == ticket
    with pytest.raises(TicketError, match="does not match"):
        StreamTicket.parse(token, "other secret")
    business, call, mac = token.split(".")
    with pytest.raises(TicketError, match="does not match"):
        StreamTicket.parse(f"other-shop.{call}.{mac}", "secret")
    for bad in ("", "a.b", "a.b.c.d", f"{business}.{call}.{mac}/x", "../etc.x.y"):
        with pytest.raises(TicketError):
            StreamTicket.parse(bad, "secret")


def test_a_transfer_ticket_carries_any_carrier_id_and_passes_for_no_other_ticket() -> None:
    control_id = "v3:lGc2tYdUqfxUiBbgWbQGbX1u6plRmGeGWMYbYaAGbAbo.x/ü"
    ticket = TransferTicket("main-street-auto", "call-1", "leg-2", control_id)
    token = ticket.mint("secret")
    assert TransferTicket.parse(token, "secret") == ticket
    assert ticket.dial == DialTicket("main-street-auto", "call-1", "leg-2")
    with pytest.raises(TicketError, match="does not match"):
        TransferTicket.parse(token, "other secret")
    business, call, leg, encoded, mac = token.split(".")
    other = TransferTicket(business, call, leg, "v3:another-call").mint("secret").split(".")[3]
    with pytest.raises(TicketError, match="does not match"):  # another call to stream back
        TransferTicket.parse(f"{business}.{call}.{leg}.{other}.{mac}", "secret")
    # same fields, other label: a dial ticket's MAC is no transfer ticket's, and back
    dial = DialTicket(business, call, leg).mint("secret")
    with pytest.raises(TicketError):
        TransferTicket.parse(dial, "secret")
    with pytest.raises(TicketError):
        DialTicket.parse(f"{business}.{call}.{leg}.{mac}", "secret")
    for bad in ("", "a.b.c.d", "a.b.c.d.e.f", f"{token}/x", f"{business}.{call}.{leg}.A.{mac}",
                f"{business}.{call}.{leg}.{'A' * 257}.{mac}"):
        with pytest.raises(TicketError):
            TransferTicket.parse(bad, "secret")


def test_connect_stream_passes_context_as_parameters_not_a_query() -> None:
    document = twiml.connect_stream("wss://desk.example/twilio/media/T", {"call_id": "c&1"},
                                    fallback_number="+15125550199", fallback_caller_id="+1512")
    root = ET.fromstring(document)
    stream = root.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://desk.example/twilio/media/T"
    assert [(p.get("name"), p.get("value")) for p in stream] == [("call_id", "c&1")]
    dial = root.find("Dial")
    assert dial is not None and dial.text == "+15125550199" and dial.get("callerId") == "+1512"


def test_without_a_transfer_number_a_failed_stream_apologises_and_hangs_up() -> None:
    root = ET.fromstring(twiml.connect_stream("wss://x/y", {}, fallback_number=None))
    assert [child.tag for child in root] == ["Connect", "Say", "Hangup"]
    assert [c.tag for c in ET.fromstring(twiml.not_in_service())] == ["Say", "Hangup"]
    dial = ET.fromstring(twiml.dial("+1 <555> & co")).find("Dial")
    assert dial is not None and dial.text == "+1 <555> & co"


def test_telnyx_events_parse_and_hangup_causes_map_to_statuses() -> None:
    body = json.dumps({"data": {"event_type": "call.hangup", "id": "e",
                                "payload": {"call_control_id": "v3:x",
                                            "hangup_cause": "user_busy",
                                            "start_time": "2026-11-25T16:00:00Z",
                                            "end_time": "2026-11-25T16:01:05.4Z"}}}).encode()
    event = parse_event(body)
    assert (event.event_type, event.call_control_id) == ("call.hangup", "v3:x")
    assert hangup_status(event.payload) == ("busy", 65)
    assert hangup_status({"hangup_cause": "normal_clearing"}) == ("completed", None)
    assert hangup_status({"hangup_cause": "something new"}) == ("failed", None)
    for bad in (b"", b"[]", b'{"data": 1}', b'{"data": {"event_type": "x"}}', b"\xff"):
        with pytest.raises(TelnyxWebhookError):
            parse_event(bad)
