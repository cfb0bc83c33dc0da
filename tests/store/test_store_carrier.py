"""Carrier columns, one-time claims, recording state and the call event log.

Each test runs on SQLite and, when FRONTDESK_TEST_POSTGRES_URL is set, on PostgreSQL too:
the claim and the event sequence rely on each database's locking, so both must be seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

import frontdesk.store.engine as store_engine
from frontdesk.store import (
    RECORDING_RECORDING,
    RECORDING_SAVED,
    RECORDING_STOPPED_BY_CALLER,
    BusinessStore,
    RecordNotFound,
    Store,
    open_store,
)

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
R = TypeVar("R")


def _race(n: int, attempt: Callable[[int], R]) -> list[R]:
    """Run ``attempt`` in ``n`` threads released at the same instant; their results."""
    barrier = threading.Barrier(n)
    results: list[R] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            result = attempt(i)
        except BaseException as error:  # surfaced below, with the others' results
            with lock:
                errors.append(error)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_carrier_call_is_created_ringing_and_found_by_its_carrier_id(
    shop_a: BusinessStore, shop_b: BusinessStore
) -> None:
    call = shop_a.create_call("+15125550111", "+15125550100", started_at=T0, carrier="twilio",
                              carrier_call_id="CA123", status="ringing")
    assert (call.status, call.carrier, call.carrier_call_id) == ("ringing", "twilio", "CA123")
    assert call.recording is None and call.end_reason is None and call.duration_s is None
    assert shop_a.find_call_by_carrier_id("twilio", "CA123") == call
    assert shop_a.find_call_by_carrier_id("telnyx", "CA123") is None
    assert shop_a.find_call_by_carrier_id("twilio", "CA124") is None
    assert shop_b.find_call_by_carrier_id("twilio", "CA123") is None
    plain = shop_a.create_call("+1", "+2", started_at=T0)
    assert (plain.status, plain.carrier, plain.carrier_call_id) == ("active", None, None)


def test_claim_succeeds_once(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0, status="ringing")
    assert shop_b.claim_call(call.id) is False  # another business cannot take it
    assert shop_a.get_call(call.id) == call
    assert shop_a.claim_call(call.id) is True
    assert shop_a.claim_call(call.id) is False  # a replayed token
    assert shop_a.claim_call("no-such-call") is False
    claimed = shop_a.get_call(call.id)
    assert claimed is not None and claimed.status == "active"
    assert shop_a.claim_call(call.id, expected="active", new="completed") is True
    done = shop_a.get_call(call.id)
    assert done is not None and done.status == "completed"


def test_racing_claims_have_exactly_one_winner(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0, status="ringing")
    results = _race(8, lambda _i: shop_a.claim_call(call.id))
    assert sorted(results) == [False] * 7 + [True]


def test_a_redelivered_webhook_finds_its_call_even_when_racing(shop_a: BusinessStore) -> None:
    first, created = shop_a.open_carrier_call("+1", "+2", carrier="twilio",
                                              carrier_call_id="CA9")
    assert created and first.status == "ringing"
    assert shop_a.open_carrier_call("+1", "+2", carrier="twilio", carrier_call_id="CA9") == (
        first, False)
    results = _race(6, lambda _i: shop_a.open_carrier_call("+1", "+2", carrier="telnyx",
                                                          carrier_call_id="v3:x"))
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({call.id for call, _ in results}) == 1


def test_carrier_status_keeps_a_known_duration(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0, carrier="telnyx", carrier_call_id="v3:x")
    updated = shop_a.set_carrier_status(call.id, carrier_status="completed", duration_s=42)
    assert (updated.carrier_status, updated.duration_s) == ("completed", 42)
    late = shop_a.set_carrier_status(call.id, carrier_status="completed")
    assert late.duration_s == 42
    assert shop_a.get_call(call.id) == late


def test_end_call_stores_the_end_reason(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    ended = shop_a.end_call(call.id, status="dropped", outcome="none", end_reason="dropped",
                            ended_at=T0 + timedelta(minutes=1))
    assert (ended.status, ended.end_reason) == ("dropped", "dropped")
    assert shop_a.get_call(call.id) == ended
    assert shop_a.end_call(call.id).end_reason is None  # the default says nothing


def test_recording_state_and_path(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    on = shop_a.set_recording(call.id, state=RECORDING_RECORDING, path="var/recordings/x.wav")
    assert (on.recording, on.recording_path) == ("recording", "var/recordings/x.wav")
    saved = shop_a.set_recording(call.id, state=RECORDING_SAVED, path="var/recordings/x.wav")
    assert shop_a.get_call(call.id) == saved and saved.recording == "saved"
    stopped = shop_a.set_recording(call.id, state=RECORDING_STOPPED_BY_CALLER)
    assert (stopped.recording, stopped.recording_path) == ("stopped_by_caller", None)
    with pytest.raises(ValueError, match="unknown recording state"):
        shop_a.set_recording(call.id, state="paused")
    assert shop_a.get_call(call.id) == stopped


def test_event_log_is_sequenced_per_call(shop_a: BusinessStore) -> None:
    first = shop_a.create_call("+1", "+2", started_at=T0)
    second = shop_a.create_call("+1", "+2", started_at=T0)
    chicago = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    disclosed = shop_a.add_call_event(first.id, "recording.disclosed",
                                      {"text": "This call is recorded.", "turn": 0}, at=chicago)
    shop_a.add_call_event(second.id, "recording.disclosed")
    started = shop_a.add_call_event(first.id, "recording.started", {"path": "a.wav"})
    stopped = shop_a.add_call_event(first.id, "recording.stopped_by_caller")
    assert [e.seq for e in (disclosed, started, stopped)] == [0, 1, 2]
    assert disclosed.at == chicago and disclosed.at.tzinfo is UTC
    assert disclosed.data == {"text": "This call is recorded.", "turn": 0}
    assert stopped.data == {}
    assert shop_a.list_call_events(first.id) == [disclosed, started, stopped]
    assert shop_a.list_call_events(first.id, kind="recording.started") == [started]
    assert [e.seq for e in shop_a.list_call_events(second.id)] == [0]
    with pytest.raises(RecordNotFound):
        shop_a.add_call_event("no-such-call", "recording.started")


def test_concurrent_appends_get_distinct_sequence_numbers(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    records = _race(8, lambda i: shop_a.add_call_event(call.id, "carrier.status", {"n": i}))
    assert sorted(r.seq for r in records) == list(range(8))
    logged = shop_a.list_call_events(call.id)
    assert [e.seq for e in logged] == list(range(8))
    assert sorted(e.data["n"] for e in logged) == list(range(8))


def test_another_business_cannot_touch_a_call_or_its_log(
    shop_a: BusinessStore, shop_b: BusinessStore
) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0, carrier="twilio", carrier_call_id="CA9")
    event = shop_a.add_call_event(call.id, "recording.disclosed")
    assert shop_b.list_call_events(call.id) == []
    assert shop_b.list_call_events(call.id, kind="recording.disclosed") == []
    with pytest.raises(RecordNotFound):
        shop_b.add_call_event(call.id, "recording.stopped_by_caller")
    with pytest.raises(RecordNotFound):
        shop_b.set_recording(call.id, state=RECORDING_STOPPED_BY_CALLER)
    with pytest.raises(RecordNotFound):
        shop_b.set_carrier_status(call.id, carrier_status="completed", duration_s=1)
    with pytest.raises(RecordNotFound):
        shop_b.end_call(call.id, end_reason="dropped")
    assert shop_a.get_call(call.id) == call
    assert shop_a.list_call_events(call.id) == [event]


def test_deleting_a_call_deletes_its_log(store: Store, shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    shop_a.add_call_event(call.id, "recording.disclosed")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM calls WHERE id = :id"), {"id": call.id})
        assert conn.execute(text("SELECT count(*) FROM call_events")).scalar() == 0


def _alembic(url: str) -> Config:
    package = Path(store_engine.__file__).resolve().parent
    config = Config(str(package / "alembic.ini"))
    config.set_main_option("script_location", str(package / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _migrate(url: str, step: Callable[[Config], None]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config = _alembic(url)
            config.attributes["connection"] = conn
            step(config)
    finally:
        engine.dispose()


def test_upgrade_keeps_calls_made_before_it_and_downgrade_removes_it(store_url: str) -> None:
    _migrate(store_url, lambda c: command.upgrade(c, "0001"))
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO calls (id, business_id, from_number, to_number, started_at, status)"
                " VALUES ('old', 'shop-a', '+1', '+2', '2026-11-30 15:00:00', 'completed')"))
        with open_store(store_url) as store:  # migrates to head
            old = store.for_business("shop-a").get_call("old")
            assert old is not None and old.status == "completed"
            assert (old.carrier, old.recording, old.end_reason) == (None, None, None)
            store.for_business("shop-a").add_call_event("old", "recording.disclosed")
        _migrate(store_url, lambda c: command.downgrade(c, "0001"))
        inspector = inspect(engine)
        assert "call_events" not in inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("calls")}
        assert "carrier" not in columns and "recording_path" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM calls")).scalars().all() == ["old"]
    finally:
        engine.dispose()
