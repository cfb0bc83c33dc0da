"""Outbound callbacks of dropped calls: dialled once, when due, through the carrier's REST
API (the local fake answers in Twilio's format); the answered leg resumes the session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from frontdesk.actions.booking import BookingDesk
from frontdesk.brain.base import CallerTurn, Text
from frontdesk.brain.receptionist import Receptionist
from frontdesk.call.continuity import join, leave
from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.server.callbacks import CarrierDialer, place_callbacks
from frontdesk.store import (
    BOOKING_CONFIRMED,
    CALLBACK_ANSWERED,
    CALLBACK_CANCELLED,
    CALLBACK_PLACED,
    BusinessStore,
    Store,
    open_store,
)
from frontdesk.telephony.twilio.rest import TwilioActions, TwilioConfig

NOW = datetime.fromisoformat("2026-11-30T07:00:00-06:00")
SHOP, CALLER = "+15125550100", "+15125551234"
SID, TOKEN = "AC" + "2" * 32, "callback-token"
PUBLIC = "https://frontdesk.example"
WINDOW = timedelta(hours=24)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (f"sqlite:///{tmp_path / 't.db'}" if request.param == "sqlite"
           else request.getfixturevalue("fresh_postgres"))
    s = open_store(url)
    yield s
    s.close()


@pytest.fixture
def profile() -> Profile:
    shop = parse_profile(example_profile_text(), "<example>")
    sessions = shop.sessions.model_copy(update={"callback": True, "callback_after_minutes": 5})
    return shop.model_copy(update={"sessions": sessions})


@dataclass
class Carrier:
    api: CarrierApi
    dialer: CarrierDialer

    def dialled(self) -> list[str]:
        return [r.form["To"] for r in self.api.requests
                if r.action == "calls.create" and r.form is not None]


@pytest.fixture
async def carrier() -> AsyncIterator[Carrier]:
    api = CarrierApi(twilio_account_sid=SID, twilio_auth_token=TOKEN, telnyx_api_key="k")
    async with CarrierApiServer(api) as server:
        actions = TwilioActions(TwilioConfig(SID, TOKEN, api_base=server.base_url))
        yield Carrier(api, CarrierDialer(actions, PUBLIC))
        await actions.aclose()


async def leg(profile: Profile, business: BusinessStore, desk: BookingDesk, at: datetime,
              lines: list[str], *, hang_up: bool = True,
              outbound: bool = False) -> tuple[Receptionist, list[str]]:
    call = business.create_call(CALLER, SHOP, started_at=at)
    joined = await join(business, call_id=call.id, caller=CALLER, now=at, window=WINDOW,
                        outbound=outbound)
    brain = Receptionist(profile, business, call_id=call.id, caller_number=CALLER,
                         now=lambda: at, desk=desk, session=joined.session,
                         resumed=joined.resumed, called_back=joined.called_back)
    said = ["".join([o.text async for o in brain.greet() if isinstance(o, Text)])]
    for text in lines:
        said.append("".join([o.text async for o in brain.respond(CallerTurn(text, 0.9))
                             if isinstance(o, Text)]))
        brain.heard(said[-1], False)
    if hang_up:
        await brain.settle()
        await leave(business, profile, desk, joined.session, brain, call_id=call.id, now=at)
    return brain, said


async def test_a_dropped_booking_is_called_back_once_and_finished_on_that_call(
    store: Store, profile: Profile, carrier: Carrier
) -> None:
    business = store.for_business(profile.business.id)
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    await leg(profile, business, desk, NOW, ["I'd like to book an oil change.",
                                             "December 1 at 10 AM.", "Ann Lee."])
    [session] = business.sessions_for(CALLER)
    assert session.callback_at == NOW + timedelta(minutes=5)

    def clock(minutes: float) -> datetime:
        return NOW + timedelta(minutes=minutes)

    assert await place_callbacks(business, profile, carrier.dialer, owner="a",
                                 now=lambda: clock(1)) == 0  # not due yet
    # two instances' back offices race for it: one dials
    placed = await asyncio.gather(
        place_callbacks(business, profile, carrier.dialer, owner="a", now=lambda: clock(6)),
        place_callbacks(business, profile, carrier.dialer, owner="b", now=lambda: clock(6)))
    assert sorted(placed) == [0, 1] and carrier.dialled() == [CALLER]
    [create] = [r for r in carrier.api.requests if r.action == "calls.create"]
    assert create.form is not None
    assert (create.form["From"], create.form["Url"]) == (SHOP, PUBLIC + "/twilio/voice")
    assert business.get_session(session.id).callback_state == CALLBACK_PLACED  # type: ignore[union-attr]
    assert await place_callbacks(business, profile, carrier.dialer, owner="b",
                                 now=lambda: clock(30)) == 0

    # the callee answers: the carrier's webhook opens a leg from their number
    _, said = await leg(profile, business, desk, clock(7), ["Yes, please."], outbound=True)
    assert said[0].startswith("Hi, this is Main Street Auto calling you back")
    assert "oil change tomorrow at 10 AM" in said[0]
    assert "booked for tomorrow at 10 AM" in said[1]
    [booking] = business.list_bookings(NOW, NOW + timedelta(days=3))
    assert booking.status == BOOKING_CONFIRMED
    assert business.get_session(session.id).callback_state == CALLBACK_ANSWERED  # type: ignore[union-attr]


async def test_no_callback_when_the_caller_rings_back_first(
    store: Store, profile: Profile, carrier: Carrier
) -> None:
    business = store.for_business(profile.business.id)
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    await leg(profile, business, desk, NOW, ["I'd like to book an oil change."])
    _, said = await leg(profile, business, desk, NOW + timedelta(minutes=2), [],
                        hang_up=False)
    assert said[0].startswith("Welcome back")
    [session] = business.sessions_for(CALLER)
    assert session.callback_state == CALLBACK_CANCELLED
    assert await place_callbacks(business, profile, carrier.dialer, owner="a",
                                 now=lambda: NOW + timedelta(minutes=10)) == 0
    assert carrier.dialled() == []


async def test_a_refused_dial_is_not_retried_for_ever(
    store: Store, profile: Profile, carrier: Carrier
) -> None:
    business = store.for_business(profile.business.id)
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    await leg(profile, business, desk, NOW, ["I'd like to book an oil change."])
    carrier.api.fail_next(400)  # e.g. a number the carrier will not call
    later = NOW + timedelta(minutes=6)
    assert await place_callbacks(business, profile, carrier.dialer, owner="a",
                                 now=lambda: later) == 0
    assert await place_callbacks(business, profile, carrier.dialer, owner="a",
                                 now=lambda: later + timedelta(minutes=5)) == 0
    assert business.sessions_for(CALLER)[0].callback_state == "failed"


async def test_an_inbound_ring_back_is_not_our_callback_and_one_callback_per_session(
    store: Store, profile: Profile, carrier: Carrier
) -> None:
    business = store.for_business(profile.business.id)
    desk = BookingDesk(profile, business, clock=lambda: NOW)
    await leg(profile, business, desk, NOW, ["I'd like to book an oil change."])
    later = NOW + timedelta(minutes=6)
    assert await place_callbacks(business, profile, carrier.dialer, owner="a",
                                 now=lambda: later) == 1
    # the callee misses our call but rings in themselves: an inbound leg
    _, said = await leg(profile, business, desk, later + timedelta(minutes=1), [])
    assert said[0].startswith("Welcome back to Main Street Auto.")
    [session] = business.sessions_for(CALLER)
    assert session.callback_state == CALLBACK_PLACED and session.callback_at is not None
    # dropping again does not schedule another callback: one per session
    assert await place_callbacks(business, profile, carrier.dialer, owner="a",
                                 now=lambda: later + timedelta(hours=1)) == 0
    assert carrier.dialled() == [CALLER]
