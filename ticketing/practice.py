"""Training batches and practice calls: trainees file practice tickets that are scored.

A practice ticket is a real Ticket row with ``is_training`` set (so it goes through the same
validation, numbering and audit as a real one) and it is never shown or counted with real work:
every ticket list and metric filters ``Ticket.is_training.is_(False)`` (docs/simulator_training.md).
The practice call itself lives only here, never in the call log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ticketing.db.base import Base, UTCDateTime, utcnow
from ticketing.db.uow import UnitOfWork
from ticketing.errors import NotFoundError, PermissionDeniedError, ValidationError
from ticketing.filing import TicketDraft
from ticketing.models import Role, Ticket, User
from ticketing.permissions import Actor
from ticketing.services import open_ticket
from ticketing.training import Scenario, TraineeTicket, score_ticket

TRAINERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
TRAINEES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
MAX_BATCH_NAME = 120

training_batch_members = Table(
    "training_batch_members",
    Base.metadata,
    Column("batch_id", ForeignKey("training_batches.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class TrainingBatch(Base):
    """A regional training batch (รุ่น) of trainee agents."""

    __tablename__ = "training_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_BATCH_NAME), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    members: Mapped[list[User]] = relationship(secondary=training_batch_members)


class PracticeCall(Base):
    """One practice call: who took which scenario, when, the ticket filed and its score."""

    __tablename__ = "practice_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("training_batches.id"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), unique=True)
    seconds: Mapped[int | None] = mapped_column(Integer)
    score_percent: Mapped[int | None] = mapped_column(Integer)
    points: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float | None] = mapped_column(Float)
    details: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    trainee: Mapped[User] = relationship()
    batch: Mapped[TrainingBatch | None] = relationship()


@dataclass(frozen=True, slots=True)
class PracticeTicket:
    """What the trainee typed into the practice ticket form."""

    category: str
    province_code: str
    district_code: str
    citizen_id: str
    description: str


# Batches ----------------------------------------------------------------------------------------


def create_batch(uow: UnitOfWork, name: str, usernames: list[str], actor: Actor) -> TrainingBatch:
    """A new batch with its trainees (agents, by username). Nothing is written on an error."""
    _require_trainer(actor)
    clean = name.strip()
    if not clean or len(clean) > MAX_BATCH_NAME:
        raise ValidationError(f"1 to {MAX_BATCH_NAME} characters", field="name")
    wanted = sorted({u.strip().lower() for u in usernames if u.strip()})
    if not wanted:
        raise ValidationError("list at least one trainee", field="usernames")
    with uow:
        session = uow.session
        if session.scalars(select(TrainingBatch).where(TrainingBatch.name == clean)).first():
            raise ValidationError("a batch with this name exists", field="name")
        users = list(session.scalars(select(User).where(User.username.in_(wanted))))
        unknown = sorted(set(wanted) - {u.username for u in users})
        if unknown:
            raise ValidationError("unknown users: " + ", ".join(unknown), field="usernames")
        batch = TrainingBatch(name=clean, created_by_id=actor.user_id, members=users)
        session.add(batch)
        uow.commit()
    return batch


def batches(uow: UnitOfWork) -> list[TrainingBatch]:
    with uow:
        return list(uow.session.scalars(select(TrainingBatch).order_by(TrainingBatch.name)))


# Practice calls ---------------------------------------------------------------------------------


def start_practice(
    uow: UnitOfWork, actor: Actor, scenario: Scenario, *, now: datetime | None = None
) -> PracticeCall:
    """The trainee picks up a practice call: the clock starts now."""
    if actor.role not in TRAINEES or actor.user_id is None:
        raise PermissionDeniedError("only staff take practice calls")
    with uow:
        batch_id = uow.session.scalars(
            select(training_batch_members.c.batch_id)
            .where(training_batch_members.c.user_id == actor.user_id)
            .order_by(training_batch_members.c.batch_id.desc())
        ).first()  # the trainee's latest batch
        practice = PracticeCall(trainee_id=actor.user_id, batch_id=batch_id,
                                scenario_id=scenario.id, started_at=now or utcnow())  # fmt: skip
        uow.session.add(practice)
        uow.commit()
    return practice


def practice_for(uow: UnitOfWork, practice_id: int, actor: Actor) -> PracticeCall:
    """The trainee's own practice call (a trainer may see anyone's)."""
    with uow:
        practice = uow.session.get(PracticeCall, practice_id)
    if practice is None or (practice.trainee_id != actor.user_id and actor.role not in TRAINERS):
        raise NotFoundError("no such practice call")
    return practice


def file_practice_ticket(
    uow: UnitOfWork,
    practice: PracticeCall,
    scenario: Scenario,
    form: PracticeTicket,
    actor: Actor,
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> PracticeCall:
    """File the practice ticket (flagged as training) and score it, in one transaction."""
    if practice.ticket_id is not None:
        raise ValidationError("this practice call already has its ticket", field="practice")
    if practice.trainee_id != actor.user_id:
        raise PermissionDeniedError("only the trainee files the practice ticket")
    filed_at = now or utcnow()
    draft = TicketDraft(
        channel="phone",
        category_code=form.category,
        description=form.description,
        caller_phone=scenario.caller.phone,
        citizen_id=form.citizen_id or None,
        citizen_name=scenario.caller.name,
        province_code=form.province_code or None,
        district_code=form.district_code or None,
        is_training=True,
    )
    if not draft.description.strip():
        raise ValidationError("describe the complaint", field="description")
    seconds = max(0, round((filed_at - practice.started_at).total_seconds()))
    score = score_ticket(
        scenario,
        TraineeTicket(form.category, form.province_code or None, form.district_code or None,
                    form.citizen_id or None, form.description, seconds),
    )  # fmt: skip

    def record_score(session: Session, ticket: Ticket) -> None:
        row = session.get(PracticeCall, practice.id)
        if row is None or row.ticket_id is not None:  # filed from another tab meanwhile
            raise ValidationError("this practice call already has its ticket", field="practice")
        row.ticket_id, row.filed_at, row.seconds = ticket.id, filed_at, seconds
        row.score_percent, row.points, row.max_points = (
            score.percent,
            score.points,
            score.max_points,
        )
        row.details = [
            {"part": i.part, "points": i.points, "max_points": i.max_points,
             "expected": i.expected, "got": i.got}
            for i in score.items
        ]  # fmt: skip

    open_ticket(uow, draft, actor, tz=tz, now=filed_at, also=record_score)
    return practice_for(uow, practice.id, actor)


# Reports ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraineeSummary:
    user_id: int
    name: str
    username: str
    calls: int
    average: float | None
    best: int | None
    average_seconds: float | None


def batch_report(uow: UnitOfWork, batch_id: int) -> tuple[TrainingBatch, list[TraineeSummary]]:
    """Every trainee of the batch with their scored practice calls in this batch."""
    with uow:
        session = uow.session
        batch = session.get(TrainingBatch, batch_id)
        if batch is None:
            raise NotFoundError("no such batch")
        members = list(batch.members)
        rows = session.execute(
            select(
                PracticeCall.trainee_id,
                func.count(PracticeCall.id),
                func.avg(PracticeCall.score_percent),
                func.max(PracticeCall.score_percent),
                func.avg(PracticeCall.seconds),
            )
            .where(PracticeCall.batch_id == batch_id, PracticeCall.ticket_id.is_not(None))
            .group_by(PracticeCall.trainee_id)
        ).all()
    stats = {row[0]: row[1:] for row in rows}
    summaries = []
    for user in sorted(members, key=lambda u: u.display_name):
        calls, average, best, seconds = stats.get(user.id, (0, None, None, None))
        summary = TraineeSummary(
            user.id, user.display_name, user.username, calls, _float(average), best,
            _float(seconds),
        )  # fmt: skip
        summaries.append(summary)
    return batch, summaries


def trainee_calls(uow: UnitOfWork, trainee_id: int) -> tuple[User, list[PracticeCall]]:
    with uow:
        user = uow.session.get(User, trainee_id)
        if user is None:
            raise NotFoundError("no such trainee")
        calls = list(
            uow.session.scalars(
                select(PracticeCall)
                .where(PracticeCall.trainee_id == trainee_id)
                .order_by(PracticeCall.started_at.desc())
            )
        )
    return user, calls


def _require_trainer(actor: Actor) -> None:
    if actor.role not in TRAINERS:
        raise PermissionDeniedError("only supervisors and admins run training batches")


def _float(value: Any) -> float | None:
    """SQL averages come back as float (SQLite) or Decimal (PostgreSQL)."""
    return round(float(value), 1) if value is not None else None
