"""Carrier settings from the environment (secrets never live in profile files).

``FRONTDESK_PUBLIC_URL`` is the https URL carriers use to reach this server. Signatures
are computed by the carrier over the URL *it* requested, so behind a reverse proxy the
URL must come from here, not from the ``Host`` header the proxy forwarded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from frontdesk.telephony.telnyx.rest import TelnyxConfig
from frontdesk.telephony.twilio.rest import TwilioConfig


class CarrierConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TelnyxSettings:
    api: TelnyxConfig
    public_key: str  # base64 Ed25519 key from the Telnyx portal: webhooks are signed with it


@dataclass(frozen=True)
class CarrierSettings:
    public_url: str  # e.g. "https://desk.example.com", no trailing slash
    twilio: TwilioConfig | None = None
    telnyx: TelnyxSettings | None = None

    @property
    def public_ws_url(self) -> str:
        parts = urlsplit(self.public_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CarrierSettings | None:
        """None when no carrier is configured; a half-configured carrier is an error,
        because a route that cannot check signatures must not be served at all."""
        twilio = telnyx = None
        if env.get("TWILIO_ACCOUNT_SID") or env.get("TWILIO_AUTH_TOKEN"):
            sid, token = _require(env, "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
            twilio = TwilioConfig(account_sid=sid, auth_token=token,
                                  api_base=env.get("TWILIO_API_BASE", "https://api.twilio.com"))
        if env.get("TELNYX_API_KEY") or env.get("TELNYX_PUBLIC_KEY"):
            key, public_key, connection = _require(
                env, "TELNYX_API_KEY", "TELNYX_PUBLIC_KEY", "TELNYX_CONNECTION_ID")
            telnyx = TelnyxSettings(
                TelnyxConfig(api_key=key, connection_id=connection,
                             api_base=env.get("TELNYX_API_BASE", "https://api.telnyx.com")),
                public_key=public_key,
            )
        if twilio is None and telnyx is None:
            return None
        (public_url,) = _require(env, "FRONTDESK_PUBLIC_URL")
        if urlsplit(public_url).scheme not in ("http", "https"):
            raise CarrierConfigError("FRONTDESK_PUBLIC_URL must be an http(s) URL")
        return cls(public_url.rstrip("/"), twilio, telnyx)


def _require(env: Mapping[str, str], *names: str) -> tuple[str, ...]:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise CarrierConfigError(f"carrier configuration incomplete: set {', '.join(missing)}")
    return tuple(env[name] for name in names)
