"""Reading and writing the structured SIP header values a UAS needs.

Name-addr values (From, To, Contact, Refer-To: ``"Bob" <sip:bob@host;transport=udp>;tag=x``
or the bare ``sip:bob@host;tag=x``), SIP URIs, Via's sent-by and branch, and the response
a request gets (RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied, a To tag added).
"""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.telephony.sip.message import Headers, SipParseError, SipRequest, SipResponse

__all__ = ["SipUri", "addr_uri", "addr_params", "response", "with_tag"]

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY"
_COPIED = ("Via", "From", "To", "Call-ID", "CSeq")


def _split_addr(value: str) -> tuple[str, str]:
    """(URI, the header parameters after it)."""
    open_ = value.find("<")
    if open_ >= 0:
        close = value.find(">", open_)
        if close < 0:
            raise SipParseError(f"unclosed '<' in {value[:60]!r}")
        return value[open_ + 1 : close].strip(), value[close + 1 :]
    uri, _, params = value.strip().partition(";")
    return uri, ";" + params if params else ""


def addr_uri(value: str) -> str:
    return _split_addr(value)[0]


def addr_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in _split_addr(value)[1].split(";"):
        name, _, param = item.strip().partition("=")
        if name:
            params[name.lower()] = param.strip()
    return params


def tag_of(value: str) -> str | None:
    return addr_params(value).get("tag")


def with_tag(value: str, tag: str) -> str:
    return value if tag_of(value) is not None else f"{value};tag={tag}"


@dataclass(frozen=True)
class SipUri:
    scheme: str
    user: str
    host: str
    port: int | None

    @classmethod
    def parse(cls, uri: str) -> SipUri:
        scheme, colon, rest = uri.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise SipParseError(f"not a SIP URI: {uri[:60]!r}")
        rest = rest.split("?", 1)[0]
        userinfo, at, hostport = rest.rpartition("@")
        if not at:
            hostport = rest
        user = userinfo.split(":", 1)[0].split(";", 1)[0]
        hostport = hostport.split(";", 1)[0]
        host, port = _host_port(hostport)
        return cls(scheme.lower(), user, host, port)

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}:{user}{host}{port}"


def _host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise SipParseError(f"no host in {text[:60]!r}")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise SipParseError(f"bad port in {text[:60]!r}")
    return host, int(port_text) if port_text else None


def via_branch(via: str) -> str | None:
    """The branch parameter of one Via value (the transaction's id, RFC 3261 §17.2.3)."""
    for item in via.split(";")[1:]:
        name, _, value = item.strip().partition("=")
        if name.lower() == "branch":
            return value
    return None


def top_via_branch(request: SipRequest) -> str:
    via = request.need("Via").split(",", 1)[0]
    return via_branch(via) or ""


def can_answer(headers: Headers) -> bool:
    """Whether a response can be built from these (possibly partial) request headers."""
    names = {n.lower() for n, _ in headers}
    cseq = next((v for n, v in headers if n == "CSeq"), "").split()
    return (all(n.lower() in names for n in _COPIED)
            and len(cseq) == 2 and cseq[0].isdigit())


def response(
    request: SipRequest | Headers,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: Headers = (),
    body: bytes = b"",
) -> SipResponse:
    """The response to ``request`` (or to the headers read from a malformed one)."""
    headers = request.headers if isinstance(request, SipRequest) else request
    copied: list[tuple[str, str]] = []
    for name, value in headers:
        if name in _COPIED or name == "Record-Route" and 100 < status < 300:
            if name == "To" and to_tag is not None and status > 100:
                value = with_tag(value, to_tag)
            copied.append((name, value))
    return SipResponse((*copied, *extra), body, status=status, reason=reason)
