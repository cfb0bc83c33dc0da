"""X-Twilio-Signature checks, with Twilio's own RequestValidator as the oracle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode, urlparse

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from twilio.request_validator import (  # type: ignore[import-untyped]
    RequestValidator,
    get_signature_algorithm,
)

from frontdesk.telephony.twilio.signature import (
    SignatureError,
    SignatureSettings,
    compute_signature,
    parse_signature_settings,
    public_url,
    validate_form,
    validate_json,
    validate_url,
)

TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


class _MultiDict:
    """What the oracle needs to see repeated names: iteration over names plus getall()."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __len__(self) -> int:
        return len(self._pairs)

    def getall(self, name: str) -> list[str]:
        return [value for n, value in self._pairs if n == name]


def oracle_signature(
    url: str, params: Iterable[tuple[str, str]] = (), token: str = TOKEN,
    algorithm: str | None = None,
) -> str:
    return str(RequestValidator(token).compute_signature(url, _MultiDict(params), algorithm))


def oracle_accepts(url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    return bool(RequestValidator(TOKEN).validate(url, _MultiDict(params), signature))


def accepts_form(url: str, body: bytes, signature: str | None) -> bool:
    try:
        validate_form(TOKEN, url=url, body=body, signature=signature)
    except SignatureError:
        return False
    return True


def form_reason(url: str, body: bytes, signature: str | None) -> str:
    with pytest.raises(SignatureError) as info:
        validate_form(TOKEN, url=url, body=body, signature=signature)
    assert info.value.retryable is False
    return info.value.reason


def test_classic_doc_vector() -> None:
    assert compute_signature(TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert oracle_signature(DOC_URL, DOC_PARAMS) == DOC_SIGNATURE


def test_valid_form_returns_params_in_body_order() -> None:
    body = urlencode(DOC_PARAMS).encode()
    assert validate_form(TOKEN, url=DOC_URL, body=body, signature=DOC_SIGNATURE) == DOC_PARAMS


def test_tampered_param_is_a_mismatch() -> None:
    tampered = [(n, "9999" if n == "Digits" else v) for n, v in DOC_PARAMS]
    assert form_reason(DOC_URL, urlencode(tampered).encode(), DOC_SIGNATURE) == "mismatch"
    assert not oracle_accepts(DOC_URL, tampered, DOC_SIGNATURE)


def test_added_param_is_a_mismatch() -> None:
    added = [*DOC_PARAMS, ("CallStatus", "completed")]
    assert form_reason(DOC_URL, urlencode(added).encode(), DOC_SIGNATURE) == "mismatch"
    assert not oracle_accepts(DOC_URL, added, DOC_SIGNATURE)


def test_wrong_url_is_a_mismatch() -> None:
    body = urlencode(DOC_PARAMS).encode()
    for url in (
        "https://mycompany.com/other.php?foo=1&bar=2",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php",
    ):
        assert form_reason(url, body, DOC_SIGNATURE) == "mismatch", url
        assert not oracle_accepts(url, DOC_PARAMS, DOC_SIGNATURE), url


def test_missing_header() -> None:
    body = urlencode(DOC_PARAMS).encode()
    assert form_reason(DOC_URL, body, None) == "missing"
    assert form_reason(DOC_URL, body, "") == "missing"
    with pytest.raises(SignatureError) as info:
        validate_url(TOKEN, url="wss://h.example/media", signature=None)
    assert info.value.reason == "missing"


@pytest.mark.parametrize(
    ("signed", "requested"),
    [
        ("https://h.example/voice", "https://h.example:443/voice"),
        ("https://h.example:443/voice", "https://h.example/voice"),
        ("http://h.example/voice?x=1", "http://h.example:80/voice?x=1"),
        ("http://h.example:80/voice?x=1", "http://h.example/voice?x=1"),
        # Twilio's validator drops any explicit port, so a portless signature passes too.
        ("https://h.example/voice", "https://h.example:8443/voice"),
    ],
)
def test_url_with_and_without_default_port(signed: str, requested: str) -> None:
    params = [("CallSid", "CA1")]
    signature = oracle_signature(signed, params)
    assert accepts_form(requested, b"CallSid=CA1", signature)
    assert oracle_accepts(requested, params, signature)


def test_wrong_port_is_a_mismatch() -> None:
    signature = oracle_signature("https://h.example:80/voice", [])
    assert form_reason("https://h.example/voice", b"", signature) == "mismatch"
    assert not oracle_accepts("https://h.example/voice", [], signature)


def test_blank_values_are_kept_and_signed() -> None:
    params = [("Digits", ""), ("CallSid", "CA1"), ("SpeechResult", "")]
    signature = oracle_signature(DOC_URL, params)
    body = b"Digits=&CallSid=CA1&SpeechResult="
    assert validate_form(TOKEN, url=DOC_URL, body=body, signature=signature) == params
    # Signing without the blank ones gives a different signature: they are part of it.
    assert form_reason(DOC_URL, b"CallSid=CA1", signature) == "mismatch"


def test_repeated_names_sign_each_distinct_value_sorted() -> None:
    params = [("Tag", "b"), ("Tag", "a"), ("CallSid", "CA1"), ("Tag", "b")]
    signature = oracle_signature(DOC_URL, params)
    assert compute_signature(TOKEN, DOC_URL, params) == signature
    assert compute_signature(TOKEN, DOC_URL, list(reversed(params))) == signature
    assert signature == compute_signature(TOKEN, DOC_URL + "CallSidCA1TagaTagb")
    body = b"Tag=b&Tag=a&CallSid=CA1&Tag=b"
    assert validate_form(TOKEN, url=DOC_URL, body=body, signature=signature) == params
    assert form_reason(DOC_URL, b"Tag=a&CallSid=CA1", signature) == "mismatch"


def test_unicode_values() -> None:
    params = [("Body", "Café ☕ 予約 🚗"), ("From", "+4915112345678"), ("Ünï", "+ & = %")]
    signature = oracle_signature(DOC_URL, params)
    body = urlencode(params).encode()
    assert validate_form(TOKEN, url=DOC_URL, body=body, signature=signature) == params
    assert oracle_accepts(DOC_URL, params, signature)


def test_body_that_is_not_utf8_form_data_is_malformed() -> None:
    signature = oracle_signature(DOC_URL, [])
    assert form_reason(DOC_URL, b"Body=\xff", signature) == "malformed"
    assert form_reason(DOC_URL, b"Body=%ff%fe", signature) == "malformed"
    assert form_reason(DOC_URL, b"&".join([b"a=1"] * 1001), signature) == "malformed"


def _json_request(body: bytes) -> tuple[str, str]:
    url = f"https://h.example/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return url, oracle_signature(url)


def test_json_body_valid() -> None:
    body = json.dumps({"CallSid": "CA1", "Status": "in-progress"}).encode()
    url, signature = _json_request(body)
    validate_json(TOKEN, url=url, body=body, signature=signature)
    assert RequestValidator(TOKEN).validate(url, body.decode(), signature)


def test_json_tampered_body_is_a_body_hash_error() -> None:
    body = b'{"CallSid":"CA1","Status":"in-progress"}'
    url, signature = _json_request(body)
    tampered = b'{"CallSid":"CA1","Status":"completed"}'
    with pytest.raises(SignatureError) as info:
        validate_json(TOKEN, url=url, body=tampered, signature=signature)
    assert info.value.reason == "body_hash"
    assert not RequestValidator(TOKEN).validate(url, tampered.decode(), signature)


def test_json_hash_swapped_in_url_is_a_mismatch() -> None:
    body = b'{"CallSid":"CA1"}'
    url, signature = _json_request(body)
    forged = b'{"CallSid":"CA2"}'
    forged_url = f"https://h.example/status?bodySHA256={hashlib.sha256(forged).hexdigest()}"
    with pytest.raises(SignatureError) as info:
        validate_json(TOKEN, url=forged_url, body=forged, signature=signature)
    assert info.value.reason == "mismatch"


@pytest.mark.parametrize(
    "query", ["", "?x=1", "?bodySHA256=", "?bodySHA256=ab&bodySHA256=ab"]
)
def test_json_without_exactly_one_body_hash_is_malformed(query: str) -> None:
    url = "https://h.example/status" + query
    with pytest.raises(SignatureError) as info:
        validate_json(TOKEN, url=url, body=b"{}", signature=oracle_signature(url))
    assert info.value.reason == "malformed"


def test_websocket_upgrade_signed_over_wss_url() -> None:
    url = "wss://h.example/twilio/media/acme.c1.mac"
    signature = oracle_signature(url)  # the oracle signs any URL string the same way
    validate_url(TOKEN, url=url, signature=signature)
    validate_url(TOKEN, url="wss://h.example:443/twilio/media/acme.c1.mac", signature=signature)
    with pytest.raises(SignatureError) as info:
        validate_url(TOKEN, url="https://h.example/twilio/media/acme.c1.mac", signature=signature)
    assert info.value.reason == "mismatch"


def test_wss_default_port_is_443_not_80() -> None:
    # Twilio's validator adds ":80" to every non-https scheme; wss's default is 443.
    signature = oracle_signature("wss://h.example:443/media")
    validate_url(TOKEN, url="wss://h.example/media", signature=signature)
    on_80 = oracle_signature("wss://h.example:80/media")
    with pytest.raises(SignatureError):
        validate_url(TOKEN, url="wss://h.example/media", signature=on_80)


def test_hmac_sha256_settings() -> None:
    header = "key=webhooks_sharedkey_abc,algorithm=HMAC_SHA256"
    assert parse_signature_settings(header) == SignatureSettings(
        "webhooks_sharedkey_abc", "HMAC_SHA256"
    )
    assert get_signature_algorithm(header) == "HMAC_SHA256"
    secret = "shared-secret"
    signature = oracle_signature(DOC_URL, DOC_PARAMS, token=secret, algorithm="HMAC_SHA256")
    assert compute_signature(secret, DOC_URL, DOC_PARAMS, algorithm="HMAC_SHA256") == signature
    body = urlencode(DOC_PARAMS).encode()
    validate_form(secret, url=DOC_URL, body=body, signature=signature, algorithm="HMAC_SHA256")
    with pytest.raises(SignatureError) as info:  # same secret, SHA1: must not pass
        validate_form(secret, url=DOC_URL, body=body, signature=signature)
    assert info.value.reason == "mismatch"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, SignatureSettings(None, "HMAC_SHA1")),
        ("", SignatureSettings(None, "HMAC_SHA1")),
        ("key=k1", SignatureSettings("k1", "HMAC_SHA1")),
        (" algorithm = hmac_sha256 , key = k2 ", SignatureSettings("k2", "HMAC_SHA256")),
    ],
)
def test_settings_header_defaults(header: str | None, expected: SignatureSettings) -> None:
    assert parse_signature_settings(header) == expected
    assert str(get_signature_algorithm(header)).upper() == expected.algorithm


