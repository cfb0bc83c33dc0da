"""Booking conversations against a real backend behind a fault-injecting proxy.

Each conversation is the deterministic receptionist, in text, asking for a distinct
slot, giving a name and saying "yes". Between frontdesk and the backend (a real Radicale
CalDAV server, or the local CRM) sits :class:`FaultProxy` with a seeded random plan:
latency up to 10 s, 5xx before and after the write, timeouts and resets after the write
landed, acknowledged writes that never reached the backend. Some callers hang up while
the booking is being written.

Then the outbox runs pass after pass (the faults continue) until every commitment is
settled and every owed text is sent through the fake Twilio API; reconciliation runs; a
share of committed bookings is deleted behind frontdesk's back, and reconciliation runs
again. The truth is read from the backend directly (not through the proxy) at the moment
the agent says "booked", when a "confirmed" text is sent, and at the end.

Used by ``bench/ledger_faults.py`` (the full run) and a short test run in tests/e2e.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from frontdesk.actions.booking import BookingDesk, DeskSettings
from frontdesk.actions.breaker import Breaker
from frontdesk.actions.connectors.base import BackendBooking, Connector
from frontdesk.actions.executor import Executor
from frontdesk.actions.ledger import TOLD_CONFIRMED
from frontdesk.actions.notify import KIND_SMS
from frontdesk.actions.outbox import Outbox
from frontdesk.brain.base import CallerTurn, Text
from frontdesk.brain.receptionist import Receptionist
from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer
from frontdesk.client.faultproxy import WRITE_METHODS, FaultKind, FaultProxy, RandomPlan
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.quality.reconcile import Reconciler
from frontdesk.server.backoffice import CarrierSms
from frontdesk.store import (
    C_COMMITTED,
    C_PENDING,
    C_PROPOSED,
    C_RECONCILED,
    C_UNKNOWN,
    BusinessStore,
    CommitmentRecord,
    open_store,
)
from frontdesk.telephony.twilio.rest import TwilioActions, TwilioConfig

__all__ = ["DEFAULT_WEIGHTS", "SimConfig", "SimCounts", "run_sim"]

CHICAGO = ZoneInfo("America/Chicago")
START = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)  # a Monday, before opening
BOOKED = " is booked for "
SID, TOKEN = "AC" + "0" * 32, "sim-token"

# Half of all writes meet a fault; every kind the issue names is in the mix.
DEFAULT_WEIGHTS: dict[FaultKind, float] = {
    FaultKind.NONE: 0.50,
    FaultKind.DELAY: 0.10,
    FaultKind.STATUS: 0.06,
    FaultKind.STATUS_AFTER_WRITE: 0.07,
    FaultKind.HANG_AFTER_WRITE: 0.07,
    FaultKind.RESET_BEFORE_WRITE: 0.05,
    FaultKind.RESET_AFTER_WRITE: 0.07,
    FaultKind.ACK_WITHOUT_WRITE: 0.08,
}


@dataclass(frozen=True)
class SimConfig:
    backend: Literal["caldav", "crm"]
    store_url: str
    conversations: int = 200
    seed: int = 1
    concurrency: int = 10
    hangup_rate: float = 0.10  # callers who hang up while their booking is being written
    lose_rate: float = 0.05  # committed bookings the backend drops after the call
    max_delay_s: float = 10.0
    weights: dict[FaultKind, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    desk: DeskSettings = DeskSettings(in_call_budget_s=2.5, request_s=1.2,
                                      outbox_budget_s=15.0, outbox_request_s=5.0,
                                      max_attempts=8)
    max_passes: int = 60


@dataclass
class SimCounts:
    backend: str
    conversations: int = 0
    write_faults: dict[str, int] = field(default_factory=dict)  # injected, by kind
    # what callers heard about their booking on the phone
    voice_confirmed: int = 0
    text_promised: int = 0
    declined: int = 0
    hung_up_during_write: int = 0
    no_offer: int = 0
    # the checks the issue asks for
    false_confirmations_voice: int = 0  # "booked" said while the backend lacked the row
    false_confirmations_text: int = 0  # "confirmed" texted while the backend lacked it
    duplicate_bookings: int = 0
    backend_bookings: int = 0
    backend_bookings_not_confirmed_to_caller: int = 0
    committed: int = 0
    failed: int = 0
    unsettled: int = 0  # commitments still open when the run ended
    texts: dict[str, int] = field(default_factory=dict)
    dropped_at_write: int = 0  # acknowledged by the proxy, never reached the backend
    dropped_after_commit: int = 0  # deleted behind frontdesk's back after the call
    dropped_found_by_reconcile: int = 0
    callbacks: int = 0
    outbox_passes: int = 0
    wall_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Truth:
    """The backend read directly, bypassing the proxy and frontdesk."""

    find: Callable[[str], Awaitable[list[BackendBooking]]]
    all: Callable[[], Awaitable[list[BackendBooking]]]
    lose: Callable[[str], Awaitable[None]]


@dataclass
class _Stack:
    connector: Connector
    proxy: FaultProxy
    truth: _Truth


@dataclass
class _Monotonic:
    """time.monotonic, plus jumps the run makes between phases (an hour passes)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@dataclass
