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
from collections.abc import Callable

from frontdesk.actions.notify import SmsError, SmsSender
from frontdesk.actions.outbox import Outbox
from frontdesk.profile import Profile
from frontdesk.quality.reconcile import Reconciler
from frontdesk.runtime import Runtime
from frontdesk.telephony.actions import CarrierActionError, CarrierActions

__all__ = ["BackOffice", "CarrierSms"]

log = logging.getLogger(__name__)


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
        interval_s: float = 5.0,
        reconcile_every_s: float = 300.0,
        owner: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.outboxes = {
            p.business.id: Outbox(runtime.desk(p), sms=sms_for(p), owner=self.owner,
                                  clock=runtime.now)
            for p in runtime.registry
        }
        self.reconcilers = {
            p.business.id: Reconciler(runtime.desk(p), clock=runtime.now)
            for p in runtime.registry
        }
        self._interval_s = interval_s
        self._reconcile_every_s = reconcile_every_s
        self.passes = 0  # completed passes, for operators and tests
        self._passed = asyncio.Condition()

    async def wait_passes(self, count: int) -> None:
        """Until ``count`` passes have completed."""
        async with self._passed:
            await self._passed.wait_for(lambda: self.passes >= count)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_full = float("-inf")
        while not stop.is_set():
            ended = self._drain_ended()
            await self._pass(ended, full=loop.time() - last_full >= self._reconcile_every_s)
            if loop.time() - last_full >= self._reconcile_every_s:
                last_full = loop.time()
            async with self._passed:
                self.passes += 1
                self._passed.notify_all()
            await self._wait(stop)

    def _drain_ended(self) -> list[tuple[str, str]]:
        ended = []
        while not self.runtime.ended.empty():
            ended.append(self.runtime.ended.get_nowait())
        return ended

    async def _pass(self, ended: list[tuple[str, str]], *, full: bool) -> None:
        for business_id, outbox in self.outboxes.items():
            try:
                await outbox.run_once()
            except Exception:
                log.exception("outbox of %s failed; the next pass retries", business_id)
        for business_id, call_id in ended:
            await self._reconcile(business_id, call_id)
        if full:
            for business_id in self.reconcilers:
                await self._reconcile(business_id, None)

    async def _reconcile(self, business_id: str, call_id: str | None) -> None:
        try:
            report = await self.reconcilers[business_id].run(call_id=call_id)
        except Exception:
            log.exception("reconciling %s failed; the next run retries", business_id)
            return
        if report.findings:
            log.warning("reconcile %s: %s", business_id, report.counts())

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until the interval passes, a call ends, or ``stop`` is set."""
        stopping = asyncio.ensure_future(stop.wait())
        ending = asyncio.ensure_future(self._call_ended())
        try:
            await asyncio.wait([stopping, ending], timeout=self._interval_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (stopping, ending):
                waiter.cancel()
            await asyncio.gather(stopping, ending, return_exceptions=True)

    async def _call_ended(self) -> None:
        item = await self.runtime.ended.get()
        self.runtime.ended.put_nowait(item)  # the next pass drains it with the others
