"""The audit trail (PDPA): who did what to which record, and the values before and after.

Rows are written with a plain INSERT on the caller's transaction's connection, so an audit event
exists exactly when the change it describes was committed. Nothing reads them back in the same
transaction, so they skip the ORM entirely: no unit of work, no autoflush, no ORM bulk-insert
machinery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, insert
from sqlalchemy.orm import Session

from ticketing.db.base import utcnow
from ticketing.models import AuditEvent
from ticketing.permissions import Actor

_INSERT = insert(AuditEvent)  # run on the connection: a plain Core INSERT


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    entity: tuple[str, str],
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one audit event; ``entity`` is (type, id), e.g. ("ticket", "6900012346")."""
    row = audit_values(actor, action, entity, before=before, after=after, at=at)
    session.connection().execute(_INSERT, [row])


def audit_values(
    actor: Actor,
    action: str,
    entity: tuple[str, str],
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The row of one audit event (every column but the id)."""
    entity_type, entity_id = entity
    return {
        "actor_id": actor.user_id,
        "actor_label": actor.label,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "ip": actor.ip,
        "created_at": at or utcnow(),
    }


def audit_insert(prefix: str) -> Insert:
    """An INSERT of one audit event whose values are bound as ``<prefix><column>``: a part of
    a larger statement (ticketing.services files a phone ticket in one)."""
    table = cast(Table, AuditEvent.__table__)
    columns = [c for c in table.c if c.name != "id"]
    return insert(table).values({c.name: bindparam(prefix + c.name, type_=c.type) for c in columns})
