"""Carrier settings come from the environment; half a configuration is an error."""

from __future__ import annotations

import pytest

from frontdesk.telephony.config import CarrierConfigError, CarrierSettings


def test_no_carrier_variables_means_no_carrier_routes() -> None:
    assert CarrierSettings.from_env({"PATH": "/bin"}) is None


def test_twilio_needs_its_token_and_the_public_url() -> None:
    with pytest.raises(CarrierConfigError, match="TWILIO_AUTH_TOKEN"):
        CarrierSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1"})
    with pytest.raises(CarrierConfigError, match="FRONTDESK_PUBLIC_URL"):
        CarrierSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"})
    with pytest.raises(CarrierConfigError, match="http"):
        CarrierSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
                                  "FRONTDESK_PUBLIC_URL": "desk.example.com"})
    settings = CarrierSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
                                         "FRONTDESK_PUBLIC_URL": "https://desk.example.com/fd/"})
    assert settings is not None and settings.twilio is not None and settings.telnyx is None
    assert settings.public_url == "https://desk.example.com/fd"
    assert settings.public_ws_url == "wss://desk.example.com/fd"
    assert settings.twilio.api_base == "https://api.twilio.com"


def test_telnyx_needs_key_public_key_and_connection() -> None:
    env = {"TELNYX_API_KEY": "KEY", "TELNYX_PUBLIC_KEY": "pk",
           "FRONTDESK_PUBLIC_URL": "http://127.0.0.1:8080"}
    with pytest.raises(CarrierConfigError, match="TELNYX_CONNECTION_ID"):
        CarrierSettings.from_env(env)
    settings = CarrierSettings.from_env({**env, "TELNYX_CONNECTION_ID": "77"})
    assert settings is not None and settings.telnyx is not None
    assert settings.telnyx.api.connection_id == "77" and settings.public_ws_url.startswith("ws:")