class _BusinessClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


async def run_sim(config: SimConfig) -> SimCounts:
    counts = SimCounts(backend=config.backend)
    began = time.monotonic()
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(config.store_url)
    business = store.for_business(profile.business.id)
    clock = _BusinessClock()
    rng = random.Random(config.seed)
    try:
        async with _backend(config) as stack, CarrierApiServer(CarrierApi(
                twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key="k")) as api:
            twilio = TwilioActions(TwilioConfig(SID, TOKEN, api_base=api.base_url))
            mono = _Monotonic()
            executor = Executor(stack.connector, breaker=Breaker(threshold=5, cooldown_s=3.0),
                                rng=random.Random(config.seed + 1), clock=mono)
            desk = BookingDesk(profile, business, clock=clock, executor=executor,
                               settings=config.desk, rng=random.Random(config.seed + 2))
            desk.can_text = True
            phones: dict[str, str] = {}  # caller number -> call id
            sms = _CheckedSms(CarrierSms(twilio, profile.business.phone_numbers[0]),
                              business, stack.truth, phones, counts)
            outbox = Outbox(desk, sms=sms, owner="sim-1", clock=clock,
                            rng=random.Random(config.seed + 3))
            rival = Outbox(desk, sms=sms, owner="sim-2", clock=clock,
                           rng=random.Random(config.seed + 4))
            try:
                # a second outbox worker runs during the calls, on a clock that moves
                # faster than the calls: it takes over attempts whose lease ran out
                calls_done = asyncio.Event()
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(_rival(rival, clock, calls_done))
                    await _converse_all(config, profile, business, desk, clock, stack, rng,
                                        phones, counts)
                    calls_done.set()
                reconciler = Reconciler(desk, clock=clock)
                await _settle(config, business, outbox, clock, mono, counts)
                await reconciler.run()
                await stack.proxy.wait_idle()  # delayed writes have landed (or failed)
                lost = await _lose_some(config, business, stack.truth, rng, counts)
                report = await reconciler.run()
                counts.dropped_found_by_reconcile = sum(
                    1 for f in report.findings if f.kind == "missing" and f.commitment_id in lost)
                # the scheduled run an hour later: the breaker has cooled down by then
                clock.now += timedelta(hours=1)
                mono.offset += 3600
                await reconciler.run()
                await _settle(config, business, outbox, clock, mono, counts)
                counts.callbacks = len(business.list_findings(open_only=True))
                await _final_truth(business, stack.truth, counts)
            finally:
                await twilio.aclose()
                await desk.aclose()
            writes = Counter(e.fault_kind for e in stack.proxy.log if e.method in WRITE_METHODS)
            counts.write_faults = {k.value: n for k, n in sorted(
                writes.items(), key=lambda kv: -kv[1])}
            counts.dropped_at_write = writes.get(FaultKind.ACK_WITHOUT_WRITE, 0)
            counts.texts = dict(Counter(
                _about(r.form.get("Body", "")) for r in api.api.requests
                if r.action == "messages.create" and r.form is not None))
    finally:
        store.close()
    counts.wall_s = round(time.monotonic() - began, 1)
    return counts


def _about(body: str) -> str:
    return ("confirmed" if " is confirmed for " in body
            else "not_booked" if "could not book" in body else "other")


# -- the conversations -------------------------------------------------------------------


def _slots(n: int) -> list[datetime]:
    """``n`` distinct half-hour starts on weekdays from Tuesday on, 8:00 to 16:30."""
    starts: list[datetime] = []
    day = date(2026, 12, 1)
    while len(starts) < n:
        if day.weekday() < 5:
            for minutes in range(8 * 60, 16 * 60 + 31, 30):
                starts.append(datetime(day.year, day.month, day.day, minutes // 60,
                                       minutes % 60, tzinfo=CHICAGO))
        day += timedelta(days=1)
    return starts[:n]


def _spoken_time(start: datetime) -> str:
    hour = start.hour % 12 or 12
    clock = f"{hour}:{start.minute:02d}" if start.minute else f"{hour}"
    return f"{start:%B} {start.day} at {clock} {'AM' if start.hour < 12 else 'PM'}"


