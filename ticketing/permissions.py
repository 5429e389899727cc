"""Who may do what to a ticket. Routes check roles too; this is the rule the services enforce."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ticketing.errors import PermissionDeniedError
from ticketing.models import Role, User


class Action(StrEnum):
    OPEN = "ticket.open"
    NOTE = "ticket.note"
    STATUS = "ticket.status"
    ASSIGN = "ticket.assign"
    REFER = "ticket.refer"
    MERGE = "ticket.merge"
    VIEW_CITIZEN_ID = "ticket.view_citizen_id"
    VIEW_CALLER_NUMBER = "call.view_caller_number"


STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.OPEN: STAFF,
    Action.NOTE: STAFF | {Role.AGENCY},
    Action.STATUS: STAFF,
    Action.ASSIGN: STAFF,
    Action.REFER: STAFF,
    Action.MERGE: STAFF,
    # Agents take the complaint and must confirm the ID; agencies see it masked (need to know).
    Action.VIEW_CITIZEN_ID: STAFF,
    # Whole caller numbers leave the system only for those who review calls (PDPA: need to know).
    Action.VIEW_CALLER_NUMBER: SUPERVISORS,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever acts: a signed-in user, an API token, or the system itself (IVR, jobs)."""

    label: str
    user_id: int | None = None
    role: Role | None = None
    center_id: int | None = None
    agency_id: int | None = None
    ip: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(label=name)

    @classmethod
    def for_user(cls, user: User, ip: str | None = None) -> Actor:
        return cls(
            label=f"user:{user.username}",
            user_id=user.id,
            role=Role(user.role),
            center_id=user.center_id,
            agency_id=user.agency_id,
            ip=ip,
        )

    @property
    def is_system(self) -> bool:
        return self.role is None


def can(actor: Actor, action: Action) -> bool:
    return actor.is_system or (actor.role is not None and actor.role in ALLOWED[action])


def require(actor: Actor, action: Action) -> None:
    """Raises PermissionDeniedError naming the action when the actor's role does not allow it."""
    if not can(actor, action):
        raise PermissionDeniedError(f"role {actor.role} may not {action.value}")
