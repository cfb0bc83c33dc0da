"""The receptionist's :class:`Dialogue` as plain JSON, so a dropped call can resume.

A snapshot is written after every turn and read back when the caller rings again,
possibly by another process and after the business edited its profile. So ``load``
trusts nothing: every field is type-checked, and a snapshot naming a service or resource
the profile no longer has is refused rather than repaired, because continuing from it
would offer or book something the business does not do. Any failure is a
:class:`SnapshotError` naming the bad field; the caller's remedy is a fresh conversation.

Datetimes travel as ISO 8601 with their UTC offset and come back in the zone their owner
expects: slots in the business zone (their wall-clock times are spoken and compared),
booking records in UTC (the store's convention). Unknown keys are ignored, so an older
reader survives a newer writer's additions; anything incompatible bumps the version.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, Final, TypeVar

from frontdesk.actions.calendar import Slot
from frontdesk.brain.booking_flow import Ask, Dialogue, Task
from frontdesk.brain.nlu import When
from frontdesk.profile import Profile
from frontdesk.store import BOOKING_STATUSES, BookingRecord

__all__ = ["SNAPSHOT_VERSION", "SnapshotError", "dump", "load"]

SNAPSHOT_VERSION: Final = 1

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)
Parse = Callable[[object, str], T]  # (raw JSON value, field path) -> value, or raise


class SnapshotError(ValueError):
    """The snapshot is corrupt, from another version, or stale against the profile.

    The data's fault, not the reader's; reading it again cannot help. ``field`` is the
    path of the offending value, e.g. ``"offers[1].start"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"snapshot field {field!r}: {problem}")
        self.field = field
        self.problem = problem


def dump(state: Dialogue) -> dict[str, Any]:
    """Every field of ``state`` as JSON-safe values; see :func:`load` for the inverse."""
    return {
        "version": SNAPSHOT_VERSION,
        "task": None if state.task is None else state.task.value,
        "service_id": state.service_id,
        "when": None if state.when is None else _dump_when(state.when),
        "offers": [_dump_slot(slot) for slot in state.offers],
        "chosen": None if state.chosen is None else _dump_slot(state.chosen),
        "name": state.name,
        "name_is_new": state.name_is_new,
        "day": None if state.day is None else state.day.isoformat(),
        "expecting": None if state.expecting is None else state.expecting.value,
        "booking_id": state.booking_id,
        "target": None if state.target is None else _dump_booking(state.target),
        "replacing": None if state.replacing is None else _dump_booking(state.replacing),
        "misses": state.misses,
        "no_inputs": state.no_inputs,
    }


def _iso(value: date | time | None) -> str | None:
    return None if value is None else value.isoformat()


def _aware(moment: datetime) -> str:
    # A naive datetime here is a bug upstream; fail now, not when the caller rings back.
    if moment.utcoffset() is None:
        raise ValueError(f"cannot snapshot naive datetime {moment.isoformat()}")
    return moment.isoformat()


def _dump_when(when: When) -> dict[str, Any]:
    return {"day": _iso(when.day), "time": _iso(when.time), "earliest": _iso(when.earliest),
            "latest": _iso(when.latest), "phrase": when.phrase}


def _dump_slot(slot: Slot) -> dict[str, Any]:
    return {"service_id": slot.service_id, "resource_id": slot.resource_id,
            "start": _aware(slot.start), "end": _aware(slot.end)}


def _dump_booking(b: BookingRecord) -> dict[str, Any]:
    return {"id": b.id, "business_id": b.business_id, "call_id": b.call_id,
            "service_id": b.service_id, "resource_id": b.resource_id,
            "start_at": _aware(b.start_at), "end_at": _aware(b.end_at),
            "customer_name": b.customer_name, "customer_phone": b.customer_phone,
            "status": b.status, "created_at": _aware(b.created_at),
            "idempotency_key": b.idempotency_key, "external_id": b.external_id}


