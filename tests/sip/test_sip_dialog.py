"""The UAS dialog core and the endpoint routing datagrams to it: sans-IO, virtual time."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from frontdesk.telephony.sip.dialog import (
    TRANSITIONS,
    DialogInput,
    DialogState,
    IllegalTransition,
    transition,
)
from frontdesk.telephony.sip.endpoint import BadMessage, DialogEvent, IncomingCall, SipEndpoint
from frontdesk.telephony.sip.headers import tag_of
from frontdesk.telephony.sip.message import SipMessage, SipRequest, SipResponse, parse
from frontdesk.telephony.sip.uas import (
    AckTimedOut,
    Cancelled,
    Confirmed,
    RemoteHangup,
    RequestAnswered,
    Send,
    Timers,
    TransferProgress,
    UasDialog,
)

PEER = ("192.0.2.1", 5062)
LOCAL = ("198.51.100.7", 5060)
SDP = b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"


def _request(method: str, cseq: int, *, branch: str, to_tag: str | None = None,
             body: bytes = b"", extra: str = "") -> bytes:
    to = "<sip:+15125550100@198.51.100.7>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{method} sip:+15125550100@198.51.100.7 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:+15125551234@192.0.2.1>;tag=caller\r\nTo: {to}\r\n"
            f"Call-ID: call-1\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:+15125551234@192.0.2.1:5062>\r\n"
            f"Record-Route: <sip:proxy.example.com;lr>\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _ids() -> itertools.count[int]:
    return itertools.count(1)


def _endpoint() -> SipEndpoint:
    ids = _ids()
    return SipEndpoint(LOCAL, Timers(t1=0.5, t2=4.0), new_id=lambda: f"id{next(ids)}")


def _sent(outputs: Sequence[object]) -> list[SipMessage]:
    return [o.message for o in outputs if isinstance(o, Send)]


def _statuses(outputs: Sequence[object]) -> list[int]:
    return [m.status for m in _sent(outputs) if isinstance(m, SipResponse)]


def _answered_call() -> tuple[SipEndpoint, UasDialog]:
    endpoint = _endpoint()
    out = endpoint.receive(_request("INVITE", 1, branch="inv", body=SDP), PEER, 0.0)
    assert _statuses(out) == [100]
    [incoming] = [o for o in out if isinstance(o, IncomingCall)]
    dialog = incoming.dialog
    [ok] = _sent(dialog.answer(b"v=0\r\n", 0.0))
    assert isinstance(ok, SipResponse) and ok.status == 200
    assert tag_of(ok.need("To")) == dialog.local_tag and ok.header("Contact")
    assert ok.header("Record-Route") == "<sip:proxy.example.com;lr>"
    return endpoint, dialog


def _state(dialog: UasDialog) -> DialogState:  # not narrowed by an earlier assert
    return dialog.state


def _tag(dialog: UasDialog) -> str:
    return dialog.local_tag


def test_invite_answer_ack_bye() -> None:
    endpoint, dialog = _answered_call()
    ack = _request("ACK", 1, branch="ack", to_tag=_tag(dialog))
    assert endpoint.receive(ack, PEER, 0.1) == [DialogEvent("call-1", Confirmed())]
    assert dialog.state is DialogState.CONFIRMED
    out = endpoint.receive(_request("BYE", 2, branch="bye", to_tag=_tag(dialog)), PEER, 5.0)
    assert _statuses(out) == [200] and DialogEvent("call-1", RemoteHangup()) in out
    assert _state(dialog) is DialogState.ENDED
    # the peer missed our 200: its BYE again gets the same answer, no second event
    again = endpoint.receive(_request("BYE", 2, branch="bye", to_tag=_tag(dialog)), PEER, 5.5)
    assert _statuses(again) == [200] and len(again) == 1
    # forgotten 64*T1 after it ended
    assert endpoint.on_timer(5.5) == [] and endpoint.next_deadline() == 5.5 + 32
    endpoint.on_timer(37.5)
    assert "call-1" not in endpoint.dialogs


def test_the_200_is_retransmitted_until_the_ack_then_the_call_is_ended() -> None:
    endpoint, dialog = _answered_call()
    times = []
    now = 0.0
    while dialog.state is DialogState.ANSWERED:
        deadline = endpoint.next_deadline()
        assert deadline is not None
        now = deadline
        out = endpoint.on_timer(now)
        if _statuses(out) == [200]:
            times.append(now)
    assert times[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]  # T1 doubling, capped at T2
    assert DialogEvent("call-1", AckTimedOut()) in out
    [bye] = _sent(out)
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and now == 32.0


def test_an_ack_stops_the_retransmissions() -> None:
    endpoint, dialog = _answered_call()
    endpoint.receive(_request("ACK", 1, branch="ack", to_tag=_tag(dialog)), PEER, 0.2)
    assert endpoint.next_deadline() is None and endpoint.on_timer(10.0) == []


def test_a_retransmitted_invite_gets_the_last_response_again() -> None:
    endpoint, _ = _answered_call()
    out = endpoint.receive(_request("INVITE", 1, branch="inv", body=SDP), PEER, 0.1)
    assert _statuses(out) == [200] and not any(isinstance(o, IncomingCall) for o in out)


def test_cancel_before_the_answer() -> None:
    endpoint = _endpoint()
    endpoint.receive(_request("INVITE", 1, branch="inv", body=SDP), PEER, 0.0)
    out = endpoint.receive(_request("CANCEL", 1, branch="inv"), PEER, 0.1)
    cancel_ok, terminated = _sent(out)
    assert isinstance(cancel_ok, SipResponse) and cancel_ok.cseq == (1, "CANCEL")
    assert isinstance(terminated, SipResponse) and terminated.status == 487
    assert terminated.cseq == (1, "INVITE") and DialogEvent("call-1", Cancelled()) in out
    with pytest.raises(IllegalTransition):
        endpoint.dialogs["call-1"].answer(b"", 0.2)  # too late: a bug in the caller


def test_cancel_after_the_answer_has_no_effect() -> None:
    endpoint, dialog = _answered_call()
    out = endpoint.receive(_request("CANCEL", 1, branch="inv"), PEER, 0.1)
    assert _statuses(out) == [200] and dialog.state is DialogState.ANSWERED


def test_in_dialog_options_reinvite_and_unknown_methods() -> None:
    endpoint, dialog = _answered_call()
    endpoint.receive(_request("ACK", 1, branch="ack", to_tag=_tag(dialog)), PEER, 0.1)
    out = endpoint.receive(_request("INVITE", 2, branch="re", to_tag=_tag(dialog), body=SDP),
                           PEER, 1.0)
    [ok] = _sent(out)
    assert isinstance(ok, SipResponse) and (ok.status, ok.body) == (200, b"v=0\r\n")
    assert _statuses(endpoint.receive(_request("OPTIONS", 3, branch="o", to_tag=_tag(dialog)),
                                      PEER, 1.0)) == [200]
    assert _statuses(endpoint.receive(_request("INFO", 4, branch="i", to_tag=_tag(dialog)),
                                      PEER, 1.0)) == [501]
    assert _statuses(endpoint.receive(_request("NOTIFY", 5, branch="n", to_tag=_tag(dialog)),
                                      PEER, 1.0)) == [481]


def test_outside_a_dialog() -> None:
    endpoint = _endpoint()
    assert _statuses(endpoint.receive(_request("OPTIONS", 1, branch="o"), PEER, 0)) == [200]
    assert _statuses(endpoint.receive(_request("BYE", 1, branch="b", to_tag="x"), PEER, 0)) == [
        481]
    assert _statuses(endpoint.receive(_request("REGISTER", 1, branch="r"), PEER, 0)) == [501]
    assert _statuses(endpoint.receive(_request("INVITE", 1, branch="i", to_tag="x"), PEER,
                                      0)) == [481]
    assert endpoint.receive(_request("ACK", 1, branch="a", to_tag="x"), PEER, 0) == []
    assert endpoint.receive(b"\r\n\r\n", PEER, 0) == []  # keep-alive
    assert endpoint.dialogs == {}


def test_bad_datagrams_are_answered_400_or_dropped() -> None:
    endpoint = _endpoint()
    short = _request("INVITE", 1, branch="i", body=SDP)[:-5]
    out = endpoint.receive(short, PEER, 0)
    assert _statuses(out) == [400]
    assert BadMessage("body shorter than Content-Length", "call-1", 400) in out
    [dropped] = endpoint.receive(b"\x16\x03\x01 tls hello", PEER, 0)
    assert isinstance(dropped, BadMessage) and dropped.status is None
    assert endpoint.dialogs == {}


def test_our_bye_is_retransmitted_until_answered() -> None:
    endpoint, dialog = _answered_call()
    endpoint.receive(_request("ACK", 1, branch="ack", to_tag=_tag(dialog)), PEER, 0.1)
    [send] = dialog.hangup(10.0)
    assert isinstance(send, Send) and send.to == ("proxy.example.com", 5060)  # the route
    bye = send.message
    assert isinstance(bye, SipRequest) and bye.uri == "sip:+15125551234@192.0.2.1:5062"
    assert tag_of(bye.need("From")) == _tag(dialog) and tag_of(bye.need("To")) == "caller"
    assert bye.header("Route") == "<sip:proxy.example.com;lr>"
    assert _sent(endpoint.on_timer(10.5)) == [bye]  # Timer E
    reply = SipResponse(tuple((n, v) for n, v in bye.headers
                              if n in ("Via", "From", "To", "Call-ID", "CSeq")), b"", 200, "OK")
    out = endpoint.receive(bytes(reply), PEER, 10.7)
    assert out == [DialogEvent("call-1", RequestAnswered("BYE", 200, "OK"))]
    assert dialog.state is DialogState.ENDED


def test_an_unanswered_bye_times_out_with_408() -> None:
    _, dialog = _answered_call()
    dialog.receive(parse(_request("ACK", 1, branch="ack", to_tag=_tag(dialog))), PEER, 0.1)
    dialog.hangup(0.0)
    out: list[object] = []
    while dialog.state is DialogState.ENDING:
        deadline = dialog.next_deadline()
        assert deadline is not None
        out = list(dialog.on_timer(deadline))
    assert out == [RequestAnswered("BYE", 408, "Request Timeout")]


def test_refer_then_notify() -> None:
    endpoint, dialog = _answered_call()
    endpoint.receive(_request("ACK", 1, branch="ack", to_tag=_tag(dialog)), PEER, 0.1)
    [refer] = _sent(dialog.refer("sip:+15125550199@192.0.2.1", 1.0))
    assert isinstance(refer, SipRequest) and refer.method == "REFER"
    assert refer.header("Refer-To") == "<sip:+15125550199@192.0.2.1>"
    notify = _request("NOTIFY", 2, branch="n", to_tag=_tag(dialog), body=b"SIP/2.0 200 OK\r\n",
                      extra="Event: refer\r\nContent-Type: message/sipfrag;version=2.0\r\n")
    out = endpoint.receive(notify, PEER, 2.0)
    assert _statuses(out) == [200] and DialogEvent("call-1", TransferProgress(200)) in out


def test_local_misuse_raises() -> None:
    endpoint = _endpoint()
    endpoint.receive(_request("INVITE", 1, branch="inv", body=SDP), PEER, 0.0)
    dialog = endpoint.dialogs["call-1"]
    with pytest.raises(IllegalTransition):
        dialog.hangup(0.0)  # nothing to hang up before the answer
    with pytest.raises(IllegalTransition):
        dialog.refer("sip:x@y", 0.0)


def test_the_transition_table() -> None:
    assert transition(DialogState.EARLY, DialogInput.ANSWER) is DialogState.ANSWERED
    assert transition(DialogState.CONFIRMED, DialogInput.LOCAL_BYE) is DialogState.ENDING
    illegal = [(s, i) for s in DialogState for i in DialogInput if i not in TRANSITIONS[s]]
    assert (DialogState.ENDED, DialogInput.REMOTE_BYE) in illegal
    for state, event in illegal:
        with pytest.raises(IllegalTransition):
            transition(state, event)
