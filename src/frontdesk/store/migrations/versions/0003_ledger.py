"""The commitment ledger: ``commitments``, their ``commitment_attempts``, reconciliation
``findings``, an idempotency key plus an external id on ``bookings``, and an idempotency
key on ``messages``.

The booking columns are nullable (rows from before this revision have no key), so the
upgrade is a plain ADD COLUMN; the unique index allows any number of NULL keys on both
SQLite and PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(200), nullable=True))
    op.create_index(
        "ix_bookings_business_idempotency_key", "bookings", ["business_id", "idempotency_key"],
        unique=True,  # a retried booking must find its row, not make a second one
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(64), nullable=True))
    op.create_index(
        "ix_messages_business_idempotency_key", "messages", ["business_id", "idempotency_key"],
        unique=True,  # a message taken twice is stored once
    )

    op.create_table(
        "commitments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column(
            "call_id",
            sa.String(36),
            sa.ForeignKey("calls.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("connector", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("told", sa.String(16), nullable=True),
        sa.Column("told_heard", sa.Boolean(), nullable=False),
        sa.Column(
            "parent_id",
            sa.String(36),
            sa.ForeignKey("commitments.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    op.create_index(
        "ix_commitments_business_key", "commitments", ["business_id", "idempotency_key"],
        unique=True,
    )
    op.create_index(
        "ix_commitments_business_state_next", "commitments",
        ["business_id", "state", "next_attempt_at"],
    )
    op.create_index("ix_commitments_call_id", "commitments", ["call_id"])
    op.create_index("ix_commitments_parent_id", "commitments", ["parent_id"])

    op.create_table(
        "commitment_attempts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "commitment_id",
            sa.String(36),
            sa.ForeignKey("commitments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.UniqueConstraint("commitment_id", "seq", name="uq_commitment_attempts_commitment_seq"),
    )
    op.create_index(
        "ix_commitment_attempts_business_id", "commitment_attempts", ["business_id"]
    )

    op.create_table(
        "findings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column(
            "commitment_id",
            sa.String(36),
            sa.ForeignKey("commitments.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("found_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_findings_business_dedupe", "findings", ["business_id", "dedupe_key"], unique=True
    )
    op.create_index("ix_findings_commitment_id", "findings", ["commitment_id"])


def downgrade() -> None:
    for table in ("findings", "commitment_attempts", "commitments"):
        op.drop_table(table)
    op.drop_index("ix_bookings_business_idempotency_key", table_name="bookings")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("external_id")
        batch.drop_column("idempotency_key")
    op.drop_index("ix_messages_business_idempotency_key", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("idempotency_key")
