"""Dialogue snapshots: exact round trips through JSON, and strict, typed refusal of
anything a callback could not safely continue from (garbage, stale profiles)."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.actions.calendar import Slot
from frontdesk.brain.booking_flow import Ask, Dialogue, Task
from frontdesk.brain.nlu import When
from frontdesk.brain.snapshot import SNAPSHOT_VERSION, SnapshotError, dump, load
from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import BookingRecord

PROFILE = parse_profile(example_profile_text(), "<example>")
TZ = PROFILE.tz  # America/Chicago
THURSDAY = date(2026, 11, 26)


def _slot(hour: int, minute: int, resource: str = "bay-1") -> Slot:
    start = datetime(2026, 11, 26, hour, minute, tzinfo=TZ)
    return Slot("brake-inspection", resource, start, start + timedelta(minutes=60))


def _booking(booking_id: str, service_id: str = "oil-change") -> BookingRecord:
    start = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    return BookingRecord(
        id=booking_id, business_id=PROFILE.business.id, call_id="call-7",
        service_id=service_id, resource_id="bay-2", start_at=start,
        end_at=start + timedelta(minutes=30), customer_name="Tom Baker",
        customer_phone="+15125551234", status="confirmed",
        created_at=datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC),
        idempotency_key="sess-1:book", external_id="ext-42")


def full_dialogue() -> Dialogue:
    """Every field set to something other than its default."""
    offers = [_slot(10, 0), _slot(10, 30, "bay-2"), _slot(14, 15)]
    return Dialogue(
        task=Task.BOOKING, service_id="brake-inspection",
        when=When(day=THURSDAY, time=None, earliest=time(12), latest=time(17, 30),
                  phrase="thursday afternoon"),
        offers=offers, chosen=offers[1], name="Tom Baker", name_is_new=True, day=THURSDAY,
        expecting=Ask.CONFIRM, booking_id="bk-1", target=_booking("bk-old"),
        replacing=_booking("bk-moved"), misses=2, no_inputs=1)


def through_json(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, allow_nan=False))


def assert_json_safe(value: object) -> None:
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            assert_json_safe(v)
    elif isinstance(value, list):
        for v in value:
            assert_json_safe(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), value


def test_full_dialogue_round_trips_through_json() -> None:
    state = full_dialogue()
    data = dump(state)
    assert_json_safe(data)
    assert data["version"] == SNAPSHOT_VERSION
    assert data["offers"][0]["start"] == "2026-11-26T10:00:00-06:00"
    assert load(through_json(data), PROFILE) == state


def test_default_dialogue_round_trips() -> None:
    data = dump(Dialogue())
    assert_json_safe(data)
    assert load(through_json(data), PROFILE) == Dialogue()


def test_dump_covers_every_field() -> None:
    """A field added to any of these records must be added to the snapshot too."""
    data = dump(full_dialogue())
    assert set(data) == {f.name for f in fields(Dialogue)} | {"version"}
    assert set(data["offers"][0]) == {f.name for f in fields(Slot)}
    assert set(data["when"]) == {f.name for f in fields(When)}
    assert set(data["target"]) == {f.name for f in fields(BookingRecord)}


def test_times_come_back_in_the_zone_their_owner_expects() -> None:
    data = through_json(dump(full_dialogue()))
    data["offers"][0]["start"] = "2026-11-26T16:00:00+00:00"  # 10:00 in Chicago
    data["target"]["start_at"] = "2026-12-01T10:00:00-06:00"
    state = load(data, PROFILE)
    # Slots are spoken and compared in wall-clock time: business zone, not a fixed offset.
    assert state.offers[0].start.tzinfo is TZ
    assert state.offers[0].start.time() == time(10, 0)
    assert state.target is not None
    assert state.target.start_at.tzinfo is UTC
    assert state.target.start_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def test_unknown_keys_are_ignored() -> None:
    data = through_json(dump(full_dialogue()))
    data["mood"] = "cheerful"
    data["offers"][0]["price"] = 89
    data["when"]["confidence"] = 0.9
    assert load(data, PROFILE) == full_dialogue()


DELETE = object()


def _apply(data: dict[str, Any], where: str, value: Any) -> None:
    """Set (or with ``DELETE`` remove) the field at a path like ``offers[2].start``."""
    keys: list[str | int] = [int(k) if k.isdigit() else k
                             for k in re.findall(r"[^.\[\]]+", where)]
    node: Any = data
    for key in keys[:-1]:
        node = node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


# (field, bad value): the error must name exactly that field.
BAD: list[tuple[str, Any]] = [
    ("version", DELETE),
    ("version", 2),
    ("version", True),
    ("version", "1"),
    ("offers", DELETE),
    ("task", "shopping"),
    ("expecting", 3),
    ("day", "2026-13-01"),
    ("day", 20261126),
    ("offers", {}),
    ("offers[2].start", "2026-11-26T14:15:00"),  # naive
    ("offers[0].start", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
    ("offers[1].end", "2026-11-26T10:30:00-06:00"),  # not after its start
    ("chosen.resource_id", "bay-9"),
    ("chosen.service_id", None),
    ("when.time", "10:00+01:00"),
    ("when.earliest", "noon"),
    ("when.phrase", None),
    ("target.created_at", "2026-11-20T09:30:15"),
    ("target.business_id", "other-shop"),
    ("replacing.status", "maybe"),
    ("replacing.customer_phone", 5125551234),
    ("name", 5),
    ("name_is_new", 1),
    ("misses", -1),
    ("misses", True),
    ("no_inputs", 1.5),
    ("service_id", "haircut"),
    ("target", []),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_bad_snapshot_is_a_snapshot_error_naming_the_field(field: str, value: Any) -> None:
    data = through_json(dump(full_dialogue()))
    _apply(data, field, value)
    with pytest.raises(SnapshotError) as caught:
        load(data, PROFILE)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_a_snapshot_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(SnapshotError):
        load(cast(Any, ["version", 1]), PROFILE)


def _without(text: str, pattern: str) -> Profile:
    edited = re.sub(pattern, "", text, flags=re.MULTILINE)
    assert edited != text
    return parse_profile(edited, "<edited>")


NO_BRAKES = _without(example_profile_text(), r"^  - id: brake-inspection\n(?:    .*\n)+")
NO_OIL = _without(example_profile_text(), r"^  - id: oil-change\n(?:    .*\n)+")
NO_BAY_2 = _without(example_profile_text(), r"^  - \{id: bay-2.*\n")


@pytest.mark.parametrize(("profile", "field"), [
    (NO_BRAKES, "service_id"),
    (NO_OIL, "target.service_id"),
    (NO_BAY_2, "offers[1].resource_id"),
])
def test_snapshot_naming_what_the_profile_no_longer_has_is_refused(
    profile: Profile, field: str
) -> None:
    data = through_json(dump(full_dialogue()))
    load(data, PROFILE)  # fine against the profile it was taken under
    with pytest.raises(SnapshotError) as caught:
        load(data, profile)
    assert caught.value.field == field


def test_a_resource_retyped_to_another_kind_is_refused() -> None:
    retyped = parse_profile(example_profile_text().replace(
        "{id: bay-2, kind: bay, name: Bay 2}", "{id: bay-2, kind: lift, name: Bay 2}"), "<e>")
    data = through_json(dump(full_dialogue()))
    with pytest.raises(SnapshotError) as caught:
        load(data, retyped)
    assert caught.value.field == "offers[1].resource_id"


def test_dump_refuses_a_naive_datetime_rather_than_writing_an_unreadable_snapshot() -> None:
    naive = datetime(2026, 11, 26, 10, 0)
    state = Dialogue(offers=[Slot("oil-change", "bay-1", naive, naive + timedelta(hours=1))])
    with pytest.raises(ValueError, match="naive"):
        dump(state)


# --- fuzzing: load either returns a Dialogue or raises SnapshotError, nothing else ----

_TRICKY = st.sampled_from([
    "booking", "confirm", "brake-inspection", "oil-change", "bay-1", "bay-9", "confirmed", "",
    "2026-11-26", "2026-W48-4", "10:00", "24:00", "10:00+01:00", "2026-11-26T10:00:00",
    "2026-11-26T10:00:00-06:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999+00:00", "\ud800",
])
_OFFSETS = st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                                             max_value=timedelta(hours=23, minutes=59)))
_ISO = (st.dates().map(date.isoformat)
        | st.times(timezones=st.none() | _OFFSETS).map(time.isoformat)
        | st.datetimes(timezones=st.none() | _OFFSETS).map(datetime.isoformat))
_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
            | _TRICKY | _ISO)
JSON: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(sorted(dump(full_dialogue()))) | st.text(max_size=8),
                      inner, max_size=6),
    max_leaves=24,
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    items: list[tuple[str | int, Any]] = (
        list(value.items()) if isinstance(value, dict)
        else list(enumerate(value)) if isinstance(value, list) else [])
    found: list[tuple[str | int, ...]] = []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def load_or_refuse(data: Any) -> None:
    try:
        state = load(data, PROFILE)
    except SnapshotError:
        return
    assert isinstance(state, Dialogue)
    # Whatever is accepted is sound: it dumps and loads back to itself.
    assert load(through_json(dump(state)), PROFILE) == state


@settings(max_examples=300)
@given(JSON)
def test_arbitrary_json_loads_or_is_refused(data: Any) -> None:
    load_or_refuse(data)


@settings(max_examples=500)
@given(st.data())
def test_mutated_snapshot_loads_or_is_refused(draw: st.DataObject) -> None:
    data = through_json(dump(full_dialogue()))
    for _ in range(draw.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(data)
        if not paths:
            break
        *parents, key = draw.draw(st.sampled_from(paths), label="path")
        node: Any = data
        for parent in parents:
            node = node[parent]
        if draw.draw(st.booleans(), label="delete"):
            del node[key]
        else:
            # Mostly plausible near-misses, where a parser is likeliest to leak an error.
            node[key] = draw.draw(_TRICKY | _ISO | JSON, label="value")
    load_or_refuse(data)


@given(st.data())
def test_any_subset_of_fields_round_trips(draw: st.DataObject) -> None:
    full, state = full_dialogue(), Dialogue()
    for f in fields(Dialogue):
        if draw.draw(st.booleans(), label=f.name):
            setattr(state, f.name, copy.copy(getattr(full, f.name)))
    assert load(through_json(dump(state)), PROFILE) == state
