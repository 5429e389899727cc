"""calls remember when the metric rollups added them, so refreshes add instead of rebuilding

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_ROLLED_UP = "rolled_up_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rolled_up_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_calls_not_rolled_up", "calls", ["started_at"],
        postgresql_where=sa.text(NOT_ROLLED_UP), sqlite_where=sa.text(NOT_ROLLED_UP),
    )  # fmt: skip
    # No call is marked yet: forget the rollups, the next refresh rebuilds every day and marks.
    op.execute(sa.text("DELETE FROM metric_rollup_state"))


def downgrade() -> None:
    op.drop_index("ix_calls_not_rolled_up", table_name="calls")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("rolled_up_at")
