"""caller IDs kept whole in text columns; refused call-log entries kept in the database

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.alter_column("from_raw", type_=sa.Text(), existing_type=sa.String(64))
        batch_op.alter_column("to_number", type_=sa.Text(), existing_type=sa.String(64))
    op.create_table(
        "call_log_refused",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_call_log_refused_refused_at", "call_log_refused", ["refused_at"])


def downgrade() -> None:
    op.drop_index("ix_call_log_refused_refused_at", table_name="call_log_refused")
    op.drop_table("call_log_refused")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.alter_column("to_number", type_=sa.String(64), existing_type=sa.Text())
        batch_op.alter_column("from_raw", type_=sa.String(64), existing_type=sa.Text())
