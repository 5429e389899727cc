"""training batches and practice calls (practice tickets are tickets with is_training set)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_training_batches_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_batches")),
        sa.UniqueConstraint("name", name=op.f("uq_training_batches_name")),
    )
    op.create_table(
        "practice_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("scenario_id", sa.String(length=60), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("score_percent", sa.Integer(), nullable=True),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["training_batches.id"],
            name=op.f("fk_practice_calls_batch_id_training_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_practice_calls_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["trainee_id"], ["users.id"], name=op.f("fk_practice_calls_trainee_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_calls")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_practice_calls_ticket_id")),
    )
    with op.batch_alter_table("practice_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practice_calls_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_practice_calls_trainee_id"), ["trainee_id"], unique=False
        )

    op.create_table(
        "training_batch_members",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["training_batches.id"],
            name=op.f("fk_training_batch_members_batch_id_training_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_training_batch_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "user_id", name=op.f("pk_training_batch_members")),
    )


def downgrade() -> None:
    op.drop_table("training_batch_members")
    with op.batch_alter_table("practice_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_calls_trainee_id"))
        batch_op.drop_index(batch_op.f("ix_practice_calls_batch_id"))

    op.drop_table("practice_calls")
    op.drop_table("training_batches")
