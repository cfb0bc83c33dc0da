"""One stored call as JSON: the row, its turns and its event log, with the escalation
audit (every decision and near miss: rule, evidence, confidence, outcome) pulled out.

Served at ``GET /api/calls/{id}`` to a bearer of ``$FRONTDESK_API_TOKEN`` (transcripts
are personal data: without a configured token the API answers 503, never openly), and
printed by ``frontdesk calls show ID``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import os
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Header, HTTPException

from frontdesk.profile import ProfileRegistry
from frontdesk.store import BusinessStore, Store

__all__ = ["call_view", "calls_router", "find_call"]

ESCALATION_KINDS = ("escalation.decision", "escalation.near_miss", "escalation.outcome")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def call_view(business: BusinessStore, call_id: str) -> dict[str, Any] | None:
    record = business.get_call(call_id)
    if record is None:
        return None
    events = business.list_call_events(call_id)
    return {
        "call": _plain(dataclasses.asdict(record)),
        "turns": [{"index": t.index, "caller": t.caller_text, "agent": t.agent_text_played,
                   "interrupted": t.interrupted, "latency_ms": t.latency_ms}
                  for t in business.list_turns(call_id)],
        "escalations": [{"kind": e.kind, "at": e.at.isoformat(), **_plain(e.data)}
                        for e in events if e.kind in ESCALATION_KINDS],
        "review": any(e.kind == "escalation.decision" and e.data.get("review")
                      for e in events),
        "events": [{"seq": e.seq, "kind": e.kind, "at": e.at.isoformat(),
                    "data": _plain(e.data)} for e in events],
    }


def find_call(store: Store, registry: ProfileRegistry,
              call_id: str) -> tuple[BusinessStore, dict[str, Any]] | None:
    for business_id in registry.ids:
        business = store.for_business(business_id)
        view = call_view(business, call_id)
        if view is not None:
            return business, view
    return None


def calls_router(store: Store, registry: ProfileRegistry) -> APIRouter:
    router = APIRouter()

    @router.get("/api/calls/{call_id}")
    async def get_call(call_id: str,
                       authorization: str | None = Header(default=None)) -> dict[str, Any]:
        token = os.environ.get("FRONTDESK_API_TOKEN", "")
        if not token:
            raise HTTPException(503, "the API is off: set FRONTDESK_API_TOKEN")
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "a valid bearer token is required")
        found = await asyncio.to_thread(find_call, store, registry, call_id)
        if found is None:
            raise HTTPException(404, f"no call {call_id}")
        return found[1]

    return router
