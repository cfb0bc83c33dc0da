"""Two frontdesk processes on one PostgreSQL: each outbox item is handled exactly once,
and an item a killed process was in the middle of is finished by the other.

Twelve bookings are left unknown (their backend was down during the calls). Then
``frontdesk outbox`` runs in two processes at once against the real CRM; later, one
process is killed with SIGKILL while its write is held by the fault proxy, and a second
process, started after that item's lease has run out, finishes it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from frontdesk.actions.booking import BookingDesk, DeskSettings
from frontdesk.actions.connectors.crm import CrmConnector, CrmSettings
from frontdesk.actions.executor import Executor
from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer
from frontdesk.client.crm_server import CrmServer, CrmServerRunner
from frontdesk.client.faultproxy import Fault, FaultPlan, FaultProxy
from frontdesk.profile import example_profile_text, parse_profile
from frontdesk.store import C_COMMITTED, C_RECONCILED, Store, open_store

SECRET = "two-instances"
SID, TOKEN = "AC" + "3" * 32, "two-token"
T0 = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
LATER = "2026-11-30T08:00:00-06:00"  # every retry is due, every call stale
MUCH_LATER = "2026-11-30T09:00:00-06:00"  # and the killed worker's lease has run out


@dataclass
class Rig:
    crm: CrmServer
    proxy: FaultProxy
    sms: CarrierApi
    env: dict[str, str]
    profile: Path
    url: str
    tmp: Path


@pytest.fixture
async def rig(fresh_postgres: str, tmp_path: Path) -> AsyncIterator[Rig]:
    crm = CrmServer(SECRET.encode())
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key="k")
    async with CrmServerRunner(crm) as running, CarrierApiServer(api) as sms:
        upstream = urlsplit(running.base_url)
        assert upstream.hostname is not None and upstream.port is not None
        async with FaultProxy(upstream.hostname, upstream.port, FaultPlan()) as proxy:
            data = yaml.safe_load(example_profile_text())
            data["booking"] = {"backend": "crm", "crm": {"base_url": proxy.base_url}}
            profile = tmp_path / "shop.yaml"
            profile.write_text(yaml.safe_dump(data))
            env = {**os.environ, "FRONTDESK_DATABASE_URL": fresh_postgres,
                   "FRONTDESK_CRM_SECRET": SECRET, "TWILIO_ACCOUNT_SID": SID,
                   "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_BASE": sms.base_url,
                   "FRONTDESK_PUBLIC_URL": "http://127.0.0.1:9"}
            yield Rig(crm, proxy, api, env, profile, fresh_postgres, tmp_path)


async def unknown_bookings(rig: Rig, count: int) -> list[str]:
    """Bookings made in calls while the CRM was unreachable: all left unknown."""
    profile = parse_profile(example_profile_text(), "<example>")
    store: Store = open_store(rig.url)
    business = store.for_business(profile.business.id)
    dead = CrmConnector(CrmSettings(base_url="http://127.0.0.1:9", secret=SECRET.encode()))
    desk = BookingDesk(profile, business, clock=lambda: T0, executor=Executor(dead),
                       settings=DeskSettings(in_call_budget_s=0.2, request_s=0.1))
    ids = []
    try:
        for n in range(count):
            caller = f"+1512555{n:04d}"
            call = business.create_call(caller, "+15125550100", started_at=T0)
            start = datetime(2026, 12, 1, 8 + n // 2, 30 * (n % 2), tzinfo=T0.tzinfo)
            slot = desk.calendar.check("oil-change", start, T0)
            outcome = await desk.book(session_id=call.id, call_id=call.id, slot=slot,
                                      name=f"Caller {n}", phone=caller)
            assert outcome.state == "unknown"
            business.end_call(call.id, status="completed", outcome="none", ended_at=T0)
            ids.append(outcome.commitment.id)
    finally:
        await dead.aclose()
        store.close()
    return ids


async def outbox(rig: Rig, now: str, name: str) -> asyncio.subprocess.Process:
    out = (rig.tmp / f"{name}.out").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "frontdesk.cli", "outbox", "--profile", str(rig.profile),
            "--now", now, env=rig.env, stdout=out, stderr=asyncio.subprocess.STDOUT)
    finally:
        out.close()


def settled(rig: Rig, ids: list[str]) -> tuple[list[str], list[int]]:
    store = open_store(rig.url)
    try:
        business = store.for_business("main-street-auto")
        rows = [business.get_commitment(i) for i in ids]
        return [r.state for r in rows if r], [r.attempts for r in rows if r]
    finally:
        store.close()


def texts_to(rig: Rig) -> Counter[str]:
    return Counter(r.form["To"] for r in rig.sms.requests
                   if r.action == "messages.create" and r.form is not None)


async def test_two_processes_share_the_outbox_without_doing_anything_twice(rig: Rig) -> None:
    ids = await unknown_bookings(rig, 12)
    first, second = await outbox(rig, LATER, "a"), await outbox(rig, LATER, "b")
    assert (await first.wait(), await second.wait()) == (0, 0)
    # one pass claims at most 8 rows, so both processes had a share of the 12
    for name in ("a", "b"):
        assert "'committed'" in (rig.tmp / f"{name}.out").read_text()
    states, attempts = settled(rig, ids)
    assert set(states) <= {C_COMMITTED, C_RECONCILED} and len(states) == 12
    assert attempts == [2] * 12  # the in-call attempt and exactly one outbox attempt
    posts = Counter(r.key for r in rig.crm.requests if r.method == "POST")
    assert len(posts) == 12 and set(posts.values()) == {1}  # one write per booking
    assert len(rig.crm.appointments()) == 12
    assert set(texts_to(rig).values()) == {1} and len(texts_to(rig)) == 12


async def test_a_killed_process_item_is_finished_by_the_other(rig: Rig) -> None:
    [booking] = await unknown_bookings(rig, 1)
    rig.proxy.plan.push(Fault.hang_after_write())  # the write lands; no answer comes
    doomed = await outbox(rig, LATER, "doomed")
    try:
        async with asyncio.timeout(60):  # a bound for a broken build, not a timing guess
            await rig.proxy.wait_for_events(1)
    except TimeoutError:
        pytest.fail("the outbox never wrote")
    doomed.send_signal(signal.SIGKILL)
    assert await doomed.wait() == -signal.SIGKILL
    assert settled(rig, [booking])[0] == ["pending"]  # mid-item, under the dead lease
    survivor = await outbox(rig, MUCH_LATER, "survivor")
    assert await survivor.wait() == 0, (rig.tmp / "survivor.out").read_text()
    states, _ = settled(rig, [booking])
    assert states == [C_COMMITTED]
    assert len(rig.crm.appointments()) == 1  # found by key: not written again
    assert list(texts_to(rig).values()) == [1]


def dropped_sessions(rig: Rig, count: int) -> list[str]:
    """Calls that dropped mid-booking, each with a callback due a minute later."""
    store = open_store(rig.url)
    try:
        business = store.for_business("main-street-auto")
        ids = []
        for n in range(count):
            session = business.open_session(caller_number=f"+1512556{n:04d}", now=T0)
            business.mark_dropped(session.id, now=T0, resume_until=T0 + timedelta(hours=24),
                                  callback_at=T0 + timedelta(minutes=1))
            ids.append(session.id)
        return ids
    finally:
        store.close()


def callbacks_on(rig: Rig) -> None:
    data = yaml.safe_load(rig.profile.read_text())
    data["sessions"] = {"callback": True, "callback_after_minutes": 1}
    rig.profile.write_text(yaml.safe_dump(data))


def dialled(rig: Rig) -> Counter[str]:
    return Counter(r.form["To"] for r in rig.sms.requests
                   if r.action == "calls.create" and r.form is not None)


def callback_states(rig: Rig, ids: list[str]) -> list[str | None]:
    store = open_store(rig.url)
    try:
        business = store.for_business("main-street-auto")
        return [business.get_session(i).callback_state for i in ids]  # type: ignore[union-attr]
    finally:
        store.close()


async def test_two_processes_dial_each_callback_once(rig: Rig) -> None:
    callbacks_on(rig)
    ids = dropped_sessions(rig, 7)  # a pass claims 5: both processes get a share
    first, second = await outbox(rig, LATER, "a"), await outbox(rig, LATER, "b")
    assert (await first.wait(), await second.wait()) == (0, 0)
    assert len(dialled(rig)) == 7 and set(dialled(rig).values()) == {1}
    assert callback_states(rig, ids) == ["placed"] * 7


async def test_a_callback_a_killed_process_was_dialling_is_dialled_by_the_other(
    rig: Rig,
) -> None:
    callbacks_on(rig)
    [session] = dropped_sessions(rig, 1)
    release = asyncio.Event()
    rig.sms.hold_next(release)  # the carrier is slow to answer the dial
    doomed = await outbox(rig, LATER, "doomed")
    try:
        async with asyncio.timeout(60):  # a bound for a broken build, not a timing guess
            await rig.sms.wait_for(lambda r: r.action == "calls.create")
    except TimeoutError:
        pytest.fail("the callback was never dialled")
    doomed.send_signal(signal.SIGKILL)
    assert await doomed.wait() == -signal.SIGKILL
    release.set()
    assert callback_states(rig, [session]) == ["scheduled"]  # claimed, never recorded
    survivor = await outbox(rig, MUCH_LATER, "survivor")
    assert await survivor.wait() == 0, (rig.tmp / "survivor.out").read_text()
    assert callback_states(rig, [session]) == ["placed"]
    # the dial the dead process sent may also have rung: at least once, never lost
    assert list(dialled(rig)) == ["+15125560000"] and dialled(rig)["+15125560000"] == 2
