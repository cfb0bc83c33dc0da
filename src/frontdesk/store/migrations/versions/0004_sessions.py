"""Caller sessions: ``sessions`` (one conversation across call legs, resumable after a
drop, with its outbound callback) and ``calls.session_id``, the session each leg joins.

SQLite gets the new column by a plain ``ALTER TABLE ... ADD COLUMN ... REFERENCES``, and
loses it by ``DROP COLUMN``, never by a batch rebuild of ``calls``: a rebuild drops the old
table, and with foreign keys on that DROP deletes every row first, cascading into
``turns`` and ``call_events``. Both statements need SQLite 3.35 or later. The key has no
ON DELETE action, on either dialect: SQLAlchemy's SQLite reflection cannot see the options
of a column-level key, so the models (which match) say NO ACTION too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-16
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("task", sa.String(24), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("snapshot_seq", sa.Integer(), nullable=False),
        sa.Column("last_call_id", sa.String(36), nullable=True),
        sa.Column("legs", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("dropped_at", _utc(), nullable=True),
        sa.Column("resume_until", _utc(), nullable=True),
        sa.Column("hold_until", _utc(), nullable=True),
        sa.Column("callback_at", _utc(), nullable=True),
        sa.Column("callback_state", sa.String(16), nullable=True),
        sa.Column("callback_owner", sa.String(64), nullable=True),
        sa.Column("callback_lease_until", _utc(), nullable=True),
        sa.Column("callback_call_id", sa.String(64), nullable=True),
        sa.Column("held_booking_id", sa.String(36), nullable=True),
    )
    op.create_index(
        "ix_sessions_business_caller_status", "sessions",
        ["business_id", "caller_number", "status"],
    )
    op.create_index(
        "ix_sessions_business_status_callback", "sessions",
        ["business_id", "status", "callback_at"],
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE calls ADD COLUMN session_id VARCHAR(36) REFERENCES sessions (id)"
        )
    else:
        op.add_column("calls", sa.Column(
            "session_id", sa.String(36), sa.ForeignKey("sessions.id"), nullable=True,
        ))
    op.create_index("ix_calls_session_id", "calls", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_calls_session_id", table_name="calls")
    # ALTER TABLE ... DROP COLUMN on both dialects (not batch mode: see the docstring).
    op.drop_column("calls", "session_id")
    op.drop_table("sessions")
