"""The business-scoped repository: round trips, UTC handling, and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from frontdesk.store import (
    BookingConflict,
    BusinessStore,
    RecordNotFound,
    Store,
    TurnRecord,
    open_store,
)

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def shop_a(store: Store) -> BusinessStore:
    return store.for_business("shop-a")


@pytest.fixture
def shop_b(store: Store) -> BusinessStore:
    return store.for_business("shop-b")


def _book(repo: BusinessStore, start: datetime, minutes: int = 30, **kw: object) -> str:
    record = repo.create_booking(
        service_id="oil-change",
        resource_ids=kw.pop("resources", ["bay-1"]),  # type: ignore[arg-type]
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        customer_name="Ann",
        created_at=T0,
    )
    return record.id


def test_call_lifecycle_and_turns(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+15125550111", "+15125550100", started_at=T0)
    assert call.status == "active" and call.ended_at is None and call.started_at == T0
    turn = TurnRecord(
        index=0,
        caller_text="I need an oil change",
        agent_text="Sure, what day works for you?",
        agent_text_played="Sure, what",
        interrupted=True,
        caller_confidence=0.93,
        spans={"endpoint": 400.0, "stt": 80.5},
        latency_ms=812.0,
    )
    stored = shop_a.add_turn(call.id, turn, created_at=T0)
    shop_a.add_turn(call.id, TurnRecord(1, "tomorrow", "Tuesday at 9?", "Tuesday at 9?"))
    turns = shop_a.list_turns(call.id)
    assert [t.index for t in turns] == [0, 1]
    assert turns[0] == stored and turns[0].spans == {"endpoint": 400.0, "stt": 80.5}
    assert turns[0].interrupted and turns[0].agent_text_played == "Sure, what"
    ended = shop_a.end_call(call.id, outcome="booked", ended_at=T0 + timedelta(minutes=3))
    assert (ended.status, ended.outcome) == ("completed", "booked")
    assert shop_a.get_call(call.id) == ended
    assert shop_a.list_calls() == [ended]


def test_times_come_back_aware_utc(shop_a: BusinessStore) -> None:
    chicago = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    booking_id = _book(shop_a, chicago)
    booking = shop_a.get_booking(booking_id)
    assert booking is not None
    assert booking.start_at.tzinfo is UTC and booking.start_at == chicago
    assert booking.start_at.hour == 15
    with pytest.raises(ValueError, match="naive"):
        shop_a.create_call("+1", "+2", started_at=datetime(2026, 1, 1))


def test_booking_overlap_is_refused_per_resource(shop_a: BusinessStore) -> None:
    _book(shop_a, T0, 60)
    with pytest.raises(BookingConflict):
        _book(shop_a, T0 + timedelta(minutes=30))
    _book(shop_a, T0 + timedelta(minutes=60))  # touching is not overlapping
    second = shop_a.get_booking(_book(shop_a, T0, resources=["bay-1", "bay-2"]))
    assert second is not None and second.resource_id == "bay-2"
    assert [b.resource_id for b in shop_a.list_bookings(T0, T0 + timedelta(minutes=1))] == [
        "bay-1",
        "bay-2",
    ]


def test_cancelled_bookings_hidden_unless_asked(shop_a: BusinessStore) -> None:
    booking_id = _book(shop_a, T0)
    shop_a.cancel_booking(booking_id)
    window = (T0, T0 + timedelta(hours=1))
    assert shop_a.list_bookings(*window) == []
    assert [b.status for b in shop_a.list_bookings(*window, include_cancelled=True)] == [
        "cancelled"
    ]
    _book(shop_a, T0)  # the slot is free again


def test_messages(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+15125550111", "+15125550100", started_at=T0)
    shop_a.add_message(
        "Call me back about brakes", caller_name="Bo", call_id=call.id, created_at=T0
    )
    shop_a.add_message("Are you open Sunday?", created_at=T0 + timedelta(seconds=1))
    assert [m.text for m in shop_a.list_messages()] == [
        "Call me back about brakes",
        "Are you open Sunday?",
    ]
    assert [m.caller_name for m in shop_a.list_messages(call_id=call.id)] == ["Bo"]


def test_business_isolation(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    call = shop_a.create_call("+15125550111", "+15125550100", started_at=T0)
    shop_a.add_turn(call.id, TurnRecord(0, "hi", "hello", "hello"))
    booking_id = _book(shop_a, T0)
    shop_a.add_message("hello", call_id=call.id)

    assert shop_b.get_call(call.id) is None
    assert shop_b.list_calls() == []
    assert shop_b.list_turns(call.id) == []
    assert shop_b.get_booking(booking_id) is None
    assert shop_b.list_bookings(T0 - timedelta(days=1), T0 + timedelta(days=1)) == []
    assert shop_b.list_messages() == [] and shop_b.list_messages(call_id=call.id) == []
    with pytest.raises(RecordNotFound):
        shop_b.end_call(call.id)
    with pytest.raises(RecordNotFound):
        shop_b.add_turn(call.id, TurnRecord(1, "x", "y", "y"))
    with pytest.raises(RecordNotFound):
        shop_b.cancel_booking(booking_id)
    with pytest.raises(RecordNotFound):
        shop_b.add_message("sneaky", call_id=call.id)
    # Same resource name, other business: no conflict across tenants.
    _book(shop_b, T0)
    assert (
        shop_a.get_call(call.id) is not None
        and len(shop_a.list_bookings(T0, T0 + timedelta(1))) == 1
    )


def test_repository_exposes_no_unscoped_reads() -> None:
    public = {name for name in dir(BusinessStore) if not name.startswith("_")}
    assert public == {
        "create_call", "end_call", "get_call", "list_calls", "add_turn", "list_turns",
        "claim_call", "open_carrier_call", "find_call_by_carrier_id", "set_carrier_status",
        "set_recording",
        "add_call_event", "list_call_events",
        "create_booking", "cancel_booking", "get_booking", "list_bookings", "bookings_for_call",
        "add_message", "list_messages",
        "get_booking_by_key", "set_booking_status", "get_message_by_key",
        "upcoming_bookings_for", "release_holds", "stale_open_sessions",
        "session_by_callback",
        # the commitment ledger (store/ledger_repo.py)
        "propose_commitment", "get_commitment", "get_commitment_by_key", "list_commitments",
        "transition_commitment", "set_told", "claim_commitments", "release_commitment",
        "list_attempts", "add_finding", "list_findings", "resolve_finding",
        # caller sessions (store/sessions_repo.py)
        "open_session", "get_session", "attach_call", "save_snapshot", "mark_dropped",
        "mark_finished", "find_resumable", "expire_sessions", "sessions_for",
        "claim_callbacks", "set_callback_state",
    }  # fmt: skip


def test_empty_business_id_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.for_business("")


def test_bookings_for_call_are_confirmed_and_scoped(
    shop_a: BusinessStore, shop_b: BusinessStore
) -> None:
    call = shop_a.create_call("+15125550111", "+15125550100", started_at=T0)
    kept = shop_a.create_booking(service_id="oil-change", resource_ids=["bay-1"], start_at=T0,
                                 end_at=T0 + timedelta(minutes=30), customer_name="Ann",
                                 call_id=call.id)
    dropped = shop_a.create_booking(service_id="oil-change", resource_ids=["bay-2"],
                                    start_at=T0, end_at=T0 + timedelta(minutes=30),
                                    customer_name="Ann", call_id=call.id)
    shop_a.cancel_booking(dropped.id)
    _book(shop_a, T0 + timedelta(hours=2))  # no call: not this call's
    assert [b.id for b in shop_a.bookings_for_call(call.id)] == [kept.id]
    assert shop_b.bookings_for_call(call.id) == []
