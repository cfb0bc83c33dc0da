"""The ledger's store: idempotent commitments, compare-and-set moves, attempts, leases,
findings, and booking idempotency keys with held slots.

Every test runs on SQLite and on PostgreSQL (skipped unless FRONTDESK_TEST_POSTGRES_URL is
set, as scripts/test.sh does): the races rely on each database's own locking.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text
from store_race import race

import frontdesk.store.engine as store_engine
from frontdesk.store import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    C_COMMITTED,
    C_FAILED,
    C_PENDING,
    C_PROPOSED,
    C_UNKNOWN,
    AttemptOutcome,
    BookingConflict,
    BookingRecord,
    BusinessStore,
    CommitmentRecord,
    RecordNotFound,
    StaleTransition,
    Store,
    open_store,
)

T0 = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)


def _propose(repo: BusinessStore, key: str, *, kind: str = "book",
             at: datetime = T0, **kw: Any) -> CommitmentRecord:
    record, _ = repo.propose_commitment(key=key, kind=kind, connector="builtin",
                                        payload={"n": key}, now=at, **kw)
    return record


def _attempt(outcome: str, error: str | None = None) -> AttemptOutcome:
    return AttemptOutcome(started_at=T0, finished_at=T0 + timedelta(milliseconds=250),
                          outcome=outcome, error=error, latency_ms=250.0)


def _book(repo: BusinessStore, *, key: str | None = None, start: datetime = T0,
          status: str = BOOKING_CONFIRMED, call_id: str | None = None,
          resources: tuple[str, ...] = ("bay-1",)) -> BookingRecord:
    return repo.create_booking(
        service_id="oil-change", resource_ids=list(resources), start_at=start,
        end_at=start + timedelta(minutes=30), customer_name="Ann", created_at=T0,
        idempotency_key=key, status=status, call_id=call_id,
    )


# -- commitments -----------------------------------------------------------------------


def test_propose_creates_once_per_key(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    payload = {"start": "2026-12-10T15:00:00+00:00", "slots": [1, 2], "who": {"name": "Ann"}}
    first, created = shop_a.propose_commitment(key="k1", kind="book", connector="caldav",
                                               payload=payload, call_id=call.id, now=T0)
    assert created
    assert (first.state, first.attempts, first.told, first.told_heard) == (
        C_PROPOSED, 0, None, False)
    assert (first.call_id, first.idempotency_key, first.key, first.connector) == (
        call.id, "k1", "k1", "caldav")
    assert first.payload == payload and first.result is None and first.error is None
    assert first.created_at == first.updated_at == T0 and first.next_attempt_at is None
    again, created = shop_a.propose_commitment(key="k1", kind="message", connector="x",
                                               payload={}, now=T0 + timedelta(minutes=1))
    assert not created and again == first  # the first request's row, unchanged
    assert shop_a.get_commitment(first.id) == first == shop_a.get_commitment_by_key("k1")
    other, created = shop_b.propose_commitment(key="k1", kind="book", connector="caldav",
                                               payload={}, now=T0)
    assert created and other.id != first.id  # keys are per business
    assert [c.id for c in shop_a.list_commitments()] == [first.id]


def test_racing_proposals_make_one_row(shop_a: BusinessStore) -> None:
    results = race(8, lambda i: shop_a.propose_commitment(
        key="same", kind="book", connector="builtin", payload={"n": i}, now=T0))
    pairs = [r for r in results if isinstance(r, tuple)]
    assert len(pairs) == 8, results
    assert sorted(created for _, created in pairs) == [False] * 7 + [True]
    assert len({record.id for record, _ in pairs}) == 1
    assert len(shop_a.list_commitments()) == 1


def test_propose_checks_its_arguments(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    theirs_call = shop_b.create_call("+1", "+2", started_at=T0)
    theirs = _propose(shop_b, "theirs")
    with pytest.raises(ValueError, match="kind"):
        _propose(shop_a, "k", kind="teleport")
    with pytest.raises(ValueError, match="64"):
        _propose(shop_a, "k" * 65)
    with pytest.raises(RecordNotFound):
        _propose(shop_a, "k", call_id=theirs_call.id)
    with pytest.raises(RecordNotFound):
        _propose(shop_a, "k", parent_id=theirs.id)
    assert shop_a.list_commitments() == []
    parent = _propose(shop_a, "parent")
    child = _propose(shop_a, "child", kind="sms", parent_id=parent.id)
    assert child.parent_id == parent.id
    assert shop_a.list_commitments(parent_id=parent.id) == [child]


def test_list_commitments_filters_and_orders(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    late = _propose(shop_a, "late", at=T0 + timedelta(seconds=2), call_id=call.id)
    early = _propose(shop_a, "early", at=T0, kind="message")
    mid = _propose(shop_a, "mid", at=T0 + timedelta(seconds=1), call_id=call.id)
    shop_a.transition_commitment(mid.id, expected={C_PROPOSED}, new=C_PENDING, now=T0)
    assert [c.key for c in shop_a.list_commitments()] == ["early", "mid", "late"]
    assert [c.key for c in shop_a.list_commitments(call_id=call.id)] == ["mid", "late"]
    assert [c.key for c in shop_a.list_commitments(states={C_PROPOSED})] == ["early", "late"]
    assert [c.key for c in shop_a.list_commitments(kinds=["message"])] == ["early"]
    assert [c.id for c in shop_a.list_commitments(limit=1)] == [early.id]
    assert shop_a.list_commitments(states=[]) == []
    assert late.call_id == call.id


def test_transition_is_compare_and_set(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    later = T0 + timedelta(seconds=5)
    pending = shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING,
                                           now=later)
    assert (pending.state, pending.updated_at, pending.created_at) == (C_PENDING, later, T0)
    with pytest.raises(StaleTransition) as stale:
        shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING, now=later)
    assert (stale.value.commitment_id, stale.value.current_state) == (record.id, C_PENDING)
    with pytest.raises(ValueError, match="unknown commitment states"):
        shop_a.transition_commitment(record.id, expected={C_PENDING}, new="done", now=later)
    with pytest.raises(ValueError, match="unknown commitment states"):
        shop_a.transition_commitment(record.id, expected={"pendng"}, new=C_UNKNOWN, now=later)
    with pytest.raises(RecordNotFound):
        shop_a.transition_commitment("nope", expected={C_PENDING}, new=C_UNKNOWN, now=later)
    assert shop_a.get_commitment(record.id) == pending


def test_transition_sets_only_what_it_is_given(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    retry = T0 + timedelta(minutes=1)
    unknown = shop_a.transition_commitment(
        record.id, expected={C_PROPOSED}, new=C_UNKNOWN, now=T0, result={"code": "timeout"},
        error="read timed out", next_attempt_at=retry)
    assert (unknown.result, unknown.error, unknown.next_attempt_at) == (
        {"code": "timeout"}, "read timed out", retry)
    pending = shop_a.transition_commitment(record.id, expected={C_UNKNOWN}, new=C_PENDING,
                                           now=T0)
    assert (pending.result, pending.error, pending.next_attempt_at) == (
        {"code": "timeout"}, "read timed out", retry)  # UNSET: left alone
    done = shop_a.transition_commitment(record.id, expected={C_PENDING}, new=C_COMMITTED,
                                        now=T0, result={"uid": "x"}, error=None,
                                        next_attempt_at=None)
    assert (done.result, done.error, done.next_attempt_at) == ({"uid": "x"}, None, None)
    cleared = shop_a.transition_commitment(record.id, expected={C_COMMITTED}, new=C_FAILED,
                                           now=T0, result=None)
    assert cleared.result is None and shop_a.get_commitment(record.id) == cleared


def test_racing_transitions_have_one_winner(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    results = race(8, lambda _i: shop_a.transition_commitment(
        record.id, expected={C_PROPOSED}, new=C_PENDING, now=T0, attempt=_attempt("started")))
    won = [r for r in results if isinstance(r, CommitmentRecord)]
    lost = [r for r in results if isinstance(r, StaleTransition)]
    assert (len(won), len(lost)) == (1, 7), results
    assert all(e.current_state == C_PENDING for e in lost)
    assert [a.seq for a in shop_a.list_attempts(record.id)] == [0]


def test_attempts_are_appended_in_sequence(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING, now=T0)
    first = shop_a.transition_commitment(record.id, expected={C_PENDING}, new=C_UNKNOWN,
                                         now=T0, attempt=_attempt("uncertain", "503"))
    shop_a.transition_commitment(record.id, expected={C_UNKNOWN}, new=C_PENDING, now=T0)
    second = shop_a.transition_commitment(record.id, expected={C_PENDING}, new=C_COMMITTED,
                                          now=T0, attempt=_attempt("ok"))
    assert (first.attempts, second.attempts) == (1, 2)
    attempts = shop_a.list_attempts(record.id)
    assert [(a.seq, a.outcome, a.error) for a in attempts] == [
        (0, "uncertain", "503"), (1, "ok", None)]
    assert attempts[0].commitment_id == record.id and attempts[0].business_id == "shop-a"
    assert attempts[0].finished_at - attempts[0].started_at == timedelta(milliseconds=250)
    assert attempts[0].latency_ms == 250.0
    assert shop_b.list_attempts(record.id) == []


def test_told_is_recorded_in_any_state(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    later = T0 + timedelta(seconds=3)
    told = shop_a.set_told(record.id, told="text_promised", heard=False, now=later)
    assert (told.told, told.told_heard, told.state, told.updated_at) == (
        "text_promised", False, C_PROPOSED, later)
    heard = shop_a.set_told(record.id, told="text_promised", heard=True, now=later)
    assert heard.told_heard and shop_a.get_commitment(record.id) == heard
    with pytest.raises(ValueError, match="told"):
        shop_a.set_told(record.id, told="maybe", heard=True, now=later)


# -- leases ----------------------------------------------------------------------------


def test_claim_leases_due_rows_oldest_first(shop_a: BusinessStore) -> None:
    old = _propose(shop_a, "old", at=T0)
    new = _propose(shop_a, "new", at=T0 + timedelta(seconds=1))
    later = _propose(shop_a, "later", at=T0 - timedelta(seconds=1))
    shop_a.release_commitment(later.id, owner=None, next_attempt_at=T0 + timedelta(minutes=5),
                              now=T0)  # not due until then
    sms = _propose(shop_a, "sms", kind="sms", at=T0 - timedelta(hours=1))
    done = _propose(shop_a, "done", at=T0 - timedelta(hours=1))
    shop_a.transition_commitment(done.id, expected={C_PROPOSED}, new=C_PENDING, now=T0)
    now = T0 + timedelta(minutes=1)

    claimed = shop_a.claim_commitments(now=now, owner="w1", lease_s=600, limit=1,
                                       states={C_PROPOSED}, kinds={"book"})
    assert [c.id for c in claimed] == [old.id]
    assert (claimed[0].lease_owner, claimed[0].lease_until) == ("w1", now + timedelta(minutes=10))
    assert claimed[0].updated_at == T0  # a lease is not a change of what it says
    rest = shop_a.claim_commitments(now=now, owner="w2", lease_s=600, limit=10,
                                    states={C_PROPOSED})
    assert [c.id for c in rest] == [sms.id, new.id]
    assert shop_a.claim_commitments(now=now, owner="w3", lease_s=30, limit=10,
                                    states={C_PROPOSED}) == []
    due = shop_a.claim_commitments(now=T0 + timedelta(minutes=5), owner="w3", lease_s=30,
                                   limit=10, states={C_PROPOSED})  # the others' leases live
    assert [c.id for c in due] == [later.id]
    assert shop_a.claim_commitments(now=now, owner="w1", lease_s=30, limit=0,
                                    states={C_PROPOSED}) == []
    with pytest.raises(ValueError):
        shop_a.claim_commitments(now=now, owner="w1", lease_s=0, limit=1, states={C_PROPOSED})


def test_an_expired_lease_can_be_claimed_again(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    shop_a.claim_commitments(now=T0, owner="w1", lease_s=10, limit=5, states={C_PROPOSED})
    live = T0 + timedelta(seconds=10)  # lease_until is not yet past
    assert shop_a.claim_commitments(now=live, owner="w2", lease_s=10, limit=5,
                                    states={C_PROPOSED}) == []
    expired = T0 + timedelta(seconds=11)
    [taken] = shop_a.claim_commitments(now=expired, owner="w2", lease_s=10, limit=5,
                                       states={C_PROPOSED})
    assert (taken.id, taken.lease_owner) == (record.id, "w2")
    # The first owner's late move is refused while w2's lease is live...
    with pytest.raises(StaleTransition) as stale:
        shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING,
                                     now=expired, owner="w1")
    assert stale.value.leased_by == "w2"
    with pytest.raises(StaleTransition):
        shop_a.release_commitment(record.id, owner="w1", next_attempt_at=None, now=expired)
    # ...and the holder's move goes through and ends the lease.
    moved = shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING,
                                         now=expired, owner="w2")
    assert (moved.state, moved.lease_owner, moved.lease_until) == (C_PENDING, None, None)


def test_a_lapsed_lease_does_not_block_its_owner_or_others(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    shop_a.claim_commitments(now=T0, owner="w1", lease_s=10, limit=5, states={C_PROPOSED})
    after = T0 + timedelta(seconds=20)
    moved = shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING,
                                         now=after, owner="w2")
    assert moved.state == C_PENDING and moved.lease_owner is None


def test_release_needs_the_lease(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    [claimed] = shop_a.claim_commitments(now=T0, owner="w1", lease_s=60, limit=1,
                                         states={C_PROPOSED})
    retry = T0 + timedelta(minutes=2)
    with pytest.raises(StaleTransition):
        shop_a.release_commitment(record.id, owner="w2", next_attempt_at=retry, now=T0)
    with pytest.raises(StaleTransition):  # None: "nobody holds it", which is untrue
        shop_a.release_commitment(record.id, owner=None, next_attempt_at=retry, now=T0)
    released = shop_a.release_commitment(record.id, owner="w1", next_attempt_at=retry, now=T0)
    assert (released.state, released.lease_owner, released.lease_until) == (
        C_PROPOSED, None, None)
    assert released.next_attempt_at == retry and released.updated_at == claimed.updated_at
    with pytest.raises(StaleTransition):  # released already: w1 holds nothing now
        shop_a.release_commitment(record.id, owner="w1", next_attempt_at=None, now=T0)
    assert shop_a.claim_commitments(now=retry - timedelta(seconds=1), owner="w2", lease_s=60,
                                    limit=1, states={C_PROPOSED}) == []
    assert len(shop_a.claim_commitments(now=retry, owner="w2", lease_s=60, limit=1,
                                        states={C_PROPOSED})) == 1
    with pytest.raises(RecordNotFound):
        shop_a.release_commitment("nope", owner="w1", next_attempt_at=None, now=T0)


def test_concurrent_claimers_never_share_a_row(shop_a: BusinessStore) -> None:
    ids = {_propose(shop_a, f"k{i}", at=T0 + timedelta(seconds=i)).id for i in range(20)}
    now = T0 + timedelta(minutes=1)
    results = race(2, lambda i: shop_a.claim_commitments(
        now=now, owner=f"w{i}", lease_s=60, limit=10, states={C_PROPOSED}))
    batches = [r for r in results if isinstance(r, list)]
    assert len(batches) == 2, results
    first, second = ({c.id for c in batch} for batch in batches)
    assert not first & second
    assert first | second == ids  # skipped rows were the other's, so nothing is left over
    for batch in batches:
        assert len({c.lease_owner for c in batch}) == 1
    held = {c.id: c.lease_owner for c in shop_a.list_commitments()}
    assert all(held[c.id] == c.lease_owner for batch in batches for c in batch)


# -- findings --------------------------------------------------------------------------


def test_findings_are_deduplicated_and_resolved(shop_a: BusinessStore) -> None:
    record = _propose(shop_a, "k")
    finding, created = shop_a.add_finding(
        dedupe_key="told-confirmed-missing:k", kind="missing_booking",
        detail={"told": "confirmed"}, action="callback", commitment_id=record.id, now=T0)
    assert created and finding.commitment_id == record.id and finding.resolved_at is None
    again, created = shop_a.add_finding(
        dedupe_key="told-confirmed-missing:k", kind="other", detail={}, action="none",
        now=T0 + timedelta(hours=1))
    assert not created and again == finding
    other, _ = shop_a.add_finding(dedupe_key="d2", kind="orphan", detail={"uid": "z"},
                                  action="flag", now=T0 + timedelta(seconds=1))
    assert shop_a.list_findings() == [finding, other]
    later = T0 + timedelta(days=1)
    resolved = shop_a.resolve_finding(finding.id, resolution="called back", now=later)
    assert (resolved.resolved_at, resolved.resolution) == (later, "called back")
    assert shop_a.list_findings(open_only=True) == [other]
    again_resolved = shop_a.resolve_finding(finding.id, resolution="again",
                                            now=later + timedelta(days=1))
    assert again_resolved == resolved  # the first resolution stands
    with pytest.raises(RecordNotFound):
        shop_a.resolve_finding("nope", resolution="x", now=T0)
    with pytest.raises(RecordNotFound):
        shop_a.add_finding(dedupe_key="d3", kind="k", detail={}, action="a",
                           commitment_id="nope", now=T0)


def test_racing_findings_make_one_row(shop_a: BusinessStore) -> None:
    results = race(8, lambda i: shop_a.add_finding(
        dedupe_key="same", kind="orphan", detail={"n": i}, action="flag", now=T0))
    pairs = [r for r in results if isinstance(r, tuple)]
    assert sorted(created for _, created in pairs) == [False] * 7 + [True], results
    assert len(shop_a.list_findings()) == 1


def test_deleting_rows_follows_the_foreign_keys(store: Store, shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    parent = _propose(shop_a, "p", call_id=call.id)
    child = _propose(shop_a, "c", kind="sms", parent_id=parent.id)
    shop_a.transition_commitment(parent.id, expected={C_PROPOSED}, new=C_PENDING, now=T0,
                                 attempt=_attempt("started"))
    finding, _ = shop_a.add_finding(dedupe_key="d", kind="k", detail={}, action="a",
                                    commitment_id=parent.id, now=T0)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM calls WHERE id = :id"), {"id": call.id})
    assert (got := shop_a.get_commitment(parent.id)) is not None and got.call_id is None
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM commitments WHERE id = :id"), {"id": parent.id})
        assert conn.execute(text("SELECT count(*) FROM commitment_attempts")).scalar() == 0
    assert (orphan := shop_a.get_commitment(child.id)) is not None and orphan.parent_id is None
    assert finding.commitment_id == parent.id
    assert [f.commitment_id for f in shop_a.list_findings()] == [None]


# -- bookings --------------------------------------------------------------------------


def test_a_booking_key_finds_its_booking(shop_a: BusinessStore, shop_b: BusinessStore) -> None:
    first = _book(shop_a, key="bk1")
    assert (first.idempotency_key, first.external_id, first.status) == (
        "bk1", None, BOOKING_CONFIRMED)
    # The retry would conflict with its own slot, and a different slot changes nothing.
    assert _book(shop_a, key="bk1") == first
    assert _book(shop_a, key="bk1", start=T0 + timedelta(hours=3)) == first
    assert shop_a.get_booking_by_key("bk1") == first and shop_a.get_booking_by_key("x") is None
    assert len(shop_a.list_bookings(T0, T0 + timedelta(days=1))) == 1
    with pytest.raises(BookingConflict):
        _book(shop_a, key="bk2")
    _book(shop_a, start=T0 + timedelta(hours=1))
    _book(shop_a, start=T0 + timedelta(hours=2))  # no key: NULL keys repeat freely
    assert shop_b.get_booking_by_key("bk1") is None
    assert _book(shop_b, key="bk1").id != first.id


def test_racing_bookings_with_one_key_make_one_row(shop_a: BusinessStore) -> None:
    # Half the racers offer another resource, so on PostgreSQL their advisory locks do not
    # serialise them: the key's unique index is what settles it.
    choices = [("bay-1",), ("bay-2",)]
    results = race(8, lambda i: _book(shop_a, key="same", resources=choices[i % 2]))
    records = [r for r in results if isinstance(r, BookingRecord)]
    assert len(records) == 8, results
    assert len({r.id for r in records}) == 1
    assert len(shop_a.list_bookings(T0, T0 + timedelta(hours=1))) == 1


def test_a_held_booking_occupies_its_slot(shop_a: BusinessStore) -> None:
    call = shop_a.create_call("+1", "+2", started_at=T0)
    held = _book(shop_a, key="h", status=BOOKING_HELD, call_id=call.id)
    assert held.status == BOOKING_HELD
    with pytest.raises(BookingConflict):
        _book(shop_a)
    window = (T0, T0 + timedelta(hours=1))
    assert shop_a.list_bookings(*window) == [held]
    assert shop_a.bookings_for_call(call.id) == []  # held is not true yet
    confirmed = shop_a.set_booking_status(held.id, BOOKING_CONFIRMED, external_id="uid-7")
    assert (confirmed.status, confirmed.external_id) == (BOOKING_CONFIRMED, "uid-7")
    assert shop_a.bookings_for_call(call.id) == [confirmed]
    kept = shop_a.set_booking_status(held.id, BOOKING_CONFIRMED)
    assert kept.external_id == "uid-7"  # None leaves it
    cancelled = shop_a.set_booking_status(held.id, BOOKING_CANCELLED)
    assert shop_a.list_bookings(*window) == [] and cancelled.status == BOOKING_CANCELLED
    taker = _book(shop_a)
    with pytest.raises(BookingConflict):  # the freed slot went to someone else
        shop_a.set_booking_status(held.id, BOOKING_HELD)
    shop_a.cancel_booking(taker.id)
    assert shop_a.set_booking_status(held.id, BOOKING_HELD).status == BOOKING_HELD


def test_booking_status_arguments_are_checked(shop_a: BusinessStore) -> None:
    with pytest.raises(ValueError):
        _book(shop_a, status=BOOKING_CANCELLED)
    with pytest.raises(ValueError):
        _book(shop_a, key="k" * 65)
    booking = _book(shop_a)
    with pytest.raises(ValueError):
        shop_a.set_booking_status(booking.id, "tentative")
    with pytest.raises(RecordNotFound):
        shop_a.set_booking_status("nope", BOOKING_CONFIRMED)
    assert shop_a.get_booking(booking.id) == booking


# -- isolation -------------------------------------------------------------------------


def test_another_business_sees_and_moves_nothing(
    shop_a: BusinessStore, shop_b: BusinessStore
) -> None:
    record = _propose(shop_a, "k")
    shop_a.transition_commitment(record.id, expected={C_PROPOSED}, new=C_PENDING, now=T0,
                                 attempt=_attempt("started"))
    finding, _ = shop_a.add_finding(dedupe_key="d", kind="k", detail={}, action="a", now=T0)
    booking = _book(shop_a, key="bk", status=BOOKING_HELD)
    assert shop_b.get_commitment(record.id) is None
    assert shop_b.get_commitment_by_key("k") is None
    assert shop_b.list_commitments() == [] and shop_b.list_attempts(record.id) == []
    assert shop_b.list_findings() == [] and shop_b.get_booking_by_key("bk") is None
    assert shop_b.claim_commitments(now=T0 + timedelta(hours=1), owner="w", lease_s=60,
                                    limit=10, states={C_PROPOSED, C_PENDING}) == []
    with pytest.raises(RecordNotFound):
        shop_b.transition_commitment(record.id, expected={C_PENDING}, new=C_FAILED, now=T0)
    with pytest.raises(RecordNotFound):
        shop_b.set_told(record.id, told="declined", heard=True, now=T0)
    with pytest.raises(RecordNotFound):
        shop_b.release_commitment(record.id, owner=None, next_attempt_at=None, now=T0)
    with pytest.raises(RecordNotFound):
        shop_b.resolve_finding(finding.id, resolution="x", now=T0)
    with pytest.raises(RecordNotFound):
        shop_b.add_finding(dedupe_key="d", kind="k", detail={}, action="a",
                           commitment_id=record.id, now=T0)
    with pytest.raises(RecordNotFound):
        shop_b.set_booking_status(booking.id, BOOKING_CONFIRMED)
    after = shop_a.get_commitment(record.id)
    assert after is not None and (after.state, after.told, after.lease_owner) == (
        C_PENDING, None, None)
    assert shop_a.list_findings() == [finding] and shop_a.get_booking(booking.id) == booking


# -- migration -------------------------------------------------------------------------


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


def test_upgrade_keeps_bookings_and_downgrade_removes_the_ledger(store_url: str) -> None:
    _migrate(store_url, lambda c: command.upgrade(c, "0002"))
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO bookings (id, business_id, service_id, resource_id, start_at,"
                " end_at, customer_name, status, created_at) VALUES ('old', 'shop-a', 's',"
                " 'bay-1', '2026-12-09 15:00:00', '2026-12-09 15:30:00', 'Ann', 'confirmed',"
                " '2026-12-09 14:00:00')"))
        with open_store(store_url) as store:  # migrates to head
            repo = store.for_business("shop-a")
            old = repo.get_booking("old")
            assert old is not None and (old.idempotency_key, old.external_id) == (None, None)
            assert _book(repo, start=T0 + timedelta(hours=1)).idempotency_key is None
            _propose(repo, "k")
        _migrate(store_url, lambda c: command.downgrade(c, "0002"))
        inspector = inspect(engine)
        assert not {"commitments", "commitment_attempts", "findings"} & set(
            inspector.get_table_names())
        columns = {c["name"] for c in inspector.get_columns("bookings")}
        assert not {"idempotency_key", "external_id"} & columns
        with engine.connect() as conn:
            assert "old" in conn.execute(text("SELECT id FROM bookings")).scalars().all()
    finally:
        engine.dispose()
