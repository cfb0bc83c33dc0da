"""Real SIP calls on loopback: sipp (package sip-tester) as the caller's phone, frontdesk's
SIP server answering, the call engine with stub speech behind it, SQLite and PostgreSQL.

The caller's speech is a tone burst per line (the stub STT hears each as the next
scripted line), streamed by sipp's rtp_stream from mu-law files the test writes, each
line on the test's cue once the agent has finished its reply (see :class:`Cues`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from sip_peers import CALLER, SHOP, Serving, UdpPeer, caller_audio, serving, udp_peer

from frontdesk.call.events import AgentTurnDone
from frontdesk.runtime import OpenCall
from frontdesk.store import SESSION_DROPPED, SESSION_FINISHED, BusinessStore, CallRecord
from frontdesk.telephony.sip.call import SipCall, dial_status
from frontdesk.telephony.sip.message import SipRequest, SipResponse, parse
from frontdesk.telephony.sip.rtp import DtmfEvent, RtpPacket
from frontdesk.telephony.sip.sdp import parse_offer
from frontdesk.telephony.sip.uas import Timers

HERE = Path(__file__).parent
SIPP = shutil.which("sipp")
# scripts/test.sh installs sipp and sets FRONTDESK_TEST_REQUIRE_SIPP: under the test
# command a missing sipp fails these tests instead of skipping them unseen
needs_sipp = pytest.mark.skipif(
    SIPP is None and not os.environ.get("FRONTDESK_TEST_REQUIRE_SIPP"),
    reason="sipp missing (apt: sip-tester); scripts/test.sh installs it")

BOOKING = ["I'd like to book an oil change.", "December 1 at 10 AM.", "Ann Lee."]
LINE_MS = 700


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _error_logs(workdir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in workdir.glob("*_errors.log"))


async def _sipp(serving_: Serving, scenario: str, workdir: Path, *args: str) -> None:
    """Run one sipp call to the server; fail with sipp's own report if it fails."""
    assert SIPP is not None
    xml = workdir / scenario
    shutil.copy(HERE / scenario, xml)
    process = await asyncio.create_subprocess_exec(
        SIPP, f"127.0.0.1:{serving_.port}", "-sf", str(xml), "-s", SHOP, "-m", "1",
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(_free_udp_port()),
        "-nostdin", "-timeout", "60s", "-timeout_error", "-trace_err",
        "-recv_timeout", "30000", *args,
        cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(90):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()  # never leave a sipp behind
        await process.wait()
        raise
    if process.returncode != 0:
        errors = _error_logs(workdir)
        pytest.fail(f"sipp exited {process.returncode}\n{errors}\n{stderr.decode()}\n"
                    f"{stdout.decode()[-3000:]}")


async def _finished_call(serving_: Serving) -> CallRecord:
    async with asyncio.timeout(30):
        [call_id] = await serving_.server.wait_finished(1)
    record = await asyncio.to_thread(serving_.shop.get_call, call_id)
    assert record is not None
    return record


class Turns:
    """The agent's finished replies, as (leg, turn), of every engine call the server
    opens: leg 0 is the answered call, leg 1 the return leg after a failed transfer."""

    def __init__(self, serving_: Serving) -> None:
        self._done: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._legs = 0
        self.sip_call_id = ""
        serving_.server.on_open = self._watch

    def _watch(self, call: SipCall, opened: OpenCall) -> None:
        self.sip_call_id = call.dialog.call_id
        leg, self._legs = self._legs, self._legs + 1
        opened.bus.subscribe(AgentTurnDone,
                             lambda done: self._done.put_nowait((leg, done.turn)))

    async def done(self, turn: int, *, leg: int = 0) -> None:
        """Wait until the agent's reply ``turn`` (0: the greeting) of ``leg`` is over."""
        async with asyncio.timeout(60):
            while await self._done.get() != (leg, turn):
                pass


class Cues:
    """Drives a sipp caller by the agent's turns: when the agent has finished a reply, the
    test sends the caller an OPTIONS in its dialog (the cue its scenario waits for) and
    the caller speaks its next line or hangs up. No timing guesses on either side."""

    def __init__(self, serving_: Serving, peer: UdpPeer, sipp_port: int) -> None:
        self._peer, self._sipp_port = peer, sipp_port
        self.turns = Turns(serving_)

    @property
    def sip_call_id(self) -> str:
        return self.turns.sip_call_id

    async def after_turn(self, turn: int, *, leg: int = 0) -> None:
        """Wait until the agent's reply ``turn`` of ``leg`` is over, then cue."""
        await self.turns.done(turn, leg=leg)
        cseq = 100 * leg + turn + 1
        self._peer.send(
            (f"OPTIONS sip:caller@127.0.0.1 SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:{self._peer.port};branch=z9hG4bK-cue{cseq}\r\n"
             f"From: <sip:test@127.0.0.1>;tag=cue\r\nTo: <sip:caller@127.0.0.1>\r\n"
             f"Call-ID: {self.sip_call_id}\r\nCSeq: {cseq} OPTIONS\r\n"
             f"Content-Length: 0\r\n\r\n").encode(), self._sipp_port)


def _write_lines(workdir: Path, count: int) -> None:
    for n in range(1, count + 1):  # a tone burst, then enough silence to end the turn
        (workdir / f"line{n}.ulaw").write_bytes(caller_audio([LINE_MS], lead_ms=0,
                                                             gap_ms=1000))


@needs_sipp
async def test_caller_bye_mid_booking_leaves_the_session_dropped(
    store_url: str, tmp_path: Path
) -> None:
    _write_lines(tmp_path, len(BOOKING))
    sipp_port = _free_udp_port()
    async with serving(store_url, BOOKING) as s, udp_peer() as peer, asyncio.TaskGroup() as tg:
        cues = Cues(s, peer, sipp_port)
        caller = tg.create_task(_sipp(s, "uac_hangup_mid_call.xml", tmp_path,
                                      "-p", str(sipp_port)))
        for turn in range(len(BOOKING) + 1):  # the last cue: hang up, mid-booking
            await cues.after_turn(turn)
        await caller
        record = await _finished_call(s)
        shop = s.shop
        assert (record.carrier, record.status, record.end_reason) == (
            "sip", "completed", "caller_hangup")
        assert record.ended_at is not None and record.carrier_call_id == cues.sip_call_id
        assert record.from_number == CALLER and record.to_number == SHOP
        [session] = shop.sessions_for(CALLER)
        assert session.status == SESSION_DROPPED and session.task == "booking"
        turns = shop.list_turns(record.id)
        assert [t.caller_text for t in turns[1:]] == BOOKING
        assert not any(t.interrupted for t in turns)
        assert "Shall I book it?" in turns[-1].agent_text
        kinds = [e.kind for e in shop.list_call_events(record.id)]
        assert "sip.answered" in kinds and "sip.bye" in kinds
        assert "sip.protocol_error" not in kinds


@needs_sipp
async def test_agent_hangs_up_with_bye_and_the_session_is_finished(
    store_url: str, tmp_path: Path
) -> None:
    script = ["No, that's all. Goodbye."]
    _write_lines(tmp_path, 1)
    sipp_port = _free_udp_port()
    async with serving(store_url, script) as s, udp_peer() as peer, asyncio.TaskGroup() as tg:
        cues = Cues(s, peer, sipp_port)
        caller = tg.create_task(_sipp(s, "uac_agent_hangs_up.xml", tmp_path,
                                      "-p", str(sipp_port)))
        await cues.after_turn(0)
        await caller  # it answered our BYE 200
        record = await _finished_call(s)
        shop = s.shop
        assert (record.status, record.end_reason) == ("completed", "agent_hangup")
        [session] = shop.sessions_for(CALLER)
        assert session.status == SESSION_FINISHED and session.task is None
        [hangup] = shop.list_call_events(record.id, kind="sip.hangup")
        assert hangup.data == {"status": 200}
        assert shop.list_turns(record.id)[-1].agent_text.endswith("Goodbye!")


def _invite(peer_port: int, server_port: int, call_id: str, *, number: str = SHOP,
            sdp: bytes | None = None) -> bytes:
    body = sdp if sdp is not None else (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    head = (f"INVITE sip:{number}@127.0.0.1:{server_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-{call_id}\r\n"
            f"From: <sip:{CALLER}@127.0.0.1:{peer_port}>;tag=caller\r\n"
            f"To: <sip:{number}@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:{CALLER}@127.0.0.1:{peer_port}>\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _in_dialog(method: str, ok: SipResponse, peer_port: int, server_port: int, *,
               cseq: int) -> bytes:
    return (f"{method} sip:{SHOP}@127.0.0.1:{server_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-{method}{cseq}\r\n"
            f"From: {ok.need('From')}\r\nTo: {ok.need('To')}\r\nCall-ID: {ok.call_id}\r\n"
            f"CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n").encode()


async def _final(peer_next: asyncio.Queue[bytes]) -> SipResponse:
    while True:
        async with asyncio.timeout(10):
            message = parse(await peer_next.get())
        if isinstance(message, SipResponse) and message.status >= 200:
            return message


async def test_a_malformed_datagram_gets_400_and_the_next_invite_is_answered(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(store_url, []) as s, udp_peer() as peer:
        head = (b"INVITE sip:x@127.0.0.1 SIP/2.0\r\n"
                b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKb\r\n"
                b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: bad-1\r\n")
        peer.send(head + b"CSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0\r\n", s.port)
        reply = parse(await peer.next())
        assert isinstance(reply, SipResponse) and reply.status == 400
        assert reply.call_id == "bad-1" and reply.cseq == (1, "INVITE")
        peer.send(head + b"CSeq: one INVITE\r\n\r\n", s.port)  # no CSeq to answer: dropped
        peer.send(b"\x00\xffnot sip at all", s.port)  # unreadable: dropped, logged
        peer.send(_invite(peer.port, s.port, "nobody", number="+15550000000"), s.port)
        assert (await _final(peer.received)).status == 404
        peer.send(_invite(peer.port, s.port, "no-codec", sdp=(
            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=audio 40000 RTP/AVP 8\r\n")), s.port)
        assert (await _final(peer.received)).status == 488
        peer.send(_invite(peer.port, s.port, "good-1"), s.port)
        ok = await _final(peer.received)
        assert ok.status == 200 and b"m=audio" in ok.body
        peer.send(_in_dialog("ACK", ok, peer.port, s.port, cseq=1), s.port)
        # a broken request inside the call: answered 400, recorded on the call, no harm
        broken = _in_dialog("INFO", ok, peer.port, s.port, cseq=2)
        peer.send(broken.replace(b"Content-Length: 0", b"Content-Length: 9"), s.port)
        assert (await _final(peer.received)).status == 400
        peer.send(_in_dialog("BYE", ok, peer.port, s.port, cseq=3), s.port)
        assert (await _final(peer.received)).cseq == (3, "BYE")
        record = await _finished_call(s)
        assert (record.carrier_call_id, record.end_reason) == ("good-1", "caller_hangup")
        [error] = s.shop.list_call_events(record.id, kind="sip.protocol_error")
        assert error.data == {"status": 400, "reason": "body shorter than Content-Length"}
    logged = [r.getMessage() for r in caplog.records if "bad datagram" in r.getMessage()]
    assert len(logged) == 4 and "not sip" not in caplog.text  # reasons, never payload


async def test_no_rtp_ends_the_call_as_dropped_and_we_send_bye(store_url: str) -> None:
    async with serving(store_url, [], media_timeout_s=0.5) as s, udp_peer() as peer:
        peer.send(_invite(peer.port, s.port, "silent-1"), s.port)
        ok = await _final(peer.received)
        assert ok.status == 200
        peer.send(_in_dialog("ACK", ok, peer.port, s.port, cseq=1), s.port)
        bye = await _answer_bye(peer, s.port)  # (the greeting's RTP goes to port 40000)
        assert bye.call_id == "silent-1"
        record = await _finished_call(s)
        assert (record.status, record.end_reason) == ("dropped", "dropped")
        kinds = [e.kind for e in s.shop.list_call_events(record.id)]
        assert "sip.media_timeout" in kinds
        [hangup] = s.shop.list_call_events(record.id, kind="sip.hangup")
        assert hangup.data == {"reason": "dropped", "status": 200}


@needs_sipp
async def test_pressing_0_transfers_with_refer_then_bye(store_url: str, tmp_path: Path) -> None:
    async with serving(store_url, []) as s:
        await _sipp(s, "uac_transfer.xml", tmp_path)
        record = await _finished_call(s)
        shop = s.shop
        number = s.runtime.registry.by_number(SHOP).transfer_numbers[0].number
        assert (record.outcome, record.end_reason) == ("transferred", "agent_hangup")
        [transfer] = shop.list_call_events(record.id, kind="sip.transfer")
        assert transfer.data == {"to": number, "refer_to": f"sip:{number}@127.0.0.1",
                                 "status": 202, "notify": 200}
        [hangup] = shop.list_call_events(record.id, kind="sip.hangup")
        assert hangup.data == {"status": 200}


def _return_leg(shop: BusinessStore, original: CallRecord, sip_status: int,
                dial_status: str) -> tuple[dict[str, Any], CallRecord]:
    """The failed transfer recorded on the answered call, and the return leg it opened
    (a row of its own, no carrier id, linked both ways); the transfer's event data."""
    [failed] = shop.list_call_events(original.id, kind="sip.transfer_failed")
    data = dict(failed.data)
    leg = shop.get_call(data.pop("return_call_id"))
    assert leg is not None and leg.id != original.id
    assert (leg.from_number, leg.to_number, leg.carrier, leg.carrier_call_id) == (
        CALLER, SHOP, "sip", None)
    [link] = shop.list_call_events(leg.id, kind="sip.return_leg")
    assert link.data == {"original_call_id": original.id, "sip_status": sip_status,
                         "dial_status": dial_status}
    [outcome] = [e for e in shop.list_call_events(leg.id, kind="escalation.outcome")
                 if e.data["action"] == "transfer_failed"]
    assert outcome.data["status"] == dial_status
    # the answered call itself: transferred, as far as its own engine call knew, and
    # never hung up by us (its BYE would have failed the sipp scenario too)
    assert (original.outcome, original.end_reason) == ("transferred", "agent_hangup")
    kinds = [e.kind for e in shop.list_call_events(original.id)]
    assert "sip.transfer" not in kinds and "sip.hangup" not in kinds
    turns = shop.list_turns(leg.id)
    assert turns[0].agent_text_played.startswith(
        "I'm sorry, no one could take your call just now.")
    return data, leg


@needs_sipp
async def test_a_busy_transfer_target_brings_the_caller_back_to_leave_a_message(
    store_url: str, tmp_path: Path
) -> None:
    _write_lines(tmp_path, 1)
    sipp_port = _free_udp_port()
    async with serving(store_url, ["Dana Ruiz."]) as s, udp_peer() as peer, \
            asyncio.TaskGroup() as tg:
        cues = Cues(s, peer, sipp_port)
        caller = tg.create_task(_sipp(s, "uac_transfer_busy.xml", tmp_path,
                                      "-p", str(sipp_port)))
        await cues.after_turn(0, leg=1)  # the return leg asked for a name: the caller says it
        await caller  # it answered our BYE, and no BYE of ours came before the cue
        record = await _finished_call(s)
        shop = s.shop
        number = s.runtime.registry.by_number(SHOP).transfer_numbers[0].number
        data, leg = _return_leg(shop, record, 486, "busy")
        assert data == {"to": number, "refer_to": f"sip:{number}@127.0.0.1", "status": 202,
                        "notify": 486}
        # the return leg took the message, said goodbye and hung up: BYE on its row
        assert (leg.status, leg.outcome, leg.end_reason) == (
            "completed", "message", "agent_hangup")
        turns = shop.list_turns(leg.id)
        assert turns[0].agent_text_played.endswith("Can I get your name, please?")
        assert [t.caller_text for t in turns[1:]] == ["Dana Ruiz."]
        assert turns[-1].agent_text.endswith("Goodbye.")
        [message] = shop.list_messages()
        assert (message.caller_name, message.caller_phone, message.call_id) == (
            "Dana Ruiz", CALLER, leg.id)
        assert message.text.startswith("[normal] human:")
        [text] = shop.list_commitments(kinds=("sms",))
        assert "Dana Ruiz" in text.payload["text"]
        [hangup] = shop.list_call_events(leg.id, kind="sip.hangup")
        assert hangup.data == {"status": 200}


@needs_sipp
async def test_a_refused_refer_brings_the_caller_back_until_they_hang_up(
    store_url: str, tmp_path: Path
) -> None:
    sipp_port = _free_udp_port()
    async with serving(store_url, []) as s, udp_peer() as peer, asyncio.TaskGroup() as tg:
        cues = Cues(s, peer, sipp_port)
        caller = tg.create_task(_sipp(s, "uac_transfer_declined.xml", tmp_path,
                                      "-p", str(sipp_port)))
        await cues.after_turn(0, leg=1)  # the return leg asked for a name: the caller hangs up
        await caller
        record = await _finished_call(s)
        shop = s.shop
        number = s.runtime.registry.by_number(SHOP).transfer_numbers[0].number
        data, leg = _return_leg(shop, record, 603, "failed")
        assert data == {"to": number, "refer_to": f"sip:{number}@127.0.0.1", "status": 603}
        # the caller's BYE ended the return leg; what they left is a message all the same
        assert (leg.status, leg.end_reason) == ("completed", "caller_hangup")
        assert "sip.bye" in [e.kind for e in shop.list_call_events(leg.id)]
        assert shop.list_call_events(leg.id, kind="sip.hangup") == []
        [message] = shop.list_messages()
        assert (message.caller_phone, message.call_id) == (CALLER, leg.id)
        assert message.text.startswith("[normal] human:")


async def test_a_refer_nobody_answers_brings_the_caller_back_too(store_url: str) -> None:
    """No final answer to our REFER at all (the dialog gives up with 408 after 64·T1):
    a failed transfer like any other, with no sipp needed to stay silent."""
    timers = Timers(t1=0.05, t2=0.2)  # the REFER gives up after 64·T1 = 3.2 s
    offer = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             b"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
             b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n")
    async with serving(store_url, [], timers=timers) as s, udp_peer() as peer, \
            udp_peer() as phone_rtp:
        turns = Turns(s)
        peer.send(_invite(peer.port, s.port, "refer-408", sdp=offer % phone_rtp.port), s.port)
        ok = await _final(peer.received)
        peer.send(_in_dialog("ACK", ok, peer.port, s.port, cseq=1), s.port)
        our_rtp = parse_offer(ok.body).media[0].port
        press_0 = RtpPacket(101, 1, 8000, 0x5EED, bytes(DtmfEvent(0, True, 10, 800)), True)
        phone_rtp.send(bytes(press_0), our_rtp)
        refer = await _request(peer, "REFER")  # and its retransmissions: never answered
        await turns.done(0, leg=1)  # the return leg asked for a message: no BYE from us
        peer.send(_in_dialog("BYE", ok, peer.port, s.port, cseq=2), s.port)
        assert (await _final(peer.received)).cseq == (2, "BYE")
        record = await _finished_call(s)
        number = s.runtime.registry.by_number(SHOP).transfer_numbers[0].number
        assert refer.header("Refer-To") == f"<sip:{number}@127.0.0.1>"
        data, leg = _return_leg(s.shop, record, 408, "failed")
        assert data == {"to": number, "refer_to": f"sip:{number}@127.0.0.1", "status": 408}
        assert (leg.status, leg.end_reason) == ("completed", "caller_hangup")
        assert s.shop.list_call_events(leg.id, kind="sip.hangup") == []


@pytest.mark.parametrize(("sip_status", "refer_refused", "expected"), [
    (486, False, "busy"), (600, False, "busy"), (603, False, "busy"),
    (408, False, "no-answer"), (480, False, "no-answer"), (487, False, "no-answer"),
    (404, False, "failed"), (500, False, "failed"),
    (603, True, "failed"), (408, True, "failed"), (405, True, "failed"),
])
def test_a_failed_transfer_is_told_to_the_return_leg_in_dial_status_words(
    sip_status: int, refer_refused: bool, expected: str
) -> None:
    assert dial_status(sip_status, refer_refused=refer_refused) == expected


async def test_stopping_the_server_hangs_up_and_drops_its_calls(store_url: str) -> None:
    async with serving(store_url, []) as s, udp_peer() as peer, asyncio.TaskGroup() as tg:
        peer.send(_invite(peer.port, s.port, "stop-1"), s.port)
        ok = await _final(peer.received)
        peer.send(_in_dialog("ACK", ok, peer.port, s.port, cseq=1), s.port)
        answered = tg.create_task(_answer_bye(peer, s.port))
        await s.stop()
        bye = await answered
        assert bye.call_id == "stop-1"
        [call_id] = s.server.finished
        record = s.shop.get_call(call_id)
        assert record is not None and record.end_reason == "dropped"
        [hangup] = s.shop.list_call_events(call_id, kind="sip.hangup")
        assert hangup.data == {"reason": "dropped", "status": 200}


async def _request(peer: UdpPeer, method: str) -> SipRequest:
    while True:
        message = parse(await peer.next())
        if isinstance(message, SipRequest) and message.method == method:
            return message


async def _answer_bye(peer: UdpPeer, port: int) -> SipRequest:
    message = await _request(peer, "BYE")
    reply = SipResponse(tuple((n, v) for n, v in message.headers
                              if n in ("Via", "From", "To", "Call-ID", "CSeq")), b"",
                        status=200, reason="OK")
    peer.send(bytes(reply), port)
    return message
