"""metric rollups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALL_COUNTS = (
    "calls", "offered", "answered", "answered_in_sl", "answer_wait_s", "max_wait_s",
    "abandoned_queue", "abandoned_in_sl", "short_abandons", "abandoned_ivr", "contained",
    "handled", "handle_s", "known_callers", "repeat_calls", "surveys_offered",
    "survey_responses", "survey_satisfied",
)  # fmt: skip
FUNNEL_COUNTS = ("entered", "continued", "no_input", "invalid", "hung_up", "to_agent")


def _counts(names: Sequence[str]) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "metric_call_rollups",
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("week_hour", sa.Integer(), nullable=False),
        *_counts(CALL_COUNTS),
        sa.PrimaryKeyConstraint("bucket_start", name=op.f("pk_metric_call_rollups")),
    )
    op.create_table(
        "metric_funnel_rollups",
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(length=80), nullable=False),
        *_counts(FUNNEL_COUNTS),
        sa.PrimaryKeyConstraint("day_start", "node", name=op.f("pk_metric_funnel_rollups")),
    )
    op.create_table(
        "metric_agent_rollups",
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        *_counts(("handled", "handle_s")),
        sa.PrimaryKeyConstraint("day_start", "agent_id", name=op.f("pk_metric_agent_rollups")),
    )
    op.create_table(
        "metric_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_rollup_state")),
    )
    # The rollup job and the live tail look calls up by when they ended.
    op.create_index("ix_calls_ended", "calls", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_ended", table_name="calls")
    for table in ("metric_rollup_state", "metric_agent_rollups", "metric_funnel_rollups",
                  "metric_call_rollups"):  # fmt: skip
        op.drop_table(table)