async def _converse_all(config: SimConfig, profile: Profile, business: BusinessStore,
                        desk: BookingDesk, clock: _BusinessClock, stack: _Stack,
                        rng: random.Random, phones: dict[str, str], counts: SimCounts) -> None:
    limit = asyncio.Semaphore(config.concurrency)
    plans = [(i, start, rng.random() < config.hangup_rate, rng.uniform(0.05, 2.0))
             for i, start in enumerate(_slots(config.conversations))]

    async def one(i: int, start: datetime, hang: bool, patience: float) -> None:
        async with limit:
            await _converse(profile, business, desk, clock, stack, i, start, hang, patience,
                            phones, counts)

    async with asyncio.TaskGroup() as tg:
        for plan in plans:
            tg.create_task(one(*plan))
    counts.conversations = len(plans)


async def _converse(profile: Profile, business: BusinessStore, desk: BookingDesk,
                    clock: _BusinessClock, stack: _Stack, i: int, start: datetime,
                    hang: bool, patience: float, phones: dict[str, str],
                    counts: SimCounts) -> None:
    phone = f"+1512555{i:04d}"
    call = await asyncio.to_thread(business.create_call, phone,
                                   profile.business.phone_numbers[0], started_at=clock())
    phones[phone] = call.id
    brain = Receptionist(profile, business, call_id=call.id, caller_number=phone, now=clock,
                         desk=desk)
    asked = await _reply(brain, f"I'd like to book an oil change on {_spoken_time(start)}. "
                                f"My name is Caller {i}.")
    brain.heard(asked, False)
    if "Shall I book it?" not in asked:
        counts.no_offer += 1
    else:
        heard: list[str] = []

        async def listen() -> None:
            async for item in brain.respond(CallerTurn("Yes, please.", 0.9)):
                if isinstance(item, Text):
                    if BOOKED in item.text:
                        await _check_voice(business, call.id, stack.truth, counts)
                    heard.append(item.text)

        listening = asyncio.create_task(listen())
        if hang:
            await asyncio.wait([listening], timeout=patience)
        if not listening.done():
            if hang:
                counts.hung_up_during_write += 1
                listening.cancel()  # the caller hangs up: the reply stops, the write goes on
            try:
                await listening
            except asyncio.CancelledError:
                heard.clear()  # nothing of the reply reached them
        said = "".join(heard)
        brain.heard(said, False)
        counts.voice_confirmed += BOOKED in said
        counts.text_promised += "text confirmation" in said
        counts.declined += said.startswith("I'm sorry")
        await brain.settle()  # the write the hung-up reply left running
    await asyncio.to_thread(business.end_call, call.id, status="completed", outcome="none",
                            ended_at=clock())


async def _rival(outbox: Outbox, clock: _BusinessClock, done: asyncio.Event) -> None:
    while not done.is_set():
        clock.now += timedelta(seconds=20)
        await outbox.run_once()
        try:
            async with asyncio.timeout(0.25):
                await done.wait()
        except TimeoutError:
            pass


async def _reply(brain: Receptionist, text: str) -> str:
    parts = [item.text async for item in brain.respond(CallerTurn(text, 0.9))
             if isinstance(item, Text)]
    return "".join(parts)


async def _check_voice(business: BusinessStore, call_id: str, truth: _Truth,
                       counts: SimCounts) -> None:
    """At the moment "booked" is spoken, the backend must hold the booking."""
    committed = [c for c in await asyncio.to_thread(business.list_commitments, call_id=call_id)
                 if c.state == C_COMMITTED and c.kind == "book"]
    if not committed or not await truth.find(committed[0].key):
        counts.false_confirmations_voice += 1


class _CheckedSms:
    """The real SMS path (Twilio REST to the fake API), checked against the backend."""

    def __init__(self, inner: CarrierSms, business: BusinessStore, truth: _Truth,
                 phones: dict[str, str], counts: SimCounts) -> None:
        self.inner, self.business, self.truth = inner, business, truth
        self.phones, self.counts = phones, counts

    async def send(self, *, to: str, text: str) -> str:
        if " is confirmed for " in text:
            call_id = self.phones.get(to)
            books = [c for c in await asyncio.to_thread(self.business.list_commitments,
                                                        call_id=call_id)
                     if c.kind == "book" and c.state in (C_COMMITTED, C_RECONCILED)]
            if not books or not await self.truth.find(books[0].key):
                self.counts.false_confirmations_text += 1
        return await self.inner.send(to=to, text=text)


# -- after the calls ---------------------------------------------------------------------


async def _settle(config: SimConfig, business: BusinessStore, outbox: Outbox,
                  clock: _BusinessClock, mono: _Monotonic, counts: SimCounts) -> None:
    """Outbox passes, ten minutes apart, until nothing is left open."""
    for _ in range(config.max_passes):
        clock.now += timedelta(minutes=10)
        mono.offset += 600  # the breaker's cool-down passes with the business clock
        await outbox.run_once()
        counts.outbox_passes += 1
        open_ = await asyncio.to_thread(business.list_commitments,
                                        states=(C_PROPOSED, C_PENDING, C_UNKNOWN))
        if not open_:
            return


