"""Opening a store: URL selection, migrations on a fresh file, models matching migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from frontdesk.store import database_url, open_store
from frontdesk.store.models import Base


def test_fresh_sqlite_file_is_migrated_to_head(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "fd.db"
    store = open_store(f"sqlite:///{db}")
    try:
        assert db.exists()
        tables = set(inspect(store.engine).get_table_names())
        assert {"calls", "turns", "bookings", "messages", "call_events", "commitments",
                "commitment_attempts", "findings", "sessions", "alembic_version"} <= tables
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        for table in ("calls", "turns", "bookings", "messages", "call_events", "commitments",
                      "commitment_attempts", "findings", "sessions"):
            indexed = {
                col for ix in inspect(store.engine).get_indexes(table) for col in ix["column_names"]
            }
            assert "business_id" in indexed, table
    finally:
        store.close()


def test_reopening_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fd.db'}"
    with open_store(url) as store:
        call = store.for_business("a").create_call("+1", "+2")
    with open_store(url) as store:
        assert store.for_business("a").get_call(call.id) == call


def test_models_match_migrations(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'fd.db'}") as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrations_do_not_depend_on_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///relative.db") as store:
        assert "calls" in inspect(store.engine).get_table_names()
    assert (tmp_path / "relative.db").exists()


def test_database_url_from_env_or_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert database_url({"FRONTDESK_DATABASE_URL": "postgresql+psycopg://x/y"}) == (
        "postgresql+psycopg://x/y"
    )
    monkeypatch.chdir(tmp_path)
    assert database_url({}) == "sqlite:///var/frontdesk.db"
    assert (tmp_path / "var").is_dir()
