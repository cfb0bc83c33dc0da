"""Opening the database: URL choice, engine set-up per dialect, and migrations.

SQLite is the embedded default and PostgreSQL the scale-out option; everything that
differs between them (pragmas, how a write transaction takes its lock) is decided here so
repositories stay dialect-agnostic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.store.repository import BusinessStore

__all__ = ["DEFAULT_SQLITE_PATH", "Store", "database_url", "open_store", "run_migrations"]

DEFAULT_SQLITE_PATH = Path("var") / "frontdesk.db"
_PACKAGE_DIR = Path(__file__).resolve().parent
# Execution option read by the SQLite "begin" hook: take the write lock up front.
_WRITE = "frontdesk_write"


def database_url(env: Mapping[str, str] | None = None) -> str:
    """``FRONTDESK_DATABASE_URL`` if set, else a SQLite file under ``./var``."""
    env = os.environ if env is None else env
    url = env.get("FRONTDESK_DATABASE_URL", "").strip()
    if url:
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys, WAL, a busy timeout, and transactions we control.

    pysqlite's own implicit BEGIN is deferred and starts only at the first write, which
    lets two writers both read "slot free" and then race. We switch it off and emit BEGIN
    ourselves: ``BEGIN IMMEDIATE`` for write sessions, so the check-then-insert of a
    booking is serialised by SQLite's single writer lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def run_migrations(engine: Engine) -> None:
    """``alembic upgrade head`` using the ini and scripts shipped inside the package."""
    config = Config(str(_PACKAGE_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(_PACKAGE_DIR / "migrations").replace("%", "%%"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """The database of a frontdesk instance. Queries go through :meth:`for_business`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def for_business(self, business_id: str) -> BusinessStore:
        """The only way to read or write rows: every query is scoped to this business."""
        if not business_id:
            raise ValueError("business_id must not be empty")
        return BusinessStore(self, business_id)

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any exception.

        Private on purpose: only :class:`BusinessStore` opens sessions, so every query
        in the code base is scoped to a business.

        ``write=True`` takes the database write lock when the transaction begins (SQLite
        ``BEGIN IMMEDIATE``), so a read-check-write sequence cannot interleave with
        another writer. PostgreSQL callers add row or advisory locks themselves.
        """
        with self._sessions() as session:
            if write and self.dialect == "sqlite":
                # Must be the first use of the session: the options apply at BEGIN.
                session.connection(execution_options={_WRITE: True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        """Dispose of the pool so no connection (or ResourceWarning) outlives the store."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Create the engine for ``url`` (default :func:`database_url`) and migrate to head."""
    url = url or database_url()
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    store = Store(engine)
    if migrate:
        try:
            run_migrations(engine)
        except BaseException:
            store.close()
            raise
    return store
