"""What frontdesk asks of a carrier mid-call, independent of which carrier it is.

Transfer, hang up, text, dial out: four actions every carrier REST API offers. The call
engine and the action executor code against :class:`CarrierActions`; the Twilio and
Telnyx modules implement it over HTTP.

Every failure is a :class:`CarrierActionError` that says two things the executor needs:
``retryable`` (try again later: rate limits, carrier outages, timeouts, a dead socket) and
``maybe_applied`` (the request may have reached the carrier and taken effect, so the
outcome is *unknown* rather than *failed*: the never-lie ledger must not say "done" or
"not done" until it knows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class CarrierActionError(Exception):
    """A carrier action that did not (knowingly) succeed.

    ``status`` is the HTTP status when the carrier answered, ``code`` the carrier's own
    error code as text (Twilio's ``20404``, Telnyx's ``"10005"``), ``None`` for transport
    failures. A 4xx is our fault (bad number, unknown call, wrong credentials): retrying
    the same request cannot help. 408, 429 and 5xx are the carrier's, timeouts and broken
    connections the network's: retrying later may succeed.
    """

    def __init__(
        self,
        *,
        carrier: str,
        action: str,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        maybe_applied: bool = False,
        message: str = "",
    ) -> None:
        self.carrier = carrier
        self.action = action
        self.status = status
        self.code = code
        self.retryable = retryable
        self.maybe_applied = maybe_applied
        self.message = message
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{carrier} {action} failed ({where}, code {code}): {message}")


@dataclass(frozen=True)
class SmsSent:
    carrier_message_id: str
    status: str


@dataclass(frozen=True)
class CallPlaced:
    carrier_call_id: str
    status: str


class CarrierActions(Protocol):
    """The carrier's REST side of a call. Each method is one HTTP request, no retries:
    retry policy (deadlines, idempotency, circuit breaking) belongs to the executor."""

    carrier: str  # "twilio" | "telnyx"

    async def transfer(
        self, carrier_call_id: str, number: str, *, caller_id: str | None = None
    ) -> None: ...

    async def hangup(self, carrier_call_id: str) -> None: ...

    async def send_sms(self, *, from_number: str, to_number: str, text: str) -> SmsSent: ...

    async def place_call(
        self,
        *,
        from_number: str,
        to_number: str,
        webhook_url: str,
        status_callback_url: str | None = None,
    ) -> CallPlaced: ...

    async def aclose(self) -> None: ...


def retryable_status(status: int) -> bool:
    """408 timeout, 429 rate limit and 5xx outages pass; other 4xx are the request's fault."""
    return status in (408, 429) or status >= 500


def maybe_applied_status(status: int) -> bool:
    """A 5xx may come from a proxy after the carrier acted; a 4xx was refused outright."""
    return status >= 500


ErrorParser = Callable[[httpx.Response], tuple[str | None, str]]


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    carrier: str,
    action: str,
    parse_error: ErrorParser,
    **kwargs: Any,
) -> httpx.Response:
    """POST and turn every failure into a :class:`CarrierActionError`.

    A connect failure (refused, connect timeout, no pool slot) means the request never
    left: retryable and certainly not applied. A failure after sending (read timeout, reset)
    leaves the outcome unknown.
    """
    try:
        response = await client.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise CarrierActionError(
            carrier=carrier, action=action, retryable=True, maybe_applied=False,
            message=f"{type(exc).__name__}: {exc}",
        ) from exc
    except httpx.TransportError as exc:  # read/write timeouts, resets, protocol errors
        raise CarrierActionError(
            carrier=carrier, action=action, retryable=True, maybe_applied=True,
            message=f"{type(exc).__name__}: {exc}",
        ) from exc
    if response.is_success:
        return response
    code, message = parse_error(response)
    raise CarrierActionError(
        carrier=carrier,
        action=action,
        status=response.status_code,
        code=code,
        retryable=retryable_status(response.status_code),
        maybe_applied=maybe_applied_status(response.status_code),
        message=message,
    )


def json_object(response: httpx.Response, *, carrier: str, action: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer. A 2xx we cannot read means the carrier acted but we
    do not know the result: not retryable (it would act twice), outcome unknown."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CarrierActionError(
            carrier=carrier, action=action, status=response.status_code, code="bad_response",
            retryable=False, maybe_applied=True,
            message=f"expected a JSON object, got {response.text[:200]!r}",
        )
    return data


def required_str(data: dict[str, Any], key: str, *, carrier: str, action: str) -> str:
    """A required string field of a 2xx answer (same fault rules as :func:`json_object`)."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise CarrierActionError(
            carrier=carrier, action=action, code="bad_response", retryable=False,
            maybe_applied=True, message=f"answer has no {key!r}: {data!r}"[:300],
        )
    return value