def load(data: Mapping[str, Any], profile: Profile) -> Dialogue:
    """The :class:`Dialogue` that :func:`dump` wrote, checked against today's ``profile``."""
    top = _Obj(data, "")
    version = top.get("version", _any)
    if type(version) is not int or version != SNAPSHOT_VERSION:
        raise SnapshotError("version", f"expected {SNAPSHOT_VERSION}, got {_show(version)}")
    services = {s.id: s for s in profile.services}
    kinds = {r.id: r.kind for r in profile.resources}

    def service_id(value: object, where: str) -> str:
        sid = _text(value, where)
        if sid not in services:
            raise SnapshotError(where, f"service {sid!r} is not in the profile")
        return sid

    def slot(value: object, where: str) -> Slot:
        o = _Obj(value, where)
        sid = o.get("service_id", service_id)
        rid = o.get("resource_id", _text)
        if kinds.get(rid) != services[sid].resource_kind:
            raise SnapshotError(f"{where}.resource_id",
                                f"{rid!r} is not a {services[sid].resource_kind} in the profile")
        start, end = o.get("start", _moment(profile.tz)), o.get("end", _moment(profile.tz))
        _ordered(start, end, f"{where}.end")
        return Slot(sid, rid, start, end)

    def booking(value: object, where: str) -> BookingRecord:
        o, utc = _Obj(value, where), _moment(UTC)
        if o.get("business_id", _text) != profile.business.id:
            raise SnapshotError(f"{where}.business_id", "not this business")
        if (status := o.get("status", _text)) not in BOOKING_STATUSES:
            raise SnapshotError(f"{where}.status", f"unknown booking status {status!r}")
        record = BookingRecord(
            id=o.get("id", _text), business_id=profile.business.id,
            call_id=o.opt("call_id", _text), service_id=o.get("service_id", service_id),
            resource_id=o.get("resource_id", _text), start_at=o.get("start_at", utc),
            end_at=o.get("end_at", utc), customer_name=o.get("customer_name", _text),
            customer_phone=o.opt("customer_phone", _text), status=status,
            created_at=o.get("created_at", utc), idempotency_key=o.opt("idempotency_key", _text),
            external_id=o.opt("external_id", _text))
        _ordered(record.start_at, record.end_at, f"{where}.end_at")
        return record

    return Dialogue(
        task=top.opt("task", _enum(Task)), service_id=top.opt("service_id", service_id),
        when=top.opt("when", _when), offers=top.get("offers", _list(slot)),
        chosen=top.opt("chosen", slot), name=top.opt("name", _text),
        name_is_new=top.get("name_is_new", _flag), day=top.opt("day", _day),
        expecting=top.opt("expecting", _enum(Ask)), booking_id=top.opt("booking_id", _text),
        target=top.opt("target", booking), replacing=top.opt("replacing", booking),
        misses=top.get("misses", _count), no_inputs=top.get("no_inputs", _count))


class _Obj:
    """One JSON object being read; every failure names the field's full path."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise SnapshotError(where or "<snapshot>", f"expected an object, got {_show(data)}")
        self.data, self.where = data, where

    def get(self, key: str, parse: Parse[T]) -> T:
        where = f"{self.where}.{key}" if self.where else key
        if key not in self.data:
            raise SnapshotError(where, "missing")
        return parse(self.data[key], where)

    def opt(self, key: str, parse: Parse[T]) -> T | None:
        """Like :meth:`get`, but an explicit null is allowed (a missing key is not)."""
        return self.get(key, lambda value, where: None if value is None else parse(value, where))


def _show(value: object) -> str:
    return repr(value)[:40] if isinstance(value, str | int | float | bool) else type(value).__name__


def _any(value: object, where: str) -> object:
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SnapshotError(where, f"expected a string, got {_show(value)}")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise SnapshotError(where, f"expected true or false, got {_show(value)}")
    return value


def _count(value: object, where: str) -> int:
    if type(value) is not int or value < 0:  # bool is an int to Python, not to us
        raise SnapshotError(where, f"expected a count >= 0, got {_show(value)}")
    return value


def _enum(cls: type[E]) -> Parse[E]:
    def parse(value: object, where: str) -> E:
        for member in cls:
            if type(value) is type(member.value) and member.value == value:
                return member
        raise SnapshotError(where, f"not a {cls.__name__}: {_show(value)}")

    return parse


def _list(item: Parse[T]) -> Parse[list[T]]:
    def parse(value: object, where: str) -> list[T]:
        if not isinstance(value, list):
            raise SnapshotError(where, f"expected a list, got {_show(value)}")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

    return parse


def _day(value: object, where: str) -> date:
    text = _text(value, where)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SnapshotError(where, f"not an ISO date: {_show(value)}") from exc


def _clock(value: object, where: str) -> time:
    text = _text(value, where)
    try:
        clock = time.fromisoformat(text)
    except ValueError as exc:
        raise SnapshotError(where, f"not an ISO time: {_show(value)}") from exc
    if clock.tzinfo is not None:  # NLU times are wall-clock times in the business zone
        raise SnapshotError(where, "a time of day carries no UTC offset")
    return clock


def _moment(zone: tzinfo) -> Parse[datetime]:
    def parse(value: object, where: str) -> datetime:
        text = _text(value, where)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise SnapshotError(where, f"not an ISO datetime: {_show(value)}") from exc
        if moment.utcoffset() is None:
            raise SnapshotError(where, "naive datetime (no UTC offset)")
        try:
            return moment.astimezone(zone)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise SnapshotError(where, "out of range") from exc

    return parse


def _when(value: object, where: str) -> When:
    o = _Obj(value, where)
    return When(day=o.opt("day", _day), time=o.opt("time", _clock),
                earliest=o.opt("earliest", _clock), latest=o.opt("latest", _clock),
                phrase=o.get("phrase", _text))


def _ordered(start: datetime, end: datetime, where: str) -> None:
    if end <= start:
        raise SnapshotError(where, "not after the start")
