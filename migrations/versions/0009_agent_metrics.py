"""agent time in the metric rollups; indexes for wrap-up lookups

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALL_ROLLUP_COLUMNS = ("wrap_s", "agent_available_s", "agent_on_call_s", "agent_wrap_up_s")
AGENT_ROLLUP_COLUMNS = ("wrap_s", "available_s", "on_call_s", "wrap_up_s")


def upgrade() -> None:
    for table, columns in (("metric_call_rollups", CALL_ROLLUP_COLUMNS),
                           ("metric_agent_rollups", AGENT_ROLLUP_COLUMNS)):  # fmt: skip
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in columns:
                batch_op.add_column(
                    sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))
                )
    # Wrap-up of a call: its agent's wrap_up event, and the refresh finds calls wrapped lately.
    op.create_index("ix_agent_state_events_call_sid", "agent_state_events", ["call_sid"])
    op.create_index("ix_calls_wrapped_up", "calls", ["wrapped_up_at"])
    # The rollups were written without agent time: forget them, the next refresh rebuilds all.
    op.execute(sa.text("DELETE FROM metric_rollup_state"))


def downgrade() -> None:
    op.drop_index("ix_calls_wrapped_up", table_name="calls")
    op.drop_index("ix_agent_state_events_call_sid", table_name="agent_state_events")
    for table, columns in (("metric_agent_rollups", AGENT_ROLLUP_COLUMNS),
                           ("metric_call_rollups", CALL_ROLLUP_COLUMNS)):  # fmt: skip
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in columns:
                batch_op.drop_column(name)