async def _lose_some(config: SimConfig, business: BusinessStore, truth: _Truth,
                     rng: random.Random, counts: SimCounts) -> set[str]:
    """The backend silently drops some committed bookings after the call; their ids."""
    done = await asyncio.to_thread(business.list_commitments, kinds=("book",),
                                   states=(C_COMMITTED, C_RECONCILED))
    chosen = [c for c in done if rng.random() < config.lose_rate]
    for commitment in chosen:
        await truth.lose(commitment.key)
    counts.dropped_after_commit = len(chosen)
    return {c.id for c in chosen}


async def _final_truth(business: BusinessStore, truth: _Truth, counts: SimCounts) -> None:
    books = await asyncio.to_thread(business.list_commitments, kinds=("book",))
    by_key: dict[str, CommitmentRecord] = {c.key: c for c in books}
    counts.committed = sum(c.state in (C_COMMITTED, C_RECONCILED) and bool(c.result)
                           and "external_id" in (c.result or {}) for c in books)
    counts.failed = sum(c.state == "failed" or (c.state == C_RECONCILED
                                                and "external_id" not in (c.result or {}))
                        for c in books)
    counts.unsettled = sum(c.state in (C_PROPOSED, C_PENDING, C_UNKNOWN) for c in books)
    held = await truth.all()
    counts.backend_bookings = len(held)
    keys = Counter(b.key for b in held)
    slots = Counter((b.customer_phone, b.start) for b in held)
    counts.duplicate_bookings = sum(n - 1 for n in keys.values() if n > 1) + sum(
        n - 1 for n in slots.values() if n > 1)
    for booking in held:
        commitment = by_key.get(booking.key)
        if commitment is None or not await _informed(business, commitment):
            counts.backend_bookings_not_confirmed_to_caller += 1


async def _informed(business: BusinessStore, commitment: CommitmentRecord) -> bool:
    if commitment.told == TOLD_CONFIRMED and commitment.told_heard:
        return True
    texts = await asyncio.to_thread(business.list_commitments, parent_id=commitment.id,
                                    kinds=(KIND_SMS,), states=(C_COMMITTED,))
    return any(t.payload.get("about") == "confirmed" for t in texts)


# -- backends ----------------------------------------------------------------------------


@asynccontextmanager
async def _backend(config: SimConfig) -> AsyncIterator[_Stack]:
    plan = RandomPlan(config.seed, config.weights, delay=(0.5, config.max_delay_s))
    if config.backend == "caldav":
        async with _caldav(plan) as stack:
            yield stack
    else:
        async with _crm(plan) as stack:
            yield stack


@asynccontextmanager
async def _caldav(plan: RandomPlan) -> AsyncIterator[_Stack]:
    from frontdesk.actions.connectors.caldav import CalDAVConnector, CalDAVSettings
    from frontdesk.client.radicale import RadicaleServer

    async with RadicaleServer(max_connections=64) as radicale:
        direct = urlsplit(radicale.base_url)
        assert direct.hostname is not None and direct.port is not None
        async with FaultProxy(direct.hostname, direct.port, plan) as proxy:
            path = urlsplit(radicale.calendar_url).path
            proxied = CalDAVConnector(CalDAVSettings(
                url=proxy.base_url + path, username=radicale.username,
                password=radicale.password))
            truth = CalDAVConnector(radicale.settings())

            async def lose(key: str) -> None:
                await truth.cancel(key)

            async def everything() -> list[BackendBooking]:
                return await truth.list_range(START - timedelta(days=1),
                                              START + timedelta(days=120))

            try:
                yield _Stack(proxied, proxy, _Truth(truth.find, everything, lose))
            finally:
                await proxied.aclose()
                await truth.aclose()


@asynccontextmanager
async def _crm(plan: RandomPlan) -> AsyncIterator[_Stack]:
    from frontdesk.actions.connectors.crm import CrmConnector, CrmSettings
    from frontdesk.client.crm_server import CrmServer, CrmServerRunner

    secret = b"sim-secret"
    server = CrmServer(secret)
    async with CrmServerRunner(server) as running:
        direct = urlsplit(running.base_url)
        assert direct.hostname is not None and direct.port is not None
        async with FaultProxy(direct.hostname, direct.port, plan) as proxy:
            proxied = CrmConnector(CrmSettings(base_url=proxy.base_url, secret=secret))
            truth = CrmConnector(CrmSettings(base_url=running.base_url, secret=secret))

            async def lose(key: str) -> None:
                server.lose(key)

            async def everything() -> list[BackendBooking]:
                return await truth.list_range(START - timedelta(days=1),
                                              START + timedelta(days=120))

            try:
                yield _Stack(proxied, proxy, _Truth(truth.find, everything, lose))
            finally:
                await proxied.aclose()
                await truth.aclose()
