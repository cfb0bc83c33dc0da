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

import pytest
from sip_peers import CALLER, SHOP, Serving, UdpPeer, caller_audio, serving, udp_peer

from frontdesk.call.events import AgentTurnDone
from frontdesk.runtime import OpenCall
from frontdesk.store import SESSION_DROPPED, SESSION_FINISHED, CallRecord
from frontdesk.telephony.sip.call import SipCall
from frontdesk.telephony.sip.message import SipRequest, SipResponse, parse

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


class Cues:
    """Drives a sipp caller by the agent's turns: when the agent has finished a reply, the
    test sends the caller an OPTIONS in its dialog (the cue its scenario waits for) and
    the caller speaks its next line or hangs up. No timing guesses on either side."""

    def __init__(self, serving_: Serving, peer: UdpPeer, sipp_port: int) -> None:
        self._peer, self._sipp_port = peer, sipp_port
        self._done: asyncio.Queue[int] = asyncio.Queue()
        self.sip_call_id = ""
        serving_.server.on_open = self._watch

    def _watch(self, call: SipCall, opened: OpenCall) -> None:
        self.sip_call_id = call.dialog.call_id
        opened.bus.subscribe(AgentTurnDone, lambda done: self._done.put_nowait(done.turn))

    async def after_turn(self, turn: int) -> None:
        """Wait until the agent's reply ``turn`` (0: the greeting) is over, then cue."""
        async with asyncio.timeout(60):
            while await self._done.get() != turn:
                pass
        self._peer.send(
            (f"OPTIONS sip:caller@127.0.0.1 SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:{self._peer.port};branch=z9hG4bK-cue{turn}\r\n"
             f"From: <sip:test@127.0.0.1>;tag=cue\r\nTo: <sip:caller@127.0.0.1>\r\n"
             f"Call-ID: {self.sip_call_id}\r\nCSeq: {turn + 1} OPTIONS\r\n"
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


async def _answer_bye(peer: UdpPeer, port: int) -> SipRequest:
    while True:
        message = parse(await peer.next())
        if isinstance(message, SipRequest) and message.method == "BYE":
            break
    reply = SipResponse(tuple((n, v) for n, v in message.headers
                              if n in ("Via", "From", "To", "Call-ID", "CSeq")), b"",
                        status=200, reason="OK")
    peer.send(bytes(reply), port)
    return message
