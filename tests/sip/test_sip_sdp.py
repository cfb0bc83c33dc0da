"""SDP offer parsing and our answer (offers after RFC 4317's examples)."""

from __future__ import annotations

import pytest

from frontdesk.telephony.sip.sdp import NoCommonCodec, SdpError, answer, parse_offer, select

# RFC 4317 §2.1-style audio offer, with RFC 4733 events on a dynamic payload
AUDIO_OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    b"s=\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 8 0 97 101\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:97 iLBC/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
)

# audio and video (RFC 4317 §2.2-style), with a media-level address on the audio
AUDIO_VIDEO_OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    b"s=\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=video 51372 RTP/AVP 31\r\n"
    b"a=rtpmap:31 H261/90000\r\n"
    b"m=audio 49170 RTP/AVP 0 96\r\n"
    b"c=IN IP4 192.0.2.20\r\n"
    b"a=rtpmap:96 telephone-event/8000\r\n"
    b"a=sendonly\r\n"
)


def _lines(body: bytes) -> list[str]:
    return body.decode().split("\r\n")


def test_an_offer_is_read() -> None:
    offer = parse_offer(AUDIO_OFFER)
    assert offer.address == "192.0.2.10" and offer.origin_address == "host.atlanta.example.com"
    [audio] = offer.media
    assert (audio.media, audio.port, audio.formats) == ("audio", 49170, ("8", "0", "97", "101"))
    assert audio.encoding(101) == "telephone-event/8000" and audio.encoding(0) == "pcmu/8000"


def test_the_answer_picks_pcmu_and_reuses_the_offered_event_payload() -> None:
    agreed = answer(parse_offer(AUDIO_OFFER), local_address="198.51.100.7", local_port=40000,
                    session_id=7)
    assert (agreed.remote_address, agreed.remote_port, agreed.dtmf_payload) == (
        "192.0.2.10", 49170, 101)
    lines = _lines(agreed.body)
    assert "c=IN IP4 198.51.100.7" in lines and "m=audio 40000 RTP/AVP 0 101" in lines
    assert "a=rtpmap:101 telephone-event/8000" in lines and "a=sendrecv" in lines
    assert parse_offer(agreed.body).media[0].formats == ("0", "101")  # our answer parses


def test_other_streams_are_rejected_in_place_and_direction_is_mirrored() -> None:
    agreed = answer(parse_offer(AUDIO_VIDEO_OFFER), local_address="198.51.100.7",
                    local_port=40000, session_id=7)
    assert (agreed.remote_address, agreed.dtmf_payload) == ("192.0.2.20", 96)
    media = [line for line in _lines(agreed.body) if line.startswith("m=")]
    assert media == ["m=video 0 RTP/AVP 31", "m=audio 40000 RTP/AVP 0 96"]
    assert "a=recvonly" in _lines(agreed.body)


def test_no_telephone_event_offered_means_none_answered() -> None:
    offer = parse_offer(AUDIO_OFFER.replace(b" 97 101", b" 97"))
    agreed = answer(offer, local_address="::1", local_port=40000, session_id=1)
    assert agreed.dtmf_payload is None and "m=audio 40000 RTP/AVP 0" in _lines(agreed.body)
    assert "c=IN IP6 ::1" in _lines(agreed.body)


@pytest.mark.parametrize("body", [
    AUDIO_OFFER.replace(b" 8 0 97 101", b" 8 97"),  # PCMA only
    AUDIO_OFFER.replace(b"m=audio 49170", b"m=audio 0"),  # the stream is rejected
    AUDIO_OFFER.replace(b"RTP/AVP", b"RTP/SAVP"),  # SRTP
    AUDIO_OFFER.replace(b"a=rtpmap:0 PCMU/8000", b"a=rtpmap:0 opus/48000"),
])
def test_no_common_codec(body: bytes) -> None:
    with pytest.raises(NoCommonCodec):
        select(parse_offer(body))


@pytest.mark.parametrize("body", [
    b"",
    b"v=0\r\nnot sdp\r\n",
    b"\xff\xfe",
    AUDIO_OFFER.replace(b"c=IN IP4 192.0.2.10", b"c=IN XX"),
    AUDIO_OFFER.replace(b"m=audio 49170 RTP/AVP", b"m=audio x RTP/AVP"),
    AUDIO_OFFER.replace(b"a=rtpmap:0 PCMU", b"a=rtpmap:x PCMU"),
    AUDIO_OFFER.replace(b"c=IN IP4 192.0.2.10\r\n", b""),  # nowhere to send audio
])
def test_unreadable_offers_raise_sdp_error(body: bytes) -> None:
    with pytest.raises(SdpError):
        select(parse_offer(body))
