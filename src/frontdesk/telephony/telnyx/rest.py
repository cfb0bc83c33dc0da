"""Telnyx's v2 Call Control and Messaging REST API for the carrier actions, over httpx.

JSON in and out, ``Authorization: Bearer <API key>``. Call commands answer
``{"data": {"result": "ok"}}``; errors are ``{"errors": [{"code": "10005", "title": ...,
"detail": ...}]}`` (the code is a string).

Every call command carries a ``command_id``. Telnyx ignores a second command with the same
``command_id`` on the same call, so a command whose answer was lost (read timeout, reset
connection: the error says ``maybe_applied``) can be sent again without transferring or
dialling twice. The default is a fresh uuid4 per method call, which protects nothing
across retries; an executor that retries passes its own id, derived from the idempotency
key of the commitment, and reuses it on every attempt.
"""

from __future__ import annotations

import base64
import uuid
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
from frontdesk.telephony.telnyx.transfer import transfer_body

CARRIER = "telnyx"
CALL_ALREADY_ENDED = "90018"


@dataclass(frozen=True)
class TelnyxConfig:
    api_key: str
    connection_id: str
    api_base: str = "https://api.telnyx.com"
    timeout_s: float = 5.0


def parse_error(response: httpx.Response) -> tuple[str | None, str]:
    """The first entry of Telnyx's ``errors`` list, or the raw text from a proxy."""
    try:
        data = response.json()
    except ValueError:
        return None, response.text[:200]
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, response.text[:200]
    first = errors[0]
    code = first.get("code")
    detail = first.get("detail") or first.get("title") or ""
    return (str(code) if code is not None else None), str(detail)


class TelnyxActions(CarrierActions):
    carrier = CARRIER

    def __init__(self, config: TelnyxConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._base = config.api_base.rstrip("/") + "/v2"
        self._headers = {
            "Authorization": f"Bearer {config.api_key}",
            "Accept": "application/json",
        }

    async def answer(
        self,
        call_control_id: str,
        *,
        stream_url: str,
        client_state: str | None = None,
        command_id: str | None = None,
    ) -> None:
        """Answer and start a bidirectional PCMU media stream to ``stream_url``.

        ``client_state`` is plain text; Telnyx requires base64, so it is encoded here and
        comes back (still base64) on every webhook of the call.
        """
        body = _stream_body(stream_url)
        if client_state is not None:
            body["client_state"] = base64.b64encode(client_state.encode()).decode("ascii")
        await self._command("answer", call_control_id, body, command_id)

    async def start_stream(
        self, call_control_id: str, *, stream_url: str, command_id: str | None = None
    ) -> None:
        """Stream an already answered call (our outbound call, once the callee picked up)."""
        await self._command("streaming_start", call_control_id, _stream_body(stream_url),
                            command_id)

    async def transfer(
        self,
        carrier_call_id: str,
        number: str,
        *,
        caller_id: str | None = None,
        timeout_s: int | None = None,
        client_state: str | None = None,
        command_id: str | None = None,
    ) -> None:
        """Ring ``number`` on a new leg for ``timeout_s`` (Telnyx's default: 30 s) and
        bridge the caller to it. ``client_state`` (plain text) comes back on the new leg's
        webhooks, which is how its outcome is tied back to the call (see ``transfer.py``)."""
        body = transfer_body(number, caller_id=caller_id, timeout_s=timeout_s,
                             client_state=client_state)
        await self._command("transfer", carrier_call_id, body, command_id)

    async def hangup(self, carrier_call_id: str, *, command_id: str | None = None) -> None:
        """End the call. A call that already ended counts as hung up: the goal is met."""
        try:
            await self._command("hangup", carrier_call_id, {}, command_id)
        except CarrierActionError as exc:
            if exc.code != CALL_ALREADY_ENDED:
                raise

    async def send_sms(self, *, from_number: str, to_number: str, text: str) -> SmsSent:
        body = {"from": from_number, "to": to_number, "text": text}
        data = await self._post("send_sms", "/messages", body)
        message_id = required_str(data, "id", carrier=CARRIER, action="send_sms")
        recipients = data.get("to")
        status = "queued"  # what Telnyx reports for a message it accepted
        if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict):
            status = str(recipients[0].get("status") or status)
        return SmsSent(carrier_message_id=message_id, status=status)

    async def place_call(
        self,
        *,
        from_number: str,
        to_number: str,
        webhook_url: str,
        status_callback_url: str | None = None,
        command_id: str | None = None,
    ) -> CallPlaced:
        """Dial out. Telnyx sends every event of the call (initiated, answered, hangup) to
        ``webhook_url``; it has no separate status callback, so ``status_callback_url`` is
        not sent. The answer only says whether the leg is alive yet; it is reported in
        Twilio's words ("queued" until answered) so callers see one vocabulary."""
        body = {
            "connection_id": self.config.connection_id,
            "to": to_number,
            "from": from_number,
            "webhook_url": webhook_url,
            "command_id": command_id or str(uuid.uuid4()),
        }
        data = await self._post("place_call", "/calls", body)
        call_id = required_str(data, "call_control_id", carrier=CARRIER, action="place_call")
        status = "in-progress" if data.get("is_alive") is True else "queued"
        return CallPlaced(carrier_call_id=call_id, status=status)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _command(
        self, action: str, call_control_id: str, body: dict[str, Any], command_id: str | None
    ) -> None:
        body = {**body, "command_id": command_id or str(uuid.uuid4())}
        path = f"/calls/{quote(call_control_id, safe=':')}/actions/{action}"
        data = await self._post(action, path, body)
        result = data.get("result")
        if result != "ok":
            raise CarrierActionError(
                carrier=CARRIER, action=action, code="bad_response", retryable=False,
                maybe_applied=True, message=f"command answered {data!r}"[:300],
            )

    async def _post(self, action: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await post(
            self._client,
            self._base + path,
            carrier=CARRIER,
            action=action,
            parse_error=parse_error,
            json=body,
            headers=self._headers,
            timeout=self.config.timeout_s,
        )
        envelope = json_object(response, carrier=CARRIER, action=action)
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise CarrierActionError(
                carrier=CARRIER, action=action, status=response.status_code,
                code="bad_response", retryable=False, maybe_applied=True,
                message=f"answer has no 'data' object: {envelope!r}"[:300],
            )
        return data


def _stream_body(stream_url: str) -> dict[str, Any]:
    """A bidirectional PCMU stream: PCMU both ways, whatever codec the call itself uses."""
    return {
        "stream_url": stream_url,
        "stream_track": "inbound_track",
        "stream_bidirectional_mode": "rtp",
        "stream_codec": "PCMU",
        "stream_bidirectional_codec": "PCMU",
    }
