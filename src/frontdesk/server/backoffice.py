"""The back office: every business's outbox and reconciliation, as one owned task.

It wakes on a timer and whenever a call ends. Each pass runs the outbox of every
business (finish unknown bookings, send owed texts); after a call it reconciles that
call, and every ``reconcile_every_s`` it reconciles everything (the scheduled run that
finds writes a backend dropped after the call).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from frontdesk.actions.notify import SmsError, SmsSender
from frontdesk.actions.outbox import Outbox
from frontdesk.call.continuity import sweep
from frontdesk.observe.metrics import BackOfficeMetrics
from frontdesk.profile import Profile
from frontdesk.quality.reconcile import Reconciler
from frontdesk.runtime import Runtime
from frontdesk.server.callbacks import CarrierDialer, place_callbacks
from frontdesk.telephony.actions import CarrierActionError, CarrierActions

__all__ = ["BackOffice", "CarrierSms"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class CarrierSms:
    """Texts through the carrier's REST API, from the business's own number."""

    def __init__(self, actions: CarrierActions, from_number: str) -> None:
        self.actions = actions
        self.from_number = from_number

    async def send(self, *, to: str, text: str) -> str:
        try:
            sent = await self.actions.send_sms(from_number=self.from_number, to_number=to,
                                               text=text)
        except CarrierActionError as error:
            raise SmsError(str(error), retryable=error.retryable) from None
        return sent.carrier_message_id


class BackOffice:
    def __init__(
        self,
        runtime: Runtime,
        *,
        sms_for: Callable[[Profile], SmsSender | None] = lambda _: None,
        dialer: CarrierDialer | None = None,
        interval_s: float = 5.0,
        reconcile_every_s: float = 3600.0,
        owner: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.outboxes: dict[str, Outbox] = {}
        self.reconcilers: dict[str, Reconciler] = {}
        for profile in runtime.registry:
            desk = runtime.desk(profile)
            sms = sms_for(profile)
            desk.can_text = sms is not None  # what the agent may promise on the phone
            self.outboxes[profile.business.id] = Outbox(desk, sms=sms, owner=self.owner,
                                                        clock=runtime.now)
            self.reconcilers[profile.business.id] = Reconciler(desk, clock=runtime.now)
        self.dialer = dialer  # places outbound callbacks (profiles that turn them on)
        self.profiles = {p.business.id: p for p in runtime.registry}
        self.metrics = BackOfficeMetrics(runtime.metrics.registry)
        self._interval_s = interval_s
        self._reconcile_every_s = reconcile_every_s
        # completed outbox passes and reconciliation runs, for operators and tests
        self.passes = self.reconciles = 0
        self._progress = asyncio.Condition()

    async def wait_for(self, *, passes: int = 0, reconciles: int = 0) -> None:
        """Until at least this many outbox passes and reconciliation runs are done."""
        async with self._progress:
            await self._progress.wait_for(
                lambda: self.passes >= passes and self.reconciles >= reconciles)

    async def run(self, stop: asyncio.Event) -> None:
        """The outbox and reconciliation as two loops, so a slow backend check never
        holds up a text a caller was promised."""
        calls: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._outbox_loop(stop, calls))
            tg.create_task(self._reconcile_loop(stop, calls))

    async def _outbox_loop(self, stop: asyncio.Event,
                           calls: asyncio.Queue[tuple[str, str | None]]) -> None:
        while not stop.is_set():
            ended = []
            while not self.runtime.ended.empty():
                ended.append(self.runtime.ended.get_nowait())
            for business_id, outbox in self.outboxes.items():
                await self._outbox_pass(business_id, outbox)
                await self._sweep(business_id, outbox)
                await self._callbacks(business_id, outbox)
            for item in ended:  # reconciled after their texts were proposed
                calls.put_nowait(item)
            await self._count("passes")
            await _first(stop.wait(), _next_item(self.runtime.ended), within_s=self._interval_s)

    async def _reconcile_loop(self, stop: asyncio.Event,
                              calls: asyncio.Queue[tuple[str, str | None]]) -> None:
        loop = asyncio.get_running_loop()
        for business_id in self.reconcilers:  # a full run at start-up
            calls.put_nowait((business_id, None))
        next_full = loop.time() + self._reconcile_every_s
        while not stop.is_set():
            while not calls.empty():
                business_id, call_id = calls.get_nowait()
                await self._reconcile(business_id, call_id)
                await self._count("reconciles")
            if loop.time() >= next_full:
                next_full = loop.time() + self._reconcile_every_s
                for business_id in self.reconcilers:
                    calls.put_nowait((business_id, None))
                continue
            await _first(stop.wait(), _next_item(calls),
                         within_s=max(0.0, next_full - loop.time()))

    async def _count(self, counter: str) -> None:
        async with self._progress:
            setattr(self, counter, getattr(self, counter) + 1)
            self._progress.notify_all()

    async def _sweep(self, business_id: str, outbox: Outbox) -> None:
        """Expired sessions and run-out slot holds of dropped calls."""
        desk = outbox.desk
        try:
            await sweep(desk.store, desk.profile, desk, now=self.runtime.now())
        except Exception:
            log.exception("session sweep of %s failed; the next pass retries", business_id)

    async def _callbacks(self, business_id: str, outbox: Outbox) -> None:
        profile = self.profiles[business_id]
        if self.dialer is None or not profile.sessions.callback:
            return
        try:
            await place_callbacks(outbox.store, profile, self.dialer, owner=self.owner,
                                  now=self.runtime.now)
        except Exception:
            log.exception("callbacks of %s failed; the next pass retries", business_id)

    async def _outbox_pass(self, business_id: str, outbox: Outbox) -> None:
        try:
            report = await outbox.run_once()
        except Exception:
            log.exception("outbox of %s failed; the next pass retries", business_id)
            return
        for state, count in report.bookings.items():
            self.metrics.resolved.labels(business_id, state).inc(count)
        self.metrics.texts.labels(business_id, "sent").inc(report.texts_sent)
        self.metrics.texts.labels(business_id, "failed").inc(report.texts_failed)

    async def _reconcile(self, business_id: str, call_id: str | None) -> None:
        try:
            report = await self.reconcilers[business_id].run(call_id=call_id)
        except Exception:
            log.exception("reconciling %s failed; the next run retries", business_id)
            return
        for finding in report.findings:
            self.metrics.findings.labels(business_id, finding.kind, finding.action).inc()
        if report.findings:
            log.warning("reconcile %s: %s", business_id, report.counts())
        store = self.reconcilers[business_id].store
        open_ = await asyncio.to_thread(store.list_findings, open_only=True)
        self.metrics.callbacks_open.labels(business_id).set(len(open_))


async def _next_item(queue: asyncio.Queue[T]) -> None:
    """Until ``queue`` has an item (left in place for the caller to take)."""
    item = await queue.get()
    queue.put_nowait(item)


async def _first(*waits: Coroutine[Any, Any, object], within_s: float) -> None:
    """Until the first of ``waits`` finishes or ``within_s`` passes; the rest are cancelled
    and awaited, so nothing is left running."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
