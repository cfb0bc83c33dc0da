"""X-Twilio-Signature: is this webhook really from Twilio?

Twilio signs each request with an HMAC keyed by the account Auth Token (or, when the
``X-Twilio-Webhooks-Signature-Settings`` header names a SharedKey, by that key's secret)
over the exact URL it requested followed by the form parameters, sorted by name, each as
``name + value``. JSON bodies are not parameters: Twilio puts ``bodySHA256=<hex>`` in the
URL query and signs the URL alone, so the body is bound through its hash.

Pure functions over bytes and strings (no request objects, no clock) so the FastAPI route
stays thin and the algorithm is checked against Twilio's own ``RequestValidator`` in tests.
Where we differ from that validator on purpose:

* ``wss``/``ws`` URLs get their own default port (443/80); the validator adds ``:80`` to
  every non-https scheme, which is wrong for the Media Streams upgrade.
* The URL is used exactly as given; the validator re-serialises it with ``urlparse``, which
  silently drops an empty ``?`` or ``;`` that Twilio did sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

Algorithm = Literal["HMAC_SHA1", "HMAC_SHA256"]
Reason = Literal["missing", "mismatch", "body_hash", "malformed"]

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"

_DIGESTS: dict[Algorithm, str] = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
_DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}
# Twilio sends a few dozen parameters; a body with thousands is not Twilio and parsing it
# would only cost us CPU before the signature check rejects it anyway.
_MAX_FIELDS = 1000


class SignatureError(Exception):
    """The request is not provably from Twilio: the requester's fault, never worth retrying.

    ``reason`` is one of ``missing`` (no signature header), ``mismatch`` (HMAC differs),
    ``body_hash`` (URL signed fine but the body is not the one hashed into it) and
    ``malformed`` (the body, query or settings header cannot be interpreted).
    """

    retryable = False

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason


@dataclass(frozen=True)
class SignatureSettings:
    """The parsed settings header: which secret signed the request, and with which HMAC."""

    key_id: str | None
    algorithm: Algorithm


def parse_signature_settings(header: str | None) -> SignatureSettings:
    """Read ``key=<id>,algorithm=<name>``; an absent header means Auth Token + HMAC-SHA1.

    The caller picks the secret: the Auth Token when ``key_id`` is None, else the SharedKey
    secret with that id (an unknown id is the requester's fault as well).
    """
    fields: dict[str, str] = {}
    for part in (header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and value.strip():
            fields.setdefault(name.strip().lower(), value.strip())
    algorithm = fields.get("algorithm", "HMAC_SHA1").upper()
    if algorithm == "HMAC_SHA1":
        return SignatureSettings(fields.get("key"), "HMAC_SHA1")
    if algorithm == "HMAC_SHA256":
        return SignatureSettings(fields.get("key"), "HMAC_SHA256")
    raise SignatureError("malformed", f"unsupported signature algorithm {algorithm!r}")


def compute_signature(
    auth_token: str,
    url: str,
    params: Sequence[tuple[str, str]] = (),
    *,
    algorithm: Algorithm = "HMAC_SHA1",
) -> str:
    """The header value Twilio would send for ``url`` and form ``params``.

    A repeated name contributes each of its distinct values in sorted order, and a repeated
    identical pair counts once: that is what Twilio's validator signs, so we follow it.
    """
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    message = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    mac = hmac.new(auth_token.encode(), message.encode(), _DIGESTS[algorithm])
    return base64.b64encode(mac.digest()).decode("ascii")


def validate_form(
    auth_token: str,
    *,
    url: str,
    body: bytes,
    signature: str | None,
    algorithm: Algorithm = "HMAC_SHA1",
) -> list[tuple[str, str]]:
    """Check an ``application/x-www-form-urlencoded`` POST and return its parameters.

    The raw body is parsed here, keeping blank values, because a framework's form parser
    may drop or trim them and the signature covers them.
    """
    signature = _require(signature)
    try:
        params = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise SignatureError("malformed", f"form body: {exc}") from exc
    _check(auth_token, url, params, signature, algorithm)
    return params


def validate_json(
    auth_token: str,
    *,
    url: str,
    body: bytes,
    signature: str | None,
    algorithm: Algorithm = "HMAC_SHA1",
) -> None:
    """Check a JSON (or other non-form) POST: the HMAC over the URL, then the body hash."""
    signature = _require(signature)
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    hashes = [value for name, value in query if name == "bodySHA256"]
    if len(hashes) != 1 or not hashes[0]:
        raise SignatureError("malformed", "URL must carry exactly one bodySHA256")
    _check(auth_token, url, (), signature, algorithm)
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), _bytes(hashes[0])):
        raise SignatureError("body_hash", "body does not match bodySHA256")


def validate_url(
    auth_token: str,
    *,
    url: str,
    signature: str | None,
    algorithm: Algorithm = "HMAC_SHA1",
) -> None:
    """Check a request signed over its URL alone (the Media Streams WebSocket upgrade)."""
    signature = _require(signature)
    _check(auth_token, url, (), signature, algorithm)


def public_url(base_url: str, path: str, query: str = "") -> str:
    """The URL Twilio requested, rebuilt from configuration rather than the Host header.

    Behind a proxy the Host header and scheme are the proxy's, but Twilio signed the public
    URL it was given. ``base_url`` carries the scheme Twilio used (``wss://`` for the media
    WebSocket) and may end in a path prefix; ``query`` is the raw, still-encoded query
    string, because re-encoding it could change the bytes that were signed.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"public base URL must be http(s)/ws(s)://host[/prefix]: {base_url!r}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    url = base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def _require(signature: str | None) -> str:
    if not signature:
        raise SignatureError("missing", f"no {SIGNATURE_HEADER} header")
    return signature


def _check(
    token: str,
    url: str,
    params: Sequence[tuple[str, str]],
    signature: str,
    algorithm: Algorithm,
) -> None:
    # Every candidate is compared (no short-circuit) so timing says nothing about which.
    given = _bytes(signature)
    matches = [
        hmac.compare_digest(_bytes(compute_signature(token, u, params, algorithm=algorithm)), given)
        for u in _url_variants(url)
    ]
    if not any(matches):
        raise SignatureError("mismatch", f"signature does not match {url!r}")


def _url_variants(url: str) -> tuple[str, str]:
    """``url`` and its port-toggled twin: Twilio is inconsistent about writing ``:443``.

    With a port (any port, as Twilio's validator does) the twin has none; without one, the
    twin gets the scheme's default. Only the authority is touched: the rest of the string
    stays byte-for-byte as signed.
    """
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    start = len(parts.scheme) + 3
    if default is None or url[start:start + len(parts.netloc)] != parts.netloc:
        raise ValueError(f"not an absolute http(s)/ws(s) URL: {url!r}")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if colon and "]" not in port:  # a port (a colon inside "[v6]" is not one)
        twin = host
    else:
        twin = f"{hostport}:{default}"
    rest = url[start + len(parts.netloc):]
    return url, f"{url[:start]}{userinfo}{at}{twin}{rest}"


def _bytes(text: str) -> bytes:
    # Header values are str; surrogatepass keeps odd input comparable instead of raising.
    return text.encode("utf-8", "surrogatepass")
