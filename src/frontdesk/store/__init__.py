"""Persistence: SQLAlchemy models, the business-scoped repository, Alembic migrations.

Use ``open_store(url)`` then ``store.for_business(business_id)``; nothing else queries.
"""

from frontdesk.store.engine import (
    DEFAULT_SQLITE_PATH,
    Store,
    database_url,
    open_store,
    run_migrations,
)
from frontdesk.store.records import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    RECORDING_OFF,
    RECORDING_PENDING,
    RECORDING_RECORDING,
    RECORDING_SAVED,
    RECORDING_STATES,
    RECORDING_STOPPED_BY_CALLER,
    BookingRecord,
    CallEventRecord,
    CallRecord,
    MessageRecord,
    StoredTurn,
    TurnRecord,
)
from frontdesk.store.repository import BookingConflict, BusinessStore, RecordNotFound

__all__ = [
    "BOOKING_CANCELLED",
    "BOOKING_CONFIRMED",
    "DEFAULT_SQLITE_PATH",
    "RECORDING_OFF",
    "RECORDING_PENDING",
    "RECORDING_RECORDING",
    "RECORDING_SAVED",
    "RECORDING_STATES",
    "RECORDING_STOPPED_BY_CALLER",
    "BookingConflict",
    "BookingRecord",
    "BusinessStore",
    "CallEventRecord",
    "CallRecord",
    "MessageRecord",
    "RecordNotFound",
    "Store",
    "StoredTurn",
    "TurnRecord",
    "database_url",
    "open_store",
    "run_migrations",
]