def test_unsupported_algorithm_is_malformed() -> None:
    with pytest.raises(SignatureError) as info:
        parse_signature_settings("key=k,algorithm=HMAC_MD5")
    assert info.value.reason == "malformed"


def test_public_url_uses_configured_base_not_host() -> None:
    assert public_url("https://shop.example.com", "/twilio/voice") == (
        "https://shop.example.com/twilio/voice"
    )
    assert public_url("https://shop.example.com/", "/v", "a=1&b=%20") == (
        "https://shop.example.com/v?a=1&b=%20"
    )
    assert public_url("https://shop.example.com/desk", "/v") == "https://shop.example.com/desk/v"
    assert public_url("wss://shop.example.com", "/media/t") == "wss://shop.example.com/media/t"
    # Twilio signed the public URL; the app behind the proxy rebuilds exactly that one.
    signature = oracle_signature("https://shop.example.com/twilio/voice?tenant=acme", DOC_PARAMS)
    rebuilt = public_url("https://shop.example.com", "/twilio/voice", "tenant=acme")
    assert accepts_form(rebuilt, urlencode(DOC_PARAMS).encode(), signature)
    assert not accepts_form(
        "http://127.0.0.1:8000/twilio/voice?tenant=acme", urlencode(DOC_PARAMS).encode(), signature
    )


