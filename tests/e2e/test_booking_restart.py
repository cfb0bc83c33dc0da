"""SIGKILL in the middle of a booking, then a restart: nothing is lost or doubled.

A real ``frontdesk call`` process (stub speech, the whole engine) books into the local
CRM through the fault proxy. The proxy holds the booking write, and the test kills the
process with SIGKILL while it waits. A new process (``frontdesk outbox``) must then
finish the booking exactly once and text the caller through the fake Twilio API, and
``frontdesk reconcile`` must find nothing wrong.

Two places to die: after the write reached the CRM (its answer never came), and before
it did (the proxy still holds it; it lands late, after the restart already rebooked).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer
from frontdesk.client.crm_server import CrmServer, CrmServerRunner
from frontdesk.client.faultproxy import Fault, FaultKind, FaultPlan, FaultProxy
from frontdesk.profile import example_profile_text
from frontdesk.store import C_COMMITTED, C_PENDING, C_RECONCILED, C_UNKNOWN, open_store

SECRET = "restart-secret"
SID, TOKEN = "AC" + "1" * 32, "restart-token"
CALLER = "+15125550123"
T0 = "2026-11-30T07:00:00-06:00"
LATER = "2026-11-30T10:00:00-06:00"  # the killed call's row is stale by then


@dataclass
class Rig:
    crm: CrmServer
    proxy: FaultProxy
    sms: CarrierApi
    env: dict[str, str]
    profile: Path
    db: str
    tmp: Path
    release: asyncio.Event
    delaying: asyncio.Event


@pytest.fixture
async def rig(tmp_path: Path, store_url: str) -> AsyncIterator[Rig]:
    release, delaying = asyncio.Event(), asyncio.Event()

    async def held_sleep(seconds: float) -> None:  # the proxy's "latency": ours to end
        delaying.set()
        await release.wait()

    crm = CrmServer(SECRET.encode())
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key="k")
    async with CrmServerRunner(crm) as running, CarrierApiServer(api) as sms:
        upstream = urlsplit(running.base_url)
        assert upstream.hostname is not None and upstream.port is not None
        async with FaultProxy(upstream.hostname, upstream.port, FaultPlan(),
                              sleep=held_sleep) as proxy:
            data = yaml.safe_load(example_profile_text())
            data["engine"]["stub"]["tts_ms_per_char"] = 4
            # a long in-call budget: the kill always lands while the write is out
            data["booking"] = {"backend": "crm", "crm": {"base_url": proxy.base_url},
                               "in_call_budget_ms": 8000, "request_timeout_ms": 30000}
            profile = tmp_path / "shop.yaml"
            profile.write_text(yaml.safe_dump(data))
            db = store_url
            env = {**os.environ, "FRONTDESK_DATABASE_URL": db, "FRONTDESK_CRM_SECRET": SECRET,
                   "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                   "TWILIO_API_BASE": sms.base_url, "FRONTDESK_PUBLIC_URL": "http://127.0.0.1:9"}
            yield Rig(crm, proxy, api, env, profile, db, tmp_path, release, delaying)
            release.set()


async def frontdesk(rig: Rig, *args: str, name: str) -> asyncio.subprocess.Process:
    out = (rig.tmp / f"{name}.out").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "frontdesk.cli", *args, env=rig.env, stdout=out,
            stderr=asyncio.subprocess.STDOUT)
    finally:
        out.close()


async def run(rig: Rig, *args: str, name: str) -> tuple[int, str]:
    process = await frontdesk(rig, *args, name=name)
    code = await process.wait()
    return code, (rig.tmp / f"{name}.out").read_text()


async def bounded(waiting: Awaitable[object], what: str) -> None:
    """A safety bound so a broken build fails instead of hanging; not a timing guess."""
    try:
        await asyncio.wait_for(waiting, 60)
    except TimeoutError:
        pytest.fail(f"gave up waiting for {what}")


async def call_and_kill(rig: Rig, fault: Fault) -> None:
    rig.proxy.plan.push(fault)
    process = await frontdesk(
        rig, "call", "--stub", "--profile", str(rig.profile), "--now", T0,
        "--say", "I'd like to book an oil change on December 1 at 10 AM. My name is Ann Lee.",
        "--say", "Yes, please.", name="call")
    if fault.kind is FaultKind.HANG_AFTER_WRITE:  # wait until the write has landed
        await bounded(rig.proxy.wait_for_events(1), "the booking write")
    else:  # held before the write: wait until the proxy is sitting on it
        await bounded(rig.delaying.wait(), "the booking write")
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


def commitments(rig: Rig) -> dict[str, list[str]]:
    store = open_store(rig.db)
    try:
        business = store.for_business("main-street-auto")
        states: dict[str, list[str]] = {}
        for c in business.list_commitments():
            states.setdefault(c.kind, []).append(c.state)
        return states
    finally:
        store.close()


async def restart_and_check(rig: Rig) -> None:
    code, out = await run(rig, "outbox", "--profile", str(rig.profile), "--now", LATER,
                          name="outbox")
    assert code == 0, out
    assert "texts proposed 1, sent 1" in out
    rig.release.set()  # a write the proxy still held lands now, after the rebooking
    await bounded(rig.proxy.wait_idle(), "the late write")
    [appointment] = rig.crm.appointments()
    assert appointment["customer_name"] == "Ann Lee"
    assert commitments(rig) == {"book": [C_COMMITTED], "sms": [C_COMMITTED]}
    [text] = [r for r in rig.sms.requests if r.action == "messages.create"]
    assert text.form is not None and text.form["To"] == CALLER
    assert "your oil change is confirmed for Tuesday, December 1 at 10 AM" in text.form["Body"]
    code, out = await run(rig, "reconcile", "--json", "--profile", str(rig.profile),
                          "--now", LATER, name="reconcile")
    assert code == 0, out
    [report] = json.loads(out[out.index("["):])
    assert (report["checked"], report["reconciled"], report["open"]) == (1, 1, [])
    assert commitments(rig)["book"] == [C_RECONCILED]


async def test_killed_after_the_write_landed(rig: Rig) -> None:
    await call_and_kill(rig, Fault.hang_after_write())
    assert len(rig.crm.appointments()) == 1  # it landed; nobody was told
    assert commitments(rig)["book"][0] in (C_PENDING, C_UNKNOWN)
    await restart_and_check(rig)


async def test_killed_before_the_write_landed(rig: Rig) -> None:
    await call_and_kill(rig, Fault.delay(5.0))
    assert rig.crm.appointments() == []
    assert commitments(rig)["book"][0] in (C_PENDING, C_UNKNOWN)
    await restart_and_check(rig)
    # two creates under one key reached the CRM: the rebooking and the late original
    assert [r.method for r in rig.crm.requests if r.method == "POST"] == ["POST", "POST"]
