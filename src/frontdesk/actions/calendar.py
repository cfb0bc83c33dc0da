"""The built-in calendar: availability from the profile, bookings in the store.

Availability is computed, not stored: opening hours, holidays and policies come from the
profile, occupancy from confirmed bookings. All arithmetic is done in UTC because Python
adds timedeltas to zoneinfo datetimes in wall-clock time, which is wrong across a DST
change; slots are converted to the business zone only when handed out.

The availability answer is advisory. :meth:`Calendar.book` re-checks inside one locked
transaction, so the last slot can be promised to exactly one caller.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate

from frontdesk.profile import Profile, Service
from frontdesk.profile.describe import speak_time
from frontdesk.store import (
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    BookingConflict,
    BookingRecord,
    BusinessStore,
)

__all__ = [
    "BeyondHorizon",
    "Calendar",
    "CalendarError",
    "InPast",
    "OutsideHours",
    "Slot",
    "SlotUnavailable",
    "TooSoon",
    "UnknownService",
]

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable start for one service on one resource; times aware, business zone."""

    service_id: str
    resource_id: str
    start: datetime
    end: datetime


class CalendarError(Exception):
    """A booking request the calendar refuses; the message is fit to paraphrase aloud."""


class UnknownService(CalendarError):
    pass


class SlotUnavailable(CalendarError):
    pass


class OutsideHours(CalendarError):
    pass


class BeyondHorizon(OutsideHours):
    """Further ahead than ``policies.booking_horizon_days``."""


class InPast(CalendarError):
    pass


class TooSoon(InPast):
    """In the future but inside ``policies.min_notice_minutes``."""


class _Busy:
    """Confirmed bookings per resource, for O(log n) overlap checks.

    Each resource keeps its bookings sorted by start plus a running maximum of their
    ends, so an overlap test stays correct even if stored bookings overlap each other.
    """

    def __init__(self, bookings: Iterable[BookingRecord]) -> None:
        spans: dict[str, list[tuple[datetime, datetime]]] = {}
        for b in bookings:
            spans.setdefault(b.resource_id, []).append((b.start_at, b.end_at))
        self._starts: dict[str, list[datetime]] = {}
        self._max_end: dict[str, list[datetime]] = {}
        for resource_id, items in spans.items():
            items.sort()
            self._starts[resource_id] = [s for s, _ in items]
            self._max_end[resource_id] = list(accumulate((e for _, e in items), max))

    def is_free(self, resource_id: str, start: datetime, end: datetime) -> bool:
        starts = self._starts.get(resource_id)
        if not starts:
            return True
        before_end = bisect_left(starts, end)  # bookings starting before our end
        return before_end == 0 or self._max_end[resource_id][before_end - 1] <= start