@pytest.mark.parametrize(
    ("base", "path"),
    [("shop.example.com", "/v"), ("ftp://h", "/v"), ("https://h?x=1", "/v"), ("https://h", "v")],
)
def test_public_url_rejects_bad_config(base: str, path: str) -> None:
    with pytest.raises(ValueError):
        public_url(base, path)


# --- properties: same answers as Twilio's validator -------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
_PARAMS = st.lists(st.tuples(_TEXT, _TEXT), max_size=6)
_PATH = st.text(st.sampled_from("abz09-._~/%:@!$&'()*+,="), max_size=12).map(lambda p: "/" + p)
_HOST = st.sampled_from(["h.example", "shop.example.com", "127.0.0.1"])


def _url(scheme: str, host: str, port: int | None, path: str, query: list[tuple[str, str]]) -> str:
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    if query:
        url += "?" + urlencode(query)
    assert urlparse(url).geturl() == url  # inside the domain where the oracle keeps URLs as-is
    return url


@given(
    scheme=st.sampled_from(["http", "https", "wss"]),
    host=_HOST,
    port=st.sampled_from([None, 80, 443, 8443]),
    path=_PATH,
    query=_PARAMS,
    params=_PARAMS,
    token=_TEXT,
)
def test_compute_signature_matches_oracle(
    scheme: str, host: str, port: int | None, path: str, query: list[tuple[str, str]],
    params: list[tuple[str, str]], token: str,
) -> None:
    url = _url(scheme, host, port, path, query)
    assert compute_signature(token, url, params) == oracle_signature(url, params, token=token)
    assert compute_signature(token, url, params, algorithm="HMAC_SHA256") == oracle_signature(
        url, params, token=token, algorithm="HMAC_SHA256"
    )


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=_HOST,
    signed_port=st.sampled_from([None, 80, 443, 8443]),
    request_port=st.sampled_from([None, 80, 443, 8443]),
    signed_path=_PATH,
    request_path=_PATH,
    same_path=st.booleans(),
    query=_PARAMS,
    signed_params=_PARAMS,
    sent_params=_PARAMS,
    same_params=st.booleans(),
    garbage=st.none() | st.text(max_size=30),
)
def test_validate_form_accepts_exactly_what_oracle_accepts(
    scheme: str, host: str, signed_port: int | None, request_port: int | None,
    signed_path: str, request_path: str, same_path: bool, query: list[tuple[str, str]],
    signed_params: list[tuple[str, str]], sent_params: list[tuple[str, str]],
    same_params: bool, garbage: str | None,
) -> None:
    signed_url = _url(scheme, host, signed_port, signed_path, query)
    url = _url(scheme, host, request_port, signed_path if same_path else request_path, query)
    sent = signed_params if same_params else sent_params
    signature = garbage if garbage is not None else oracle_signature(signed_url, signed_params)
    ours = accepts_form(url, urlencode(sent).encode(), signature)
    event(f"accepted={ours}")  # both outcomes must be well represented
    assert ours == oracle_accepts(url, sent, signature or "")
