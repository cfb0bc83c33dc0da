"""SIP message parsing and serialization, against messages written after RFC 3261 §24.2
and RFC 4317 (hand-typed, CRLF line ends), compact forms, and malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.telephony.sip.headers import (
    SipUri,
    addr_params,
    addr_uri,
    can_answer,
    response,
    tag_of,
    top_via_branch,
    with_tag,
)
from frontdesk.telephony.sip.message import SipParseError, SipRequest, SipResponse, parse

SDP = (b"v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\n"
       b"c=IN IP4 host.atlanta.example.com\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 97\r\n"
       b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:97 iLBC/8000\r\n")

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    b"Max-Forwards: 69\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)

RINGING = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)

COMPACT_BYE = (
    b"BYE sip:alice@pc33.atlanta.example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10\r\n"
    b"Max-Forwards: 70\r\n"
    b"f: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"t: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"i: a84b4c76e66710\r\n"
    b"CSeq: 231 BYE\r\n"
    b"l: 0\r\n\r\n"
)


def test_an_invite_parses_with_its_headers_in_order_and_its_body() -> None:
    message = parse(INVITE)
    assert isinstance(message, SipRequest)
    assert (message.method, message.uri) == ("INVITE", "sip:bob@biloxi.example.com")
    assert message.call_id == "a84b4c76e66710" and message.cseq == (314159, "INVITE")
    assert len(message.header_all("via")) == 2 and message.body == SDP
    assert top_via_branch(message) == "z9hG4bK77ef4c2312983.1"
    assert message.header("Content-Length") is None  # derived from the body


@pytest.mark.parametrize("data", [INVITE, RINGING, COMPACT_BYE])
def test_parse_serialize_round_trip(data: bytes) -> None:
    message = parse(data)
    again = parse(bytes(message))
    assert again == message
    assert bytes(again) == bytes(message)


def test_compact_forms_expand_to_long_names() -> None:
    message = parse(COMPACT_BYE)
    assert isinstance(message, SipRequest)
    assert message.call_id == "a84b4c76e66710"
    assert tag_of(message.need("From")) == "a6c85cf"
    assert [n for n, _ in message.headers] == ["Via", "Max-Forwards", "From", "To", "Call-ID",
                                               "CSeq"]
    assert b"\r\nCall-ID: a84b4c76e66710\r\n" in bytes(message)


def test_a_response_parses() -> None:
    message = parse(RINGING)
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason) == (180, "Ringing")
    assert tag_of(message.need("To")) == "a6c85cf"


def test_folded_headers_bare_lf_and_keepalive_crlf_are_tolerated() -> None:
    folded = RINGING.replace(b"Contact: <sip:bob@192.0.2.4>\r\n",
                             b"Subject: a long\r\n  subject\r\n")
    assert parse(folded).header("Subject") == "a long subject"
    assert parse(b"\r\n\r\n" + RINGING.replace(b"\r\n", b"\n")) == parse(RINGING)


def test_content_length_cuts_trailing_bytes_and_a_short_body_is_an_error() -> None:
    assert parse(INVITE + b"garbage").body == SDP
    with pytest.raises(SipParseError, match="shorter than Content-Length") as caught:
        parse(INVITE[:-10])
    assert caught.value.is_request and can_answer(caught.value.headers)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "no blank line"),
    (b"HELLO\r\n\r\n", "bad start line"),
    (b"INVITE sip:x SIP/3.0\r\n\r\n", "bad start line"),
    (INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), "CSeq method"),
    (INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: x INVITE"), "bad CSeq"),
    (INVITE.replace(b"Call-ID: a84b4c76e66710\r\n", b""), "missing Call-ID"),
    (INVITE.replace(b"Max-Forwards: 69", b"Max Forwards 69"), "bad header line"),
    (INVITE.replace(b"Content-Length: ", b"Content-Length: -"), "bad Content-Length"),
    (b"INVITE sip:x SIP/2.0\r\nTo: \xff\r\n\r\n", "not UTF-8"),
    (b"INVITE sip:x SIP/2.0\r\n continued\r\n\r\n", "continuation"),
])
def test_malformed_messages_raise_a_typed_error(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse(data)


def test_the_error_keeps_what_a_400_needs_only_when_it_was_read() -> None:
    with pytest.raises(SipParseError) as caught:
        parse(INVITE.replace(b"Content-Length: ", b"Content-Length: x"))
    bad = response(caught.value.headers, 400, "Bad Request", to_tag="t1")
    assert bad.call_id == "a84b4c76e66710" and len(bad.header_all("Via")) == 2
    assert tag_of(bad.need("To")) == "t1"
    with pytest.raises(SipParseError) as caught:
        parse(INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: x INVITE"))
    assert not can_answer(caught.value.headers)


@given(st.binary(max_size=600))
def test_any_bytes_parse_or_raise_the_typed_error(data: bytes) -> None:
    try:
        message = parse(data)
    except SipParseError:
        return
    assert parse(bytes(message)) == message


@given(st.integers(0, len(INVITE)), st.binary(min_size=1, max_size=4))
def test_corrupted_invites_parse_or_raise_the_typed_error(at: int, junk: bytes) -> None:
    try:
        parse(INVITE[:at] + junk + INVITE[at + len(junk):])
    except SipParseError:
        pass


def test_name_addr_and_uri_helpers() -> None:
    value = '"Bob B" <sip:+15125550100@[2001:db8::1]:5070;transport=udp>;tag=x9;lr'
    assert addr_uri(value) == "sip:+15125550100@[2001:db8::1]:5070;transport=udp"
    assert addr_params(value) == {"tag": "x9", "lr": ""}
    uri = SipUri.parse(addr_uri(value))
    assert (uri.user, uri.host, uri.port) == ("+15125550100", "2001:db8::1", 5070)
    assert str(uri) == "sip:+15125550100@[2001:db8::1]:5070"
    assert addr_uri("sip:bob@host;tag=1") == "sip:bob@host" and tag_of("sip:bob@host;tag=1") == "1"
    assert with_tag("<sip:a@b>", "t") == "<sip:a@b>;tag=t"
    assert with_tag("<sip:a@b>;tag=old", "t") == "<sip:a@b>;tag=old"
    with pytest.raises(SipParseError):
        SipUri.parse("tel:+15125550100")
    with pytest.raises(SipParseError):
        SipUri.parse("sip:bob@host:99999")
    with pytest.raises(SipParseError):
        addr_uri("<sip:bob@host")