class Calendar:
    """Availability and booking for one business (``profile`` and ``store`` must match)."""

    def __init__(self, profile: Profile, store: BusinessStore) -> None:
        if store.business_id != profile.business.id:
            raise ValueError(
                f"store is scoped to {store.business_id!r}, profile is {profile.business.id!r}"
            )
        self.profile = profile
        self.store = store
        self._policies = profile.policies
        self._step = timedelta(minutes=profile.policies.slot_step_minutes)

    # -- public API --------------------------------------------------------------------

    def free_slots(self, service_id: str, day: date, now: datetime) -> list[Slot]:
        """Every free start on ``day`` (business zone), earliest first."""
        service = self._service(service_id)
        start, end = self._day_bounds(day), self._day_bounds(day + timedelta(days=1))
        return self._day_slots(service, day, now, self._busy(service, start, end))

    def nearest(
        self,
        service_id: str,
        *,
        now: datetime,
        day: date | None = None,
        at: time | None = None,
        earliest: time | None = None,
        latest: time | None = None,
        limit: int | None = None,
    ) -> list[Slot]:
        """Free slots closest to what the caller asked for, best first.

        Order: the exact ``at`` on ``day``; then ``day`` inside [earliest, latest] by
        distance to ``at`` (or to ``earliest``); then the following days the same way, up
        to the horizon. If the window leaves fewer than ``limit`` slots, slots outside it
        fill the rest, so a caller with a full morning still hears an offer.
        """
        service = self._service(service_id)
        limit = self._policies.offer_count if limit is None else limit
        today, last = self._today(now), self._last_day(now)
        first = max(day or today, today)
        if limit <= 0 or first > last:
            return []
        busy = self._busy(service, self._day_bounds(first), self._day_bounds(last + _DAY))
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        anchor = at or earliest
        cache: dict[date, list[Slot]] = {}
        found: dict[datetime, Slot] = {}

        def offer(slots: Iterable[Slot]) -> bool:
            for slot in slots:
                found.setdefault(slot.start, slot)
                if len(found) >= limit:
                    return True
            return False

        for windowed in (True, False) if (earliest or latest) else (False,):
            for current in days:
                if current not in cache:
                    cache[current] = self._day_slots(service, current, now, busy)
                slots = cache[current]
                if at is not None and current == first:
                    if offer(s for s in slots if s.start.time() == at):
                        return list(found.values())
                if windowed:
                    slots = [s for s in slots if _within(s.start.time(), earliest, latest)]
                if offer(sorted(slots, key=lambda s: (_distance(s.start, anchor), s.start))):
                    return list(found.values())
        return list(found.values())

    def check(self, service_id: str, start: datetime, now: datetime) -> Slot:
        """The slot starting at ``start`` with a free resource, or a typed refusal."""
        service = self._service(service_id)
        begin, end = self._validate(service, start, now)
        busy = self._busy(service, begin, end)
        for resource_id in self._resource_ids(service):
            if busy.is_free(resource_id, begin, end):
                return self._slot(service, resource_id, begin, end)
        raise SlotUnavailable(f"{self._say(begin)} is already taken")

    def book(
        self,
        slot: Slot,
        *,
        customer_name: str,
        customer_phone: str | None,
        call_id: str | None,
        now: datetime,
        idempotency_key: str | None = None,
        hold: bool = False,
    ) -> BookingRecord:
        """Store a confirmed booking for ``slot``, or raise; never a false success.

        The slot's resource is preferred; if a concurrent caller took it, another free
        resource of the same kind is used, and only if none is left is
        :class:`SlotUnavailable` raised. The record is read back from the stored row.

        With ``idempotency_key``, a booking already stored under that key is returned
        as is (a retry books nothing new). ``hold`` stores a reservation (status
        ``held``) that keeps the slot while an external backend is written.
        """
        if not customer_name.strip():
            raise ValueError("customer_name must not be empty")
        if idempotency_key is not None:
            # A replay (a retry, the outbox after a restart) returns what was stored,
            # even once the slot has passed or filled up: it books nothing new.
            existing = self.store.get_booking_by_key(idempotency_key)
            if existing is not None:
                wanted = BOOKING_HELD if hold else BOOKING_CONFIRMED
                if existing.status in (BOOKING_CONFIRMED, wanted):
                    return self.localize(existing)
                # a slot held for this request (a dropped call's offer) is booked now; a
                # released hold is taken again if the slot is still free
                try:
                    return self.localize(self.store.set_booking_status(existing.id, wanted))
                except BookingConflict:
                    raise SlotUnavailable(f"{self._say(existing.start_at)} was just taken"
                                          ) from None
        service = self._service(slot.service_id)
        begin, end = self._validate(service, slot.start, now)
        candidates = self._resource_ids(service)
        if slot.resource_id not in candidates:
            raise SlotUnavailable(f"{slot.resource_id!r} cannot take a {service.name}")
        preferred = [slot.resource_id, *(r for r in candidates if r != slot.resource_id)]
        try:
            record = self.store.create_booking(
                service_id=service.id,
                resource_ids=preferred,
                start_at=begin,
                end_at=end,
                customer_name=customer_name.strip(),
                customer_phone=customer_phone,
                call_id=call_id,
                created_at=now,
                idempotency_key=idempotency_key,
                status=BOOKING_HELD if hold else BOOKING_CONFIRMED,
            )
        except BookingConflict:
            raise SlotUnavailable(f"{self._say(begin)} was just taken") from None
        return self.localize(record)

    def localize(self, record: BookingRecord) -> BookingRecord:
        tz = self.profile.tz
        return dataclasses.replace(
            record, start_at=record.start_at.astimezone(tz), end_at=record.end_at.astimezone(tz)
        )

    # -- internals ---------------------------------------------------------------------

    def _service(self, service_id: str) -> Service:
        try:
            return self.profile.service(service_id)
        except KeyError:
            raise UnknownService(f"we don't offer {service_id!r}") from None

    def _resource_ids(self, service: Service) -> list[str]:
        return [r.id for r in self.profile.resources_of_kind(service.resource_kind)]

    def _today(self, now: datetime) -> date:
        return _aware(now).astimezone(self.profile.tz).date()

    def _last_day(self, now: datetime) -> date:
        """The horizon is counted in calendar days: today + booking_horizon_days."""
        return self._today(now) + timedelta(days=self._policies.booking_horizon_days)

    def _earliest(self, now: datetime) -> datetime:
        return _aware(now).astimezone(UTC) + timedelta(minutes=self._policies.min_notice_minutes)

    def _day_bounds(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.profile.tz).astimezone(UTC)

    def _busy(self, service: Service, start: datetime, end: datetime) -> _Busy:
        ids = self._resource_ids(service)
        return _Busy(self.store.list_bookings(start, end, resource_ids=ids))

    def _slot(self, service: Service, resource_id: str, start: datetime, end: datetime) -> Slot:
        tz = self.profile.tz
        return Slot(service.id, resource_id, start.astimezone(tz), end.astimezone(tz))

    def _intervals_utc(self, day: date) -> list[tuple[datetime, datetime]]:
        return [
            (a.astimezone(UTC), b.astimezone(UTC)) for a, b in self.profile.opening_intervals(day)
        ]

    def _day_slots(self, service: Service, day: date, now: datetime, busy: _Busy) -> list[Slot]:
        if not self._today(now) <= day <= self._last_day(now):
            return []
        duration = timedelta(minutes=service.duration_minutes)
        earliest = self._earliest(now)
        resources = self._resource_ids(service)
        slots: list[Slot] = []
        for opens, closes in self._intervals_utc(day):
            start = opens
            while start + duration <= closes:
                end = start + duration
                if start >= earliest:
                    free = next((r for r in resources if busy.is_free(r, start, end)), None)
                    if free is not None:
                        slots.append(self._slot(service, free, start, end))
                start += self._step
        return slots

    def _validate(
        self, service: Service, start: datetime, now: datetime
    ) -> tuple[datetime, datetime]:
        """Everything but occupancy; returns the UTC [start, end) of the appointment."""
        begin = _aware(start).astimezone(UTC)
        end = begin + timedelta(minutes=service.duration_minutes)
        if begin < _aware(now).astimezone(UTC):
            raise InPast(f"{self._say(begin)} has already passed")
        if begin < self._earliest(now):
            raise TooSoon(f"we need at least {self._policies.min_notice_minutes} minutes' notice")
        day = begin.astimezone(self.profile.tz).date()
        if day > self._last_day(now):
            raise BeyondHorizon(f"we only book {self._policies.booking_horizon_days} days ahead")
        holiday = self.profile.holiday(day)
        if holiday is not None:
            raise OutsideHours(
                f"we're closed on {day:%B} {day.day} for {holiday.name or 'a holiday'}"
            )
        for opens, closes in self._intervals_utc(day):
            if opens <= begin < closes:
                if end > closes:
                    raise OutsideHours(
                        f"a {service.duration_minutes}-minute {service.name} at "
                        f"{self._say(begin)} would run past closing at {self._say(closes)}"
                    )
                if (begin - opens) % self._step:
                    minutes = self._policies.slot_step_minutes
                    raise SlotUnavailable(f"appointments start every {minutes} minutes")
                return begin, end
        raise OutsideHours(f"we're closed at {self._say(begin)}. {self.profile.describe_hours()}")

    def _say(self, moment: datetime) -> str:
        local = moment.astimezone(self.profile.tz)
        return f"{local:%A} {speak_time(local.time())}"


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}; pass an aware datetime")
    return value


def _within(t: time, earliest: time | None, latest: time | None) -> bool:
    return (earliest is None or t >= earliest) and (latest is None or t <= latest)


def _distance(start: datetime, anchor: time | None) -> int:
    """Minutes between the slot's wall-clock time and the anchor (0 without anchor)."""
    if anchor is None:
        return 0
    t = start.time()
    return abs((t.hour * 60 + t.minute) - (anchor.hour * 60 + anchor.minute))
