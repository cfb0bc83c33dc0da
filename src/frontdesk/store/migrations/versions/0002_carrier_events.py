"""Carrier columns on calls (carrier id, status, duration, end reason, recording) and the
per-call event log ``call_events``.

Every new column is nullable, so rows written before this revision stay valid and the
upgrade is a plain ADD COLUMN on both SQLite and PostgreSQL (no table rebuild).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CALL_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("carrier", sa.String(16)),
    ("carrier_call_id", sa.String(64)),
    ("carrier_status", sa.String(16)),
    ("duration_s", sa.Integer()),
    ("end_reason", sa.String(32)),
    ("recording", sa.String(24)),
    ("recording_path", sa.String(400)),
)


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for name, type_ in _CALL_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index(
        "ix_calls_business_carrier_id", "calls", ["business_id", "carrier", "carrier_call_id"],
        unique=True,  # a redelivered webhook must find the call, not make a second one
    )

    op.create_table(
        "call_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "call_id",
            sa.String(36),
            sa.ForeignKey("calls.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),
    )
    op.create_index("ix_call_events_call_id", "call_events", ["call_id"])
    op.create_index("ix_call_events_business_id", "call_events", ["business_id"])


def downgrade() -> None:
    op.drop_table("call_events")
    op.drop_index("ix_calls_business_carrier_id", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        for name, _ in reversed(_CALL_COLUMNS):
            batch.drop_column(name)
