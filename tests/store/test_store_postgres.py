"""The same store against a real PostgreSQL, when FRONTDESK_TEST_POSTGRES_URL is set.

Example: postgresql+psycopg://postgres@/fd?host=/tmp/pg&port=55432. The database is
wiped at the start of each test, so point it at a throwaway database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from frontdesk.store import BookingConflict, Store, TurnRecord, open_store

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/Chicago"))


@pytest.fixture
def store(fresh_postgres: str) -> Iterator[Store]:
    s = open_store(fresh_postgres)
    try:
        yield s
    finally:
        s.close()


def test_round_trip_and_isolation(store: Store) -> None:
    a, b = store.for_business("shop-a"), store.for_business("shop-b")
    call = a.create_call("+15125550111", "+15125550100", started_at=T0)
    turn = a.add_turn(call.id, TurnRecord(0, "hi", "hello", "hel", True, 0.5, {"stt": 1.5}, 9.0))
    assert a.list_turns(call.id) == [turn] and turn.spans == {"stt": 1.5}
    booking = a.create_booking(
        service_id="oil-change",
        resource_ids=["bay-1"],
        start_at=T0,
        end_at=T0 + timedelta(minutes=30),
        customer_name="Ann",
        call_id=call.id,
    )
    assert booking.start_at == T0 and booking.start_at.tzinfo == UTC
    assert b.get_call(call.id) is None and b.get_booking(booking.id) is None
    assert a.list_bookings(T0, T0 + timedelta(hours=1)) == [booking]


def test_last_slot_race(store: Store) -> None:
    repo = store.for_business("shop-a")
    barrier = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            repo.create_booking(
                service_id="oil-change",
                resource_ids=["bay-1"],
                start_at=T0,
                end_at=T0 + timedelta(minutes=30),
                customer_name=f"c{n}",
            )
            ok = True
        except BookingConflict:
            ok = False
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [False] * 7 + [True]
