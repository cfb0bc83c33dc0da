"""frontdesk served on loopback behind an emulated carrier: for tests, bench and the CLI.

The server is a real uvicorn on 127.0.0.1 (the listening socket is bound first, so the
URL is known before the server runs and early connects wait in the backlog). Its carrier
settings point the REST actions at a local fake API (``carrier_api``) that answers in the
carriers' formats, with freshly minted credentials: a Twilio auth token for the HMAC
signatures and an Ed25519 key pair for Telnyx.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from frontdesk.client.carrier import Dial, TelnyxEmulator, TwilioEmulator
from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer
from frontdesk.client.loopback import serve_loopback
from frontdesk.runtime import Runtime
from frontdesk.server.app import WS_MAX_MESSAGE_BYTES, create_app
from frontdesk.telephony.config import CarrierSettings, TelnyxSettings
from frontdesk.telephony.edge import CarrierEdge
from frontdesk.telephony.telnyx.rest import TelnyxConfig
from frontdesk.telephony.telnyx.signature import public_key_b64
from frontdesk.telephony.twilio.rest import TwilioConfig


@contextlib.asynccontextmanager
async def serve(make_app: Callable[[str], FastAPI]) -> AsyncIterator[str]:
    """Run the app ``make_app(base_url)`` returns on a loopback port; yields the base URL
    (``http://127.0.0.1:PORT``). The app is made after the port is known, because the
    carrier settings it holds name its own public URL."""
    async with serve_loopback(make_app, lifespan="on", ws_ping_interval=None,
                              ws_max_size=WS_MAX_MESSAGE_BYTES,
                              ws_per_message_deflate=False) as base_url:
        yield base_url


@dataclass
class CarrierHarness:
    base_url: str
    api: CarrierApi
    settings: CarrierSettings
    telnyx_key: Ed25519PrivateKey
    http: httpx.AsyncClient  # shared by the emulators' webhook requests
    edge: CarrierEdge  # the server's, to wait for a call's session to be over

    def dial(self, to_number: str, from_number: str = "+15125550123") -> Dial:
        return Dial(server_url=self.base_url, public_url=self.settings.public_url,
                    to_number=to_number, from_number=from_number)

    def twilio(self, to_number: str, from_number: str = "+15125550123", *,
               answering: str | None = None,
               dial_outcomes: Mapping[str, str] | None = None) -> TwilioEmulator:
        """A call from ``from_number`` to the business at ``to_number``; with
        ``answering``, ``from_number`` picking up the call frontdesk placed to it.
        ``dial_outcomes``: how transfer targets answer (number -> busy | no-answer |
        failed | completed; default completed)."""
        assert self.settings.twilio is not None
        return TwilioEmulator(self.dial(to_number, from_number),
                              account_sid=self.settings.twilio.account_sid,
                              auth_token=self.settings.twilio.auth_token, api=self.api,
                              http=self.http, answering=answering,
                              dial_outcomes=dial_outcomes)

    def telnyx(self, to_number: str, from_number: str = "+15125550123", *,
               swap_media: bool = False,
               dial_outcomes: Mapping[str, str] | None = None) -> TelnyxEmulator:
        """A Telnyx call from ``from_number``; ``dial_outcomes`` as for :meth:`twilio`."""
        return TelnyxEmulator(self.dial(to_number, from_number), private_key=self.telnyx_key,
                              api=self.api, swap_media=swap_media, http=self.http,
                              dial_outcomes=dial_outcomes)


@contextlib.asynccontextmanager
async def carrier_harness(runtime: Runtime) -> AsyncIterator[CarrierHarness]:
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    telnyx_key, telnyx_api_key = Ed25519PrivateKey.generate(), "KEY" + secrets.token_hex(16)
    async with CarrierApiServer(twilio_account_sid=account_sid, twilio_auth_token=auth_token,
                                telnyx_api_key=telnyx_api_key) as fake:
        made: list[CarrierEdge] = []

        def make_app(base_url: str) -> FastAPI:
            settings = CarrierSettings(
                public_url=base_url,
                twilio=TwilioConfig(account_sid=account_sid, auth_token=auth_token,
                                    api_base=fake.base_url),
                telnyx=TelnyxSettings(TelnyxConfig(api_key=telnyx_api_key, connection_id="1",
                                                   api_base=fake.base_url),
                                      public_key=public_key_b64(telnyx_key)),
            )
            made.append(CarrierEdge.build(runtime, settings))
            return create_app(runtime, made[0])

        async with serve(make_app) as base_url, httpx.AsyncClient() as http:
            yield CarrierHarness(base_url, fake.api, made[0].settings, telnyx_key, http,
                                 made[0])
