"""The built-in calendar as a connector: the store is the backend of record.

A write is one locked transaction (``Calendar.book``) keyed by the idempotency key, so
it is exactly-once by construction; the connector exists so the executor, the outbox and
reconciliation treat every backend the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from frontdesk.actions.calendar import Calendar, CalendarError, Slot, SlotUnavailable
from frontdesk.actions.connectors.base import (
    BackendBooking,
    BookingRequest,
    Rejected,
    Unavailable,
    Uncertain,
)
from frontdesk.store import BOOKING_CANCELLED, BOOKING_CONFIRMED, BookingRecord

__all__ = ["BuiltinConnector", "backend_booking"]

NAME = "builtin"


def backend_booking(record: BookingRecord) -> BackendBooking:
    return BackendBooking(
        key=record.idempotency_key or "", external_id=record.id, start=record.start_at,
        end=record.end_at, service_id=record.service_id, customer_name=record.customer_name,
        customer_phone=record.customer_phone,
    )


class BuiltinConnector:
    name = NAME

    def __init__(self, calendar: Calendar, clock: Callable[[], datetime]) -> None:
        self.calendar = calendar
        self.store = calendar.store
        self._clock = clock

    async def create(self, request: BookingRequest) -> BackendBooking:
        service = self.calendar.profile.service(request.service_id)
        resources = [r.id for r in self.calendar.profile.resources_of_kind(service.resource_kind)]
        slot = Slot(request.service_id, request.resource_id or resources[0], request.start,
                    request.end)
        try:
            record = await asyncio.to_thread(
                self.calendar.book, slot, customer_name=request.customer_name,
                customer_phone=request.customer_phone, call_id=request.call_id,
                now=self._clock(), idempotency_key=request.key,
            )
        except SlotUnavailable as error:
            raise Rejected(NAME, str(error), code="slot_taken") from None
        except CalendarError as error:
            raise Rejected(NAME, str(error), code="invalid") from None
        except SQLAlchemyError as error:  # the commit may or may not have happened
            raise Uncertain(NAME, f"database: {type(error).__name__}") from None
        return backend_booking(record)

    async def find(self, key: str) -> list[BackendBooking]:
        try:
            record = await asyncio.to_thread(self.store.get_booking_by_key, key)
        except SQLAlchemyError as error:
            raise Unavailable(NAME, f"database: {type(error).__name__}") from None
        if record is None or record.status != BOOKING_CONFIRMED:
            return []
        return [backend_booking(record)]

    async def list_range(self, start: datetime, end: datetime) -> list[BackendBooking]:
        try:
            records = await asyncio.to_thread(self.store.list_bookings, start, end)
        except SQLAlchemyError as error:
            raise Unavailable(NAME, f"database: {type(error).__name__}") from None
        return [backend_booking(r) for r in records if r.status == BOOKING_CONFIRMED]

    async def cancel(self, key: str) -> bool:
        try:
            record = await asyncio.to_thread(self.store.get_booking_by_key, key)
            if record is None or record.status == BOOKING_CANCELLED:
                return False
            await asyncio.to_thread(self.store.set_booking_status, record.id, BOOKING_CANCELLED)
        except SQLAlchemyError as error:
            raise Uncertain(NAME, f"database: {type(error).__name__}") from None
        return True
