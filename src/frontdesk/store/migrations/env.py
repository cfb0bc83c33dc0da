"""Alembic environment for frontdesk.

Normally run through ``frontdesk.store.run_migrations``, which hands over an open
connection in ``config.attributes["connection"]``. From the alembic command line, pass
the URL with ``-x url=...`` (or set FRONTDESK_DATABASE_URL). Logging is left to the
application: configuring it here would override the server's log set-up.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from frontdesk.store.models import Base

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return url or os.environ.get("FRONTDESK_DATABASE_URL") or "sqlite:///var/frontdesk.db"


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    shared = config.attributes.get("connection")
    if shared is not None:
        _migrate(shared)
    else:
        engine = create_engine(_url())
        try:
            with engine.begin() as connection:
                _migrate(connection)
        finally:
            engine.dispose()
