"""SDP offer/answer for one audio stream (RFC 8866 syntax, RFC 3264 rules).

We speak PCMU/8000 only (payload 0, what the engine's ``PhoneAudio`` encodes) plus RFC
4733 telephone-event/8000 on whatever payload number the offer gave it (RFC 3264 §6.1:
the answer reuses the offerer's dynamic numbers). An offer without PCMU on an active
audio stream gets :class:`NoCommonCodec` (the adapter answers 488). The answer keeps
every m-line of the offer, in order, rejecting the ones we don't use with port 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["NoCommonCodec", "SdpAnswer", "SdpError", "SdpOffer", "Selection", "answer",
           "parse_offer", "select"]

PCMU = 0


class SdpError(ValueError):
    """The body is not an SDP offer we can read (the peer's fault)."""


class NoCommonCodec(SdpError):
    """The offer has no PCMU/8000 audio stream we could answer."""


@dataclass(frozen=True)
class MediaLine:
    media: str  # "audio", "video", ...
    port: int
    proto: str
    formats: tuple[str, ...]
    rtpmap: tuple[tuple[int, str], ...]  # (payload type, "encoding/rate[/channels]")
    address: str | None  # a media-level c= address, overriding the session's
    direction: str  # sendrecv | sendonly | recvonly | inactive

    def encoding(self, payload: int) -> str | None:
        found = dict(self.rtpmap).get(payload)
        if found is not None:
            return found.lower()
        return {0: "pcmu/8000", 8: "pcma/8000", 13: "cn/8000"}.get(payload)  # RFC 3551 static


@dataclass(frozen=True)
class SdpOffer:
    origin_address: str
    address: str | None  # session-level c= address
    media: tuple[MediaLine, ...]


@dataclass(frozen=True)
class SdpAnswer:
    """What we agreed: where to send RTP, and the telephone-event payload if any."""

    remote_address: str
    remote_port: int
    dtmf_payload: int | None
    body: bytes


def _address(value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"bad connection line c={value[:60]}")
    return parts[2].split("/", 1)[0]


@dataclass
class _Building:
    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    rtpmap: list[tuple[int, str]] = field(default_factory=list)
    address: str | None = None
    direction: str = "sendrecv"

    def done(self) -> MediaLine:
        return MediaLine(self.media, self.port, self.proto, self.formats, tuple(self.rtpmap),
                         self.address, self.direction)


def parse_offer(body: bytes) -> SdpOffer:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    origin = ""
    session_address: str | None = None
    media: list[_Building] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1:
            raise SdpError(f"bad SDP line {line[:60]!r}")
        current = media[-1] if media else None
        if kind == "o":
            fields = value.split()
            if len(fields) != 6:
                raise SdpError("bad origin line")
            origin = fields[5]
        elif kind == "c":
            if current is None:
                session_address = _address(value)
            else:
                current.address = _address(value)
        elif kind == "m":
            fields = value.split()
            if len(fields) < 4 or not fields[1].split("/")[0].isdigit():
                raise SdpError(f"bad media line m={value[:60]}")
            media.append(_Building(fields[0], int(fields[1].split("/")[0]), fields[2],
                                   tuple(fields[3:])))
        elif kind == "a" and current is not None:
            name, _, attr = value.partition(":")
            if name == "rtpmap":
                payload, _, encoding = attr.partition(" ")
                if not payload.isdigit():
                    raise SdpError(f"bad rtpmap {attr[:40]!r}")
                current.rtpmap.append((int(payload), encoding.strip()))
            elif name in _ANSWER_DIRECTION:
                current.direction = name
    if not media:
        raise SdpError("no m= line")
    return SdpOffer(origin, session_address, tuple(m.done() for m in media))


_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                     "inactive": "inactive"}


@dataclass(frozen=True)
class Selection:
    """The offered stream we take (its index) and the telephone-event payload, if any."""

    index: int
    dtmf_payload: int | None


def select(offer: SdpOffer) -> Selection:
    """The first active RTP/AVP audio stream offering PCMU; :class:`NoCommonCodec` if none."""
    for index, m in enumerate(offer.media):
        if m.media != "audio" or m.port == 0 or m.proto.upper() != "RTP/AVP":
            continue
        payloads = [int(f) for f in m.formats if f.isdigit()]
        if PCMU in payloads and m.encoding(PCMU) == "pcmu/8000":
            dtmf = next((p for p in payloads if (m.encoding(p) or "").startswith(
                "telephone-event/8000")), None)
            if (m.address or offer.address) is None:
                raise SdpError("no connection address for the audio stream")
            return Selection(index, dtmf)
    raise NoCommonCodec("no PCMU/8000 audio stream offered")


def answer(offer: SdpOffer, *, local_address: str, local_port: int, session_id: int) -> SdpAnswer:
    """Our answer: the selected stream with PCMU (+ telephone-event), the rest rejected."""
    selection = select(offer)
    chosen, dtmf = selection.index, selection.dtmf_payload
    stream = offer.media[chosen]
    remote = stream.address or offer.address
    assert remote is not None  # select() checked
    family = "IP6" if ":" in local_address else "IP4"
    lines = ["v=0", f"o=frontdesk {session_id} 1 IN {family} {local_address}", "s=frontdesk",
             f"c=IN {family} {local_address}", "t=0 0"]
    for index, m in enumerate(offer.media):
        if index != chosen:
            lines.append(f"m={m.media} 0 {m.proto} {m.formats[0]}")
            continue
        formats = f"{PCMU}" if dtmf is None else f"{PCMU} {dtmf}"
        lines += [f"m=audio {local_port} RTP/AVP {formats}", f"a=rtpmap:{PCMU} PCMU/8000"]
        if dtmf is not None:
            lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-15"]
        lines += ["a=ptime:20", f"a={_ANSWER_DIRECTION[m.direction]}"]
    body = ("\r\n".join(lines) + "\r\n").encode()
    return SdpAnswer(remote, stream.port, dtmf, body)
