"""The escalation policy in front of the brain: it hears every caller turn first.

A decision pre-empts the brain's reply in the same turn, whatever brain runs behind it
(an LLM cannot talk the policy out of a transfer: it is never asked). Every decision and
every near miss is a call event, stored before the agent says a word about it. A
transfer nobody can take, or a ``message`` action, becomes a structured message (name,
number, reason, urgency) stored through the ledger, with a text to the business queued
through the outbox; the caller is then told, and the call ends. Never silence, never a
loop: each step of the message asks once, and a second miss stores what was said.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.ledger import idempotency_key
from frontdesk.actions.messages import take_message
from frontdesk.actions.notify import KIND_SMS
from frontdesk.brain.base import (
    Brain,
    BrainOutput,
    CallerTurn,
    Escalated,
    Hangup,
    MessageSaved,
    Text,
    Transfer,
)
from frontdesk.brain.nlu import extract_name
from frontdesk.brain.nlu.phone import extract_phone
from frontdesk.escalation.engine import Decision, TurnPolicy
from frontdesk.profile import Profile
from frontdesk.profile.policy import Category, Urgency
from frontdesk.store import BusinessStore

__all__ = ["AfterTransfer", "Escalating", "after_transfer"]

log = logging.getLogger(__name__)
_SOON = {"urgent": "as soon as possible", "high": "today", "normal": "soon", "low": "soon"}


@dataclass(frozen=True)
class AfterTransfer:
    """A transfer the person did not take (busy, no answer, failed): the caller is back
    with frontdesk on a new leg, which takes the message instead."""

    status: str  # the carrier's dial status
    category: Category = "human"
    urgency: Urgency = "normal"
    reason: str = ""


async def after_transfer(store: BusinessStore, call_id: str, status: str) -> AfterTransfer:
    """What the failed transfer of ``call_id`` was for, from its escalation audit (a
    transfer the brain asked for itself is a request for a person)."""
    events = await asyncio.to_thread(store.list_call_events, call_id,
                                     kind="escalation.decision")
    if not events:
        return AfterTransfer(status)
    data = events[-1].data
    return AfterTransfer(status, data.get("category", "human"),
                         data.get("urgency", "normal"), str(data.get("text", "")))


class Escalating:
    """A :class:`Brain` that runs the profile's escalation policy before ``inner``."""

    def __init__(self, inner: Brain, profile: Profile, store: BusinessStore, desk: BookingDesk,
                 *, call_id: str, caller_number: str, session_id: str | None,
                 now: Callable[[], datetime], identifiable: bool,
                 after: AfterTransfer | None = None) -> None:
        self.inner, self.profile, self.store, self.desk = inner, profile, store, desk
        self.call_id, self.caller_number, self.session_id = call_id, caller_number, session_id
        self.now = now
        self.policy = TurnPolicy(profile)
        self._number = caller_number if identifiable else None
        self._taking: Decision | None = None  # a message being taken for this decision
        self._reason = ""
        self._name: str | None = None
        self._step = "name"  # what the message's next caller turn answers
        self._tried: set[str] = set()
        self._missed = False
        self.handed_off = False  # transferred, ended or messaged: nothing left unfinished
        self.after = after

    # -- the Brain protocol, and what the session asks of a brain ----------------------

    def greet(self) -> AsyncGenerator[BrainOutput, None]:
        if self.after is not None:
            return self._after_transfer(self.after)
        return self.inner.greet()

    async def _after_transfer(self, a: AfterTransfer) -> AsyncGenerator[BrainOutput, None]:
        self._taking = Decision(a.category, "message", "warm_transfer", a.urgency,
                                f"transfer.{a.status}", a.status, 1.0, None, False, True)
        self._reason = a.reason or f"({a.category})"
        await self._note("escalation.outcome", {"action": "transfer_failed",
                                                "status": a.status})
        lead = ("I'm sorry, no one could take your call just now. I'll take a message and "
                "make sure the team gets it. ")
        async for item in self._next_step(lead):
            yield item

    def heard(self, played_text: str, interrupted: bool) -> None:
        self.inner.heard(played_text, interrupted)

    def unfinished(self) -> str | None:
        """The inner brain's unfinished task, unless the policy handed the call off."""
        found = getattr(self.inner, "unfinished", None)
        task: str | None = None if self.handed_off or found is None else found()
        return task

    def offered(self) -> Any:
        found = getattr(self.inner, "offered", None)
        return None if self.handed_off or found is None else found()

    async def settle(self) -> None:
        """The call is over: what the inner brain left running is finished, and a message
        the caller was still leaving is stored with what they said so far (the reason is
        known from the turn that escalated; the team calls back either way)."""
        settle = getattr(self.inner, "settle", None)
        if settle is not None:
            await settle()
        if self._taking is not None and not self.handed_off:
            async for _ in self._store_message():
                pass  # nobody is listening to the goodbye

    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        if self._taking is not None and not self.handed_off:
            async for item in self._message_turn(turn):
                yield item
            return
        verdict = self.policy.check(turn.text, now=self.now(), confidence=turn.confidence,
                                    dtmf=turn.dtmf, no_input=turn.no_input)
        for hit in verdict.near_misses:
            await self._note("escalation.near_miss", {
                "category": hit.category, "rule": hit.rule, "evidence": hit.evidence,
                "confidence": round(hit.confidence, 3), "vetoed_by": hit.vetoed_by})
        decision = verdict.decision
        if decision is None or decision.action == "flag" or not decision.final:
            if decision is not None:
                await self._note("escalation.decision", decision.as_dict() | {"text": turn.text})
                yield Escalated(decision.category,
                                decision.action if decision.final else "warning", decision.rule)
                if decision.say and not decision.final:
                    yield Text(decision.say + " ")
            async for item in self.inner.respond(turn):
                yield item
            return
        await self._note("escalation.decision", decision.as_dict() | {"text": turn.text})
        yield Escalated(decision.category, decision.action, decision.rule)
        async for item in self._act(decision, turn):
            yield item

    # -- actions -----------------------------------------------------------------------

    async def _act(self, d: Decision, turn: CallerTurn) -> AsyncIterator[BrainOutput]:
        first = f"{d.say} " if d.say else ""
        if d.action == "inform":
            yield Text(first + "Is there anything else I can help you with?")
            return
        if d.action == "end_call":
            self.handed_off = True
            await self._note("escalation.outcome", {"action": "end_call"})
            yield Text(d.say or "I'm going to end the call now. Goodbye.")
            yield Hangup()
            return
        if d.action in ("warm_transfer", "cold_transfer") and d.to is not None:
            self.handed_off = True
            await self._note("escalation.outcome", {"action": d.action, "to": d.to.number})
            yield Text(f"{first}Let me connect you with {d.to.name}. One moment, please.")
            yield Transfer(d.to.number, self._summary(d, turn) if d.action == "warm_transfer"
                           else None)
            return
        # a message: the policy's choice, or a transfer nobody can take right now
        self._taking, self._reason = d, turn.text.strip() or f"({d.category})"
        self._name = getattr(getattr(self.inner, "state", None), "name", None)
        why = ("I'll take a message for the team. " if d.action == d.wanted else
               "No one is available to take your call right now, so I'll take a message. ")
        async for item in self._next_step(first + why):
            yield item

    def _summary(self, d: Decision, turn: CallerTurn) -> str:
        """What the person hears before the caller is put through (a warm transfer)."""
        who = self._number or "a withheld number"
        return (f"Frontdesk here, with a {d.urgency} {d.category.replace('_', ' ')} call "
                f"from {who}. They said: {turn.text.strip()}")[:400]

    async def _message_turn(self, turn: CallerTurn) -> AsyncIterator[BrainOutput]:
        text = turn.text.strip()
        if self._step == "name":
            self._name = extract_name(text, expecting=True) if text else None
            missing = self._name is None
        else:
            self._number = extract_phone(text) if text else None
            missing = self._number is None
        if missing and not self._missed:  # asked once more; a second miss moves on
            self._missed = True
            yield Text("Sorry, I didn't catch that. Could you say it again?")
            return
        self._missed = False
        async for item in self._next_step(""):
            yield item

    async def _next_step(self, lead: str) -> AsyncIterator[BrainOutput]:
        if self._name is None and "name" not in self._tried:
            self._tried.add("name")
            self._step = "name"
            yield Text(f"{lead}Can I get your name, please?")
            return
        if self._number is None and "number" not in self._tried:
            self._tried.add("number")
            self._step = "number"
            yield Text(f"{lead}What's the best number to reach you?")
            return
        async for item in self._store_message():
            yield item

    async def _store_message(self) -> AsyncIterator[BrainOutput]:
        d = self._taking
        assert d is not None
        text = f"[{d.urgency}] {d.category}: {self._reason}"
        _, record = await take_message(
            self.desk.ledger, session_id=self.session_id or self.call_id,
            call_id=self.call_id, name=self._name, phone=self._number, text=text)
        await self._notify_business(d, record.id, text)
        await self._note("escalation.outcome", {
            "action": "message", "message_id": record.id, "urgency": d.urgency,
            "name": self._name, "number": self._number, "reason": self._reason})
        self._taking, self.handed_off = None, True
        yield MessageSaved(record.id, self._name, text)
        marked = " and marked it urgent" if d.urgency == "urgent" else ""
        yield Text(f"Thank you. I've passed your message on to the team{marked}, and someone "
                   f"will call you back {_SOON[d.urgency]}. Goodbye.")
        yield Hangup()

    async def _notify_business(self, d: Decision, message_id: str, text: str) -> None:
        """Queue a text to the business (the outbox sends it, at least once)."""
        policy = self.profile.escalation
        to = policy.notify_sms or (self.profile.transfer_numbers[0].number
                                   if self.profile.transfer_numbers else None)
        if to is None:
            return
        who = self._name or "A caller"
        body = (f"frontdesk {d.urgency.upper()} message from {who} "
                f"({self._number or 'no number'}): {text}")[:480]
        key = idempotency_key(message_id, KIND_SMS, {"to": to})
        await asyncio.to_thread(
            self.desk.ledger.propose, kind=KIND_SMS, key=key, connector="sms",
            payload={"to": to, "text": body, "about": f"message:{message_id}"},
            call_id=self.call_id)

    async def _note(self, kind: str, data: dict[str, Any]) -> None:
        await asyncio.to_thread(self.store.add_call_event, self.call_id, kind, data,
                                at=self.now())
