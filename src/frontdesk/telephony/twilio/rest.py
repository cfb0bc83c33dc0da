"""Twilio's REST API (2010-04-01) for the four carrier actions, over httpx.

No ``twilio`` import: the helper library is synchronous by default and pulls in a large
dependency tree for four form POSTs. Requests are form-encoded, authenticated with HTTP
Basic (Account SID : Auth Token), and answered with the Call or Message resource as JSON.
Errors come back as ``{"code": 20404, "message": ..., "more_info": ..., "status": 404}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from frontdesk.telephony.actions import (
    CallPlaced,
    CarrierActionError,
    CarrierActions,
    SmsSent,
    json_object,
    post,
    required_str,
)
from frontdesk.telephony.twilio.twiml import DialCallbacks
from frontdesk.telephony.twilio.twiml import dial as dial_twiml

CARRIER = "twilio"
CALL_NOT_IN_PROGRESS = "21220"  # an update on a call that has already ended
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    api_base: str = "https://api.twilio.com"
    timeout_s: float = 5.0


def parse_error(response: httpx.Response) -> tuple[str | None, str]:
    """Twilio's error body, or the raw text when a proxy answered instead of Twilio."""
    try:
        data = response.json()
    except ValueError:
        return None, response.text[:200]
    if not isinstance(data, dict):
        return None, response.text[:200]
    code = data.get("code")
    return (str(code) if code is not None else None), str(data.get("message", ""))


class TwilioActions(CarrierActions):
    carrier = CARRIER

    def __init__(self, config: TwilioConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._auth = httpx.BasicAuth(config.account_sid, config.auth_token)
        base = config.api_base.rstrip("/")
        self._account_url = f"{base}/2010-04-01/Accounts/{config.account_sid}"

    async def transfer(
        self, carrier_call_id: str, number: str, *, caller_id: str | None = None,
        callbacks: DialCallbacks | None = None,
    ) -> None:
        """Redirect the live call to a ``<Dial>``; this also ends its media stream. With
        ``callbacks``, Twilio reports the dial's outcome (and fetches the whisper)."""
        twiml = dial_twiml(number, caller_id=caller_id, callbacks=callbacks)
        await self._update_call("transfer", carrier_call_id, {"Twiml": twiml})

    async def hangup(self, carrier_call_id: str) -> None:
        """End the call. A call that already ended counts as hung up: the goal is met."""
        try:
            await self._update_call("hangup", carrier_call_id, {"Status": "completed"})
        except CarrierActionError as exc:
            if exc.code != CALL_NOT_IN_PROGRESS:
                raise

    async def send_sms(self, *, from_number: str, to_number: str, text: str) -> SmsSent:
        data = await self._post(
            "send_sms", "/Messages.json", {"To": to_number, "From": from_number, "Body": text}
        )
        return SmsSent(
            carrier_message_id=required_str(data, "sid", carrier=CARRIER, action="send_sms"),
            status=required_str(data, "status", carrier=CARRIER, action="send_sms"),
        )

    async def place_call(
        self,
        *,
        from_number: str,
        to_number: str,
        webhook_url: str,
        status_callback_url: str | None = None,
    ) -> CallPlaced:
        form: dict[str, str | list[str]] = {
            "To": to_number, "From": from_number, "Url": webhook_url, "Method": "POST",
        }
        if status_callback_url is not None:
            form["StatusCallback"] = status_callback_url
            form["StatusCallbackMethod"] = "POST"
            # repeated parameter, one event each, as Twilio's own helper libraries send it
            form["StatusCallbackEvent"] = list(STATUS_CALLBACK_EVENTS)
        data = await self._post("place_call", "/Calls.json", form)
        return CallPlaced(
            carrier_call_id=required_str(data, "sid", carrier=CARRIER, action="place_call"),
            status=required_str(data, "status", carrier=CARRIER, action="place_call"),
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _update_call(
        self, action: str, carrier_call_id: str, form: dict[str, str]
    ) -> dict[str, Any]:
        path = f"/Calls/{quote(carrier_call_id, safe='')}.json"
        return await self._post(action, path, dict(form))

    async def _post(
        self, action: str, path: str, form: dict[str, str | list[str]]
    ) -> dict[str, Any]:
        response = await post(
            self._client,
            self._account_url + path,
            carrier=CARRIER,
            action=action,
            parse_error=parse_error,
            data=form,
            auth=self._auth,
            timeout=self.config.timeout_s,
            headers={"Accept": "application/json"},
        )
        return json_object(response, carrier=CARRIER, action=action)
