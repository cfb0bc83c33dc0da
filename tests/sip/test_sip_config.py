"""The SIP listener's configuration and how it reads numbers from an INVITE (pure)."""

from __future__ import annotations

import pytest

from frontdesk.telephony.sip.server import (
    SipConfig,
    SipConfigError,
    caller_number,
    dialled_numbers,
)


@pytest.mark.parametrize(("listen", "host", "port"), [
    ("0.0.0.0:5060", "0.0.0.0", 5060),
    ("127.0.0.1:0", "127.0.0.1", 0),
    ("[::1]:5070", "::1", 5070),
    ("sip.example.com:5080", "sip.example.com", 5080),
])
def test_listen_addresses(listen: str, host: str, port: int) -> None:
    config = SipConfig.from_listen(listen)
    assert (config.host, config.port, config.media_timeout_s) == (host, port, None)


@pytest.mark.parametrize("listen", ["5060", ":5060", "host:", "host:x", "host:70000"])
def test_bad_listen_addresses(listen: str) -> None:
    with pytest.raises(SipConfigError):
        SipConfig.from_listen(listen)


def test_dialled_number_from_the_request_uri_then_to() -> None:
    assert dialled_numbers("sip:+15125550100@10.0.0.1:5060;user=phone",
                           "<sip:other@10.0.0.1>") == ["+15125550100", "other"]
    # trunks often drop the plus: both forms are tried, in that order
    assert dialled_numbers("sip:15125550100@10.0.0.1", "<sip:15125550100@10.0.0.1>;tag=x") == [
        "15125550100", "+15125550100"]
    assert dialled_numbers("tel:+15125550100", "<sip:+15125550100@h>") == ["+15125550100"]
    assert dialled_numbers("sip:h", "<sip:h") == []


def test_caller_number_from_the_from_header() -> None:
    assert caller_number('"Ann" <sip:+15125551234@10.0.0.9>;tag=abc') == "+15125551234"
    assert caller_number("<sip:10.0.0.9>;tag=abc") == "anonymous"
    assert caller_number("<tel:+15125551234;cpc=ordinary>") == "+15125551234"
    assert caller_number("<sip:+1512@h") == "anonymous"
