"""the LINE channel: events received, conversations, the chat's messages, media, ticket links,
progress pushes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "line_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("redelivery", sa.Boolean(), nullable=False),
        _at("received_at"),
        _at("handled_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_events")),
        sa.UniqueConstraint("webhook_event_id", name=op.f("uq_line_events_webhook_event_id")),
    )
    op.create_index(op.f("ix_line_events_received_at"), "line_events", ["received_at"])
    op.create_table(
        "line_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_conversations")),
        sa.UniqueConstraint("line_user_id", name=op.f("uq_line_conversations_line_user_id")),
    )
    op.create_table(
        "line_tickets",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        _at("linked_at"),
        sa.ForeignKeyConstraint(["conversation_id"], ["line_conversations.id"],
                                name=op.f("fk_line_tickets_conversation_id_line_conversations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_line_tickets_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_line_tickets")),
    )  # fmt: skip
    op.create_index(op.f("ix_line_tickets_conversation_id"), "line_tickets", ["conversation_id"])
    op.create_table(
        "line_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("line_message_id", sa.String(length=64), nullable=True),
        _at("created_at"),
        sa.ForeignKeyConstraint(["conversation_id"], ["line_conversations.id"],
                                name=op.f("fk_line_messages_conversation_id_line_conversations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_line_messages_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_messages")),
    )  # fmt: skip
    for column in ("conversation_id", "ticket_id", "created_at"):
        op.create_index(op.f(f"ix_line_messages_{column}"), "line_messages", [column])
    op.create_table(
        "line_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_message_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("storage_key", sa.String(length=300), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("stored_at", nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["line_conversations.id"],
                                name=op.f("fk_line_attachments_conversation_id_line_conversations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_line_attachments_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_attachments")),
        sa.UniqueConstraint("line_message_id", name=op.f("uq_line_attachments_line_message_id")),
    )  # fmt: skip
    for column in ("conversation_id", "ticket_id", "created_at"):
        op.create_index(op.f(f"ix_line_attachments_{column}"), "line_attachments", [column])
    op.create_table(
        "line_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("sent_at", nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["line_conversations.id"],
                                name=op.f("fk_line_pushes_conversation_id_line_conversations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_line_pushes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_pushes")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_line_pushes_dedupe_key")),
    )  # fmt: skip
    op.create_index(op.f("ix_line_pushes_ticket_id"), "line_pushes", ["ticket_id"])
    op.create_index(op.f("ix_line_pushes_state"), "line_pushes", ["state"])


def downgrade() -> None:
    for table in ("line_pushes", "line_attachments", "line_messages", "line_tickets", "line_conversations",
                  "line_events"):  # fmt: skip
        op.drop_table(table)
