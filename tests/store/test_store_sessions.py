"""Caller sessions in the store: one conversation across call legs, resumed after a drop,
with an outbound callback that one worker at a time may place.

Every test runs on SQLite and on PostgreSQL (skipped unless FRONTDESK_TEST_POSTGRES_URL is
set, as scripts/test.sh does): the races rely on each database's own locking.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.exc import IntegrityError
from store_race import race

import frontdesk.store.engine as store_engine
from frontdesk.store import (
    CALLBACK_ANSWERED,
    CALLBACK_CANCELLED,
    CALLBACK_FAILED,
    CALLBACK_PLACED,
    CALLBACK_SCHEDULED,
    SESSION_DROPPED,
    SESSION_EXPIRED,
    SESSION_FINISHED,
    SESSION_OPEN,
    BusinessStore,
    RecordNotFound,
    SessionClosed,
    SessionInUse,
    SessionLeaseLost,
    SessionRecord,
    SessionUnavailable,
    Store,
    TurnRecord,
    open_store,
)

T0 = datetime(2026, 12, 16, 15, 0, tzinfo=UTC)
ANN = "+15125550111"
BOB = "+15125550122"
SHOP = "+15125550100"
R = TypeVar("R")


def _interleave(
    store: Store, first: Callable[[], R], second: Callable[[], R]
) -> tuple[R | Exception, R | Exception, bool]:
    """PostgreSQL: run ``first`` until it has read from ``sessions`` and pause it there,
    inside its transaction and holding whatever row locks it took; run ``second`` until it
    returns or waits on a lock; then let ``first`` finish. Both results, and whether
    ``second`` finished without waiting for ``first``. Without this, two threads'
    transactions rarely overlap at all, and a missing lock goes unnoticed."""
    paused, resume = threading.Event(), threading.Event()
    pausing = threading.local()
    results: dict[str, R | Exception] = {}

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if (getattr(pausing, "on", False) and "FROM sessions" in statement
                and not paused.is_set()):
            paused.set()
            assert resume.wait(timeout=30)

    def run(name: str, fn: Callable[[], R], pause: bool) -> None:
        pausing.on = pause
        try:
            results[name] = fn()
        except Exception as error:  # the caller sorts winners from losers
            results[name] = error

    def lock_waits() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
                       .scalar_one())

    event.listen(store.engine, "after_cursor_execute", on_execute)
    try:
        one = threading.Thread(target=run, args=("first", first, True))
        one.start()
        assert paused.wait(timeout=30), results
        two = threading.Thread(target=run, args=("second", second, False))
        two.start()
        for _ in range(3000):  # until it is done or blocked: a condition, not a duration
            if not two.is_alive() or lock_waits():
                break
            time.sleep(0.01)
        unblocked = not two.is_alive()
        resume.set()
        one.join(timeout=60)
        two.join(timeout=60)
        assert not one.is_alive() and not two.is_alive()
    finally:
        resume.set()
        event.remove(store.engine, "after_cursor_execute", on_execute)
    return results["first"], results["second"], unblocked


@pytest.fixture
def pg_store(fresh_postgres: str) -> Iterator[Store]:
    s = open_store(fresh_postgres)
    try:
        yield s
    finally:
        s.close()


def _dropped(repo: BusinessStore, number: str = ANN, *, at: datetime = T0,
             window: timedelta = timedelta(hours=24),
             callback_in: timedelta | None = None) -> SessionRecord:
    """A session whose first leg dropped at ``at``."""
    call = repo.create_call(number, SHOP, started_at=at)
    opened = repo.open_session(caller_number=number, call_id=call.id, now=at)
    return repo.mark_dropped(
        opened.id, now=at, resume_until=at + window,
        callback_at=None if callback_in is None else at + callback_in)


# -- the conversation ------------------------------------------------------------------


def test_a_session_lives_across_two_legs(shop_a: BusinessStore) -> None:
    first = shop_a.create_call(ANN, SHOP, started_at=T0)
    opened = shop_a.open_session(caller_number=ANN, call_id=first.id, now=T0)
    assert (opened.status, opened.legs, opened.last_call_id, opened.caller_number) == (
        SESSION_OPEN, 1, first.id, ANN)
    assert (opened.snapshot, opened.snapshot_seq, opened.task, opened.callback_state) == (
        None, 0, None, None)
    assert opened.created_at == opened.updated_at == T0
    assert (call := shop_a.get_call(first.id)) is not None and call.session_id == opened.id
    state = {"task": "booking", "slots": {"service": "brake inspection", "day": "Thu"},
             "offered": [{"start": "2026-12-17T14:00:00-06:00", "resource": "bay-1"}]}
    saved = shop_a.save_snapshot(opened.id, snapshot=state, task="booking",
                                 now=T0 + timedelta(seconds=30))
    assert (saved.snapshot, saved.snapshot_seq, saved.task) == (state, 1, "booking")
    drop_at = T0 + timedelta(minutes=1)
    dropped = shop_a.mark_dropped(
        opened.id, now=drop_at, resume_until=drop_at + timedelta(hours=24),
        hold_until=drop_at + timedelta(minutes=10), callback_at=drop_at + timedelta(minutes=2),
        call_id=first.id)
    assert (dropped.status, dropped.dropped_at, dropped.callback_state) == (
        SESSION_DROPPED, drop_at, CALLBACK_SCHEDULED)
    assert dropped.hold_until == drop_at + timedelta(minutes=10)
    assert dropped.snapshot == state  # a drop keeps what was said

    back_at = drop_at + timedelta(seconds=40)
    assert shop_a.find_resumable(ANN, now=back_at) == dropped
    second = shop_a.create_call(ANN, SHOP, started_at=back_at)
    resumed = shop_a.attach_call(dropped.id, call_id=second.id, now=back_at)
    assert (resumed.status, resumed.legs, resumed.last_call_id) == (SESSION_OPEN, 2, second.id)
    assert resumed.callback_state == CALLBACK_CANCELLED  # the caller rang back first
    assert resumed.hold_until == dropped.hold_until and resumed.snapshot == state
    assert (call := shop_a.get_call(second.id)) is not None and call.session_id == dropped.id
    assert shop_a.attach_call(dropped.id, call_id=second.id, now=back_at) == resumed
    assert shop_a.find_resumable(ANN, now=back_at) is None  # open, not resumable

    done = shop_a.mark_finished(dropped.id, now=back_at + timedelta(minutes=1),
                                call_id=second.id)
    assert (done.status, done.updated_at) == (SESSION_FINISHED, back_at + timedelta(minutes=1))
    assert shop_a.mark_finished(dropped.id, now=back_at + timedelta(hours=1)) == done
    assert shop_a.get_session(dropped.id) == done
    assert shop_a.find_resumable(ANN, now=back_at + timedelta(minutes=2)) is None


def test_open_session_checks_its_call(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    theirs = shop_b.create_call(ANN, SHOP, started_at=T0)
    with pytest.raises(RecordNotFound):
        shop_a.open_session(caller_number=ANN, call_id=theirs.id, now=T0)
    with pytest.raises(ValueError, match="32"):
        shop_a.open_session(caller_number="1" * 33, now=T0)
    with pytest.raises(ValueError):
        shop_a.open_session(caller_number="", now=T0)
    assert shop_a.sessions_for(ANN) == [] and shop_b.sessions_for(ANN) == []
    assert (call := shop_b.get_call(theirs.id)) is not None and call.session_id is None
    bare = shop_a.open_session(caller_number=ANN, now=T0)  # a leg may join later
    assert (bare.last_call_id, bare.legs) == (None, 1)


def test_a_retried_open_keeps_one_session_per_call(shop_a: BusinessStore) -> None:
    call = shop_a.create_call(ANN, SHOP, started_at=T0)
    results = race(4, lambda _i: shop_a.open_session(caller_number=ANN, call_id=call.id,
                                                      now=T0))
    records = [r for r in results if isinstance(r, SessionRecord)]
    assert len(records) == 4, results
    assert len({r.id for r in records}) == 1
    assert [s.id for s in shop_a.sessions_for(ANN)] == [records[0].id]


def test_resume_is_for_the_same_number_inside_the_window(
    shop_a: BusinessStore, shop_b: BusinessStore
) -> None:
    window = timedelta(hours=24)
    dropped = _dropped(shop_a, window=window)
    assert shop_a.find_resumable(ANN, now=T0 + timedelta(hours=23)) == dropped
    assert shop_a.find_resumable(BOB, now=T0 + timedelta(seconds=1)) is None
    assert shop_a.find_resumable(ANN[1:], now=T0) is None  # exact numbers only
    assert shop_b.find_resumable(ANN, now=T0) is None  # another business's caller
    assert shop_a.find_resumable(ANN, now=T0 + window) is None  # the window is half-open
    # Two drops: the newer one is the conversation to continue.
    newer = _dropped(shop_a, at=T0 + timedelta(hours=1))
    assert shop_a.find_resumable(ANN, now=T0 + timedelta(hours=2)) == newer
    shop_a.mark_finished(newer.id, now=T0 + timedelta(hours=2))
    assert shop_a.find_resumable(ANN, now=T0 + timedelta(hours=2)) == dropped
    [expired] = shop_a.expire_sessions(now=T0 + window)
    assert expired.id == dropped.id
    assert shop_a.find_resumable(ANN, now=T0 + timedelta(hours=2)) is None
    assert [s.id for s in shop_a.sessions_for(ANN)] == [newer.id, dropped.id]
    assert shop_a.sessions_for(BOB) == []


def test_no_new_leg_once_finished_or_expired(shop_a: BusinessStore) -> None:
    finished = _dropped(shop_a)
    shop_a.mark_finished(finished.id, now=T0 + timedelta(minutes=1))
    leg = shop_a.create_call(ANN, SHOP, started_at=T0 + timedelta(minutes=2))
    with pytest.raises(SessionClosed) as closed:
        shop_a.attach_call(finished.id, call_id=leg.id, now=T0 + timedelta(minutes=2))
    assert (closed.value.session_id, closed.value.status) == (finished.id, SESSION_FINISHED)

    lapsed = _dropped(shop_a, window=timedelta(minutes=5))
    late = T0 + timedelta(minutes=5)
    with pytest.raises(SessionClosed, match="window"):  # before any sweep has run
        shop_a.attach_call(lapsed.id, call_id=leg.id, now=late)
    assert [s.id for s in shop_a.expire_sessions(now=late)] == [lapsed.id]
    with pytest.raises(SessionClosed) as closed:
        shop_a.attach_call(lapsed.id, call_id=leg.id, now=late)
    assert closed.value.status == SESSION_EXPIRED
    with pytest.raises(SessionClosed):
        shop_a.save_snapshot(lapsed.id, snapshot={}, task=None, now=late)
    with pytest.raises(SessionClosed):
        shop_a.mark_finished(lapsed.id, now=late)
    with pytest.raises(SessionClosed):
        shop_a.mark_dropped(finished.id, now=late, resume_until=late + timedelta(hours=1))
    assert (call := shop_a.get_call(leg.id)) is not None and call.session_id is None
    for sid, status in ((finished.id, SESSION_FINISHED), (lapsed.id, SESSION_EXPIRED)):
        assert (got := shop_a.get_session(sid)) is not None and (got.status, got.legs) == (
            status, 1)


def test_one_leg_at_a_time(shop_a: BusinessStore) -> None:
    dropped = _dropped(shop_a, callback_in=timedelta(minutes=2))
    first_leg = dropped.last_call_id
    assert first_leg is not None
    inbound = shop_a.create_call(ANN, SHOP, started_at=T0 + timedelta(minutes=1))
    outbound = shop_a.create_call(SHOP, ANN, started_at=T0 + timedelta(minutes=1),
                                  session_id=dropped.id)
    assert outbound.session_id == dropped.id
    now = T0 + timedelta(minutes=1)
    results = race(2, lambda i: shop_a.attach_call(
        dropped.id, call_id=(inbound.id, outbound.id)[i], now=now))
    joined = [r for r in results if isinstance(r, SessionRecord)]
    refused = [r for r in results if isinstance(r, SessionInUse)]
    assert len(joined) == 1 and len(refused) == 1, results
    winner = joined[0].last_call_id
    assert refused[0].call_id == winner and joined[0].legs == 2
    assert isinstance(refused[0], SessionUnavailable)
    # The legs that are not current may not write, drop or finish the session.
    for stale in {first_leg, inbound.id, outbound.id} - {winner}:
        with pytest.raises(SessionInUse):
            shop_a.save_snapshot(dropped.id, snapshot={"x": 1}, task=None, now=now,
                                 call_id=stale)
        with pytest.raises(SessionInUse):
            shop_a.mark_dropped(dropped.id, now=now, resume_until=now + timedelta(hours=1),
                                call_id=stale)
        with pytest.raises(SessionInUse):
            shop_a.mark_finished(dropped.id, now=now, call_id=stale)
    after = shop_a.get_session(dropped.id)
    assert after is not None and (after.status, after.snapshot_seq) == (SESSION_OPEN, 0)


def test_snapshots_count_and_round_trip(shop_a: BusinessStore) -> None:
    opened = shop_a.open_session(caller_number=ANN, now=T0)
    seqs = []
    for i in range(3):
        state = {"turn": i, "asked": ["name", "service"][: i], "empty": None, "ok": True}
        saved = shop_a.save_snapshot(opened.id, snapshot=state, task="booking",
                                     now=T0 + timedelta(seconds=i))
        assert saved.snapshot == state and saved.updated_at == T0 + timedelta(seconds=i)
        seqs.append(saved.snapshot_seq)
    assert seqs == [1, 2, 3]
    dropped = shop_a.mark_dropped(opened.id, now=T0 + timedelta(seconds=5),
                                  resume_until=T0 + timedelta(hours=1))
    # The last turn's state may land after the drop was noticed.
    late = shop_a.save_snapshot(opened.id, snapshot={"turn": 3}, task=None,
                                now=T0 + timedelta(seconds=6))
    assert (late.snapshot_seq, late.task, late.status) == (4, None, SESSION_DROPPED)
    assert late.dropped_at == dropped.dropped_at
    with pytest.raises(ValueError, match="24"):
        shop_a.save_snapshot(opened.id, snapshot={}, task="t" * 25, now=T0)
    assert (got := shop_a.get_session(opened.id)) is not None and got.snapshot == {"turn": 3}


def test_a_drop_is_recorded_once(shop_a: BusinessStore) -> None:
    opened = shop_a.open_session(caller_number=ANN, now=T0)
    first = shop_a.mark_dropped(opened.id, now=T0, resume_until=T0 + timedelta(hours=1))
    assert (first.callback_state, first.callback_at, first.hold_until) == (None, None, None)
    again = shop_a.mark_dropped(opened.id, now=T0 + timedelta(seconds=5),
                                resume_until=T0 + timedelta(hours=9),
                                callback_at=T0 + timedelta(minutes=1))
    assert again == first  # a second report (WebSocket close after the carrier's stop)
    assert shop_a.claim_callbacks(now=T0 + timedelta(hours=1), owner="w", lease_s=60,
                                  limit=5) == []


def test_expiry_sweeps_each_lapsed_session_once(shop_a: BusinessStore) -> None:
    lapsed = {_dropped(shop_a, BOB if i % 2 else ANN, at=T0 + timedelta(seconds=i),
                       window=timedelta(minutes=10),
                       callback_in=timedelta(minutes=1)).id for i in range(10)}
    inside = _dropped(shop_a, window=timedelta(hours=1))
    still_open = shop_a.open_session(caller_number=ANN, now=T0)
    now = T0 + timedelta(minutes=20)
    results = race(2, lambda _i: shop_a.expire_sessions(now=now))
    batches = [r for r in results if isinstance(r, list)]
    assert len(batches) == 2, results
    first, second = ({s.id for s in batch} for batch in batches)
    assert not first & second and first | second == lapsed
    for batch in batches:
        assert all(s.status == SESSION_EXPIRED and s.updated_at == now
                   and s.callback_state == CALLBACK_CANCELLED for s in batch)
    assert shop_a.expire_sessions(now=now) == []
    for kept, status in ((inside.id, SESSION_DROPPED), (still_open.id, SESSION_OPEN)):
        assert (got := shop_a.get_session(kept)) is not None and got.status == status


# -- the outbound callback -------------------------------------------------------------


def test_callbacks_are_claimed_when_due(shop_a: BusinessStore) -> None:
    early = _dropped(shop_a, callback_in=timedelta(minutes=2))
    later = _dropped(shop_a, BOB, at=T0 + timedelta(seconds=1),
                     callback_in=timedelta(minutes=5))
    _dropped(shop_a, at=T0 + timedelta(seconds=2))  # no callback planned
    short = _dropped(shop_a, BOB, at=T0 + timedelta(seconds=3), window=timedelta(minutes=3),
                     callback_in=timedelta(minutes=1))  # its window ends before we call
    finished = _dropped(shop_a, callback_in=timedelta(minutes=1))
    shop_a.mark_finished(finished.id, now=T0 + timedelta(seconds=30))
    assert shop_a.claim_callbacks(now=T0 + timedelta(seconds=59), owner="w1", lease_s=60,
                                  limit=10) == []
    now = T0 + timedelta(minutes=3, seconds=30)
    claimed = shop_a.claim_callbacks(now=now, owner="w1", lease_s=600, limit=10)
    assert [s.id for s in claimed] == [early.id]
    assert (claimed[0].callback_owner, claimed[0].callback_lease_until) == (
        "w1", now + timedelta(minutes=10))
    assert claimed[0].updated_at == early.updated_at  # a lease is not news
    assert claimed[0].callback_state == CALLBACK_SCHEDULED
    assert shop_a.claim_callbacks(now=now, owner="w2", lease_s=60, limit=10) == []
    assert [s.id for s in shop_a.claim_callbacks(now=T0 + timedelta(minutes=6), owner="w2",
                                                 lease_s=60, limit=1)] == [later.id]
    assert (got := shop_a.get_session(short.id)) is not None and got.callback_owner is None
    assert shop_a.claim_callbacks(now=now, owner="w1", lease_s=60, limit=0) == []
    with pytest.raises(ValueError):
        shop_a.claim_callbacks(now=now, owner="w1", lease_s=0, limit=1)
    with pytest.raises(ValueError):
        shop_a.claim_callbacks(now=now, owner="w" * 65, lease_s=1, limit=1)


def test_a_lapsed_lease_passes_to_another_worker(shop_a: BusinessStore) -> None:
    dropped = _dropped(shop_a, callback_in=timedelta(minutes=1))
    due = T0 + timedelta(minutes=1)
    [mine] = shop_a.claim_callbacks(now=due, owner="w1", lease_s=30, limit=5)
    assert shop_a.claim_callbacks(now=due + timedelta(seconds=29), owner="w2", lease_s=30,
                                  limit=5) == []
    later = due + timedelta(seconds=30)
    [theirs] = shop_a.claim_callbacks(now=later, owner="w2", lease_s=30, limit=5)
    assert theirs.id == mine.id == dropped.id and theirs.callback_owner == "w2"
    with pytest.raises(SessionLeaseLost) as lost:  # w1 woke up after its lease lapsed
        shop_a.set_callback_state(dropped.id, state=CALLBACK_PLACED, now=later, owner="w1")
    assert (lost.value.leased_by, lost.value.callback_state) == ("w2", CALLBACK_SCHEDULED)
    placed = shop_a.set_callback_state(dropped.id, state=CALLBACK_PLACED, now=later,
                                       owner="w2")
    assert (placed.callback_state, placed.callback_owner) == (CALLBACK_PLACED, "w2")
    assert placed.callback_lease_until == later + timedelta(seconds=30)  # kept while ringing
    # A placed callback is not claimable again, even once its lease lapses.
    assert shop_a.claim_callbacks(now=later + timedelta(minutes=5), owner="w3", lease_s=30,
                                  limit=5) == []


def test_callback_moves_follow_the_table(shop_a: BusinessStore) -> None:
    dropped = _dropped(shop_a, callback_in=timedelta(minutes=1))
    due = T0 + timedelta(minutes=1)
    shop_a.claim_callbacks(now=due, owner="w1", lease_s=60, limit=1)
    placed = shop_a.set_callback_state(dropped.id, state=CALLBACK_PLACED, now=due, owner="w1")
    assert shop_a.set_callback_state(dropped.id, state=CALLBACK_PLACED, now=due,
                                     owner="w1") == placed  # said twice
    # The carrier's answer webhook may reach another instance: no owner to compare.
    answered = shop_a.set_callback_state(dropped.id, state=CALLBACK_ANSWERED,
                                         now=due + timedelta(seconds=20))
    assert (answered.callback_state, answered.callback_owner, answered.callback_lease_until,
            answered.updated_at) == (CALLBACK_ANSWERED, None, None, due + timedelta(seconds=20))
    assert shop_a.set_callback_state(dropped.id, state=CALLBACK_ANSWERED,
                                     now=due + timedelta(minutes=1)) == answered
    with pytest.raises(SessionLeaseLost):
        shop_a.set_callback_state(dropped.id, state=CALLBACK_FAILED, now=due)
    with pytest.raises(SessionLeaseLost):  # the lease ended with the answer
        shop_a.set_callback_state(dropped.id, state=CALLBACK_ANSWERED, now=due, owner="w1")
    with pytest.raises(ValueError, match="unknown callback state"):
        shop_a.set_callback_state(dropped.id, state="ringing", now=due)
    with pytest.raises(SessionLeaseLost):  # only a drop schedules a callback
        shop_a.set_callback_state(dropped.id, state=CALLBACK_SCHEDULED, now=due)

    failing = _dropped(shop_a, BOB, callback_in=timedelta(minutes=1))
    shop_a.claim_callbacks(now=due, owner="w1", lease_s=60, limit=1)
    failed = shop_a.set_callback_state(failing.id, state=CALLBACK_FAILED, now=due, owner="w1")
    assert (failed.callback_state, failed.callback_owner) == (CALLBACK_FAILED, None)
    assert failed.status == SESSION_DROPPED  # the caller may still ring back
    none_planned = _dropped(shop_a)
    with pytest.raises(SessionLeaseLost):
        shop_a.set_callback_state(none_planned.id, state=CALLBACK_PLACED, now=due)


def test_the_caller_ringing_back_cancels_a_claimed_callback(shop_a: BusinessStore) -> None:
    dropped = _dropped(shop_a, callback_in=timedelta(minutes=1))
    due = T0 + timedelta(minutes=1)
    shop_a.claim_callbacks(now=due, owner="w1", lease_s=60, limit=1)
    inbound = shop_a.create_call(ANN, SHOP, started_at=due)
    resumed = shop_a.attach_call(dropped.id, call_id=inbound.id, now=due)
    assert (resumed.callback_state, resumed.callback_owner) == (CALLBACK_CANCELLED, None)
    with pytest.raises(SessionLeaseLost) as lost:  # the worker must not dial now
        shop_a.set_callback_state(dropped.id, state=CALLBACK_PLACED, now=due, owner="w1")
    assert lost.value.callback_state == CALLBACK_CANCELLED


def test_concurrent_callback_claimers_never_share_a_row(shop_a: BusinessStore) -> None:
    ids = {_dropped(shop_a, f"+1512555{i:04d}", at=T0 + timedelta(seconds=i),
                    callback_in=timedelta(minutes=1)).id for i in range(20)}
    now = T0 + timedelta(minutes=5)
    results = race(2, lambda i: shop_a.claim_callbacks(now=now, owner=f"w{i}", lease_s=60,
                                                        limit=10))
    batches = [r for r in results if isinstance(r, list)]
    assert len(batches) == 2, results
    first, second = ({s.id for s in batch} for batch in batches)
    assert not first & second
    assert first | second == ids  # skipped rows were the other's, so nothing is left over
    for batch in batches:
        assert len({s.callback_owner for s in batch}) == 1
        for s in batch:
            assert (got := shop_a.get_session(s.id)) is not None
            assert got.callback_owner == s.callback_owner


# -- PostgreSQL: two instances' transactions overlapping ---------------------------------


def test_pg_a_claimer_skips_the_rows_another_has_locked(pg_store: Store) -> None:
    repo = pg_store.for_business("shop-a")
    ids = {_dropped(repo, f"+1512555{i:04d}", at=T0 + timedelta(seconds=i),
                    callback_in=timedelta(minutes=1)).id for i in range(20)}
    now = T0 + timedelta(minutes=5)
    first, second, unblocked = _interleave(
        pg_store,
        lambda: repo.claim_callbacks(now=now, owner="w1", lease_s=60, limit=10),
        lambda: repo.claim_callbacks(now=now, owner="w2", lease_s=60, limit=10))
    assert isinstance(first, list) and isinstance(second, list), (first, second)
    assert unblocked  # w2 did not wait for w1 (SKIP LOCKED)...
    mine, theirs = {s.id for s in first}, {s.id for s in second}
    assert not mine & theirs  # ...nor take its rows
    assert len(mine) == len(theirs) == 10 and mine | theirs == ids
    assert {s.callback_owner for s in repo.sessions_for("+15125550000")} == {"w1"}


def test_pg_two_sweepers_expire_each_session_once(pg_store: Store) -> None:
    repo = pg_store.for_business("shop-a")
    ids = {_dropped(repo, f"+1512555{i:04d}", window=timedelta(minutes=5)).id
           for i in range(6)}
    now = T0 + timedelta(minutes=6)
    first, second, unblocked = _interleave(pg_store, lambda: repo.expire_sessions(now=now),
                                           lambda: repo.expire_sessions(now=now))
    assert isinstance(first, list) and isinstance(second, list), (first, second)
    assert unblocked and {s.id for s in first} == ids and second == []


def test_pg_two_legs_racing_for_a_session_one_joins(pg_store: Store) -> None:
    repo = pg_store.for_business("shop-a")
    dropped = _dropped(repo, callback_in=timedelta(minutes=1))
    now = T0 + timedelta(minutes=1)
    inbound = repo.create_call(ANN, SHOP, started_at=now)
    outbound = repo.create_call(SHOP, ANN, started_at=now, session_id=dropped.id)
    first, second, unblocked = _interleave(
        pg_store,
        lambda: repo.attach_call(dropped.id, call_id=inbound.id, now=now),
        lambda: repo.attach_call(dropped.id, call_id=outbound.id, now=now))
    assert not unblocked  # the second leg waited for the first's row lock
    assert isinstance(first, SessionRecord), first
    assert (first.legs, first.last_call_id) == (2, inbound.id)
    assert isinstance(second, SessionInUse) and second.call_id == inbound.id, second
    assert (got := repo.get_session(dropped.id)) is not None and got.legs == 2


# -- isolation and the schema ----------------------------------------------------------


def test_another_business_sees_and_moves_nothing(
    shop_a: BusinessStore, shop_b: BusinessStore
) -> None:
    dropped = _dropped(shop_a, callback_in=timedelta(minutes=1))
    their_leg = shop_b.create_call(ANN, SHOP, started_at=T0)
    our_leg = shop_a.create_call(ANN, SHOP, started_at=T0)
    now = T0 + timedelta(minutes=2)
    assert shop_b.get_session(dropped.id) is None and shop_b.sessions_for(ANN) == []
    assert shop_b.find_resumable(ANN, now=now) is None
    assert shop_b.claim_callbacks(now=now, owner="w", lease_s=60, limit=10) == []
    assert shop_b.expire_sessions(now=now + timedelta(days=2)) == []
    with pytest.raises(RecordNotFound):
        shop_b.attach_call(dropped.id, call_id=their_leg.id, now=now)
    with pytest.raises(RecordNotFound):  # our session, their call
        shop_a.attach_call(dropped.id, call_id=their_leg.id, now=now)
    with pytest.raises(RecordNotFound):
        shop_b.save_snapshot(dropped.id, snapshot={}, task=None, now=now)
    with pytest.raises(RecordNotFound):
        shop_b.mark_dropped(dropped.id, now=now, resume_until=now)
    with pytest.raises(RecordNotFound):
        shop_b.mark_finished(dropped.id, now=now)
    with pytest.raises(RecordNotFound):
        shop_b.set_callback_state(dropped.id, state=CALLBACK_CANCELLED, now=now)
    with pytest.raises(RecordNotFound):
        shop_b.create_call(SHOP, ANN, session_id=dropped.id)
    with pytest.raises(RecordNotFound):
        shop_b.open_carrier_call(SHOP, ANN, carrier="twilio", carrier_call_id="CA1",
                                 session_id=dropped.id)
    assert shop_a.get_session(dropped.id) == dropped
    assert shop_a.attach_call(dropped.id, call_id=our_leg.id, now=now).legs == 2


def test_a_carrier_leg_carries_its_session(shop_a: BusinessStore) -> None:
    dropped = _dropped(shop_a, callback_in=timedelta(minutes=1))
    call, created = shop_a.open_carrier_call(SHOP, ANN, carrier="twilio",
                                             carrier_call_id="CA1", session_id=dropped.id)
    assert created and call.session_id == dropped.id and call.status == "ringing"
    again, created = shop_a.open_carrier_call(SHOP, ANN, carrier="twilio",
                                              carrier_call_id="CA1")
    assert not created and again == call
    assert shop_a.create_call(ANN, SHOP).session_id is None


def test_a_session_with_legs_is_not_deleted_silently(store: Store,
                                                     shop_a: BusinessStore) -> None:
    dropped = _dropped(shop_a)
    assert dropped.last_call_id is not None
    shop_a.add_turn(dropped.last_call_id, TurnRecord(0, "hi", "hello", "hello"))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM sessions WHERE id = :id"), {"id": dropped.id})
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE calls SET session_id = NULL"))
        conn.execute(text("DELETE FROM sessions WHERE id = :id"), {"id": dropped.id})
    assert shop_a.get_session(dropped.id) is None
    assert len(shop_a.list_turns(dropped.last_call_id)) == 1


def _migrate(url: str, step: Callable[[Config], None]) -> None:
    package = Path(store_engine.__file__).resolve().parent
    config = Config(str(package / "alembic.ini"))
    config.set_main_option("script_location", str(package / "migrations"))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            step(config)
    finally:
        engine.dispose()


def _counts(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in ("calls", "turns", "call_events")]
    finally:
        engine.dispose()


def test_upgrade_and_downgrade_keep_calls_and_their_turns(store_url: str) -> None:
    _migrate(store_url, lambda c: command.upgrade(c, "0003"))
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            at = {"at": "2026-12-16 15:00:00"}
            conn.execute(text(
                "INSERT INTO calls (id, business_id, from_number, to_number, started_at,"
                " status) VALUES ('c1', 'shop-a', '+1', '+2', :at, 'completed')"), at)
            conn.execute(text(
                'INSERT INTO turns (id, call_id, business_id, "index", caller_text, agent_text,'
                " agent_text_played, interrupted, spans, created_at) VALUES ('t1', 'c1',"
                " 'shop-a', 0, 'hi', 'hello', 'hello', :no, '{}', :at)"), {**at, "no": False})
            conn.execute(text(
                "INSERT INTO call_events (id, call_id, business_id, seq, kind, data, at)"
                " VALUES ('e1', 'c1', 'shop-a', 0, 'consent.heard', '{}', :at)"), at)
        # A rebuild of calls would empty turns and call_events on SQLite (dropping the old
        # table cascades); the column is added and removed in place instead.
        with open_store(store_url) as store:  # migrates to head
            repo = store.for_business("shop-a")
            assert (got := repo.get_call("c1")) is not None and got.session_id is None
            assert _counts(store_url) == [1, 1, 1]
            opened = repo.open_session(caller_number="+1", call_id="c1", now=T0)
            assert (got := repo.get_call("c1")) is not None and got.session_id == opened.id
        _migrate(store_url, lambda c: command.downgrade(c, "0003"))
        inspector = inspect(engine)
        assert "sessions" not in inspector.get_table_names()
        assert "session_id" not in {c["name"] for c in inspector.get_columns("calls")}
        assert _counts(store_url) == [1, 1, 1]
    finally:
        engine.dispose()
