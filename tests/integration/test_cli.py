"""The `hotline` command, run the way an operator runs it (settings from the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.calls.desk_models import AgentStateEvent, AgentStatus
from hotline.calls.models import Call, CallEvent
from hotline.cli import main
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Agency, Ticket, User
from ticketing.users import verify_password


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    return CliRunner(env={"INSTANCE_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""})


def db_of(tmp_path: Path) -> Database:
    return Database.connect(f"sqlite:///{tmp_path / 'hotline.sqlite3'}")


def test_db_upgrade_user_add_and_passwd(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(main, ["db", "upgrade"]).exit_code == 0
    added = cli.invoke(
        main,
        ["user", "add", "somsri", "--role", "supervisor", "--name", "สมศรี", "--center", "50",
         "--password-stdin"],
        input="a long enough password\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    changed = cli.invoke(
        main, ["user", "passwd", "somsri", "--password-stdin"], input="another long password\n"
    )
    assert changed.exit_code == 0, changed.output
    with UnitOfWork(db_of(tmp_path)) as uow:
        user = uow.session.scalars(select(User).where(User.username == "somsri")).one()
        assert user.role == "supervisor" and user.center is not None and user.center.code == "50"
        assert verify_password(user.password_hash, "another long password")
        assert not user.password_hash.startswith("another")


GOOD_PW = "long enough pw\n"
ADD = ["user", "add"]
BAD_COMMANDS = {
    "short username": ([*ADD, "x", "--role", "agent", "--name", "X"], GOOD_PW, "username"),
    "weak password": ([*ADD, "weak", "--role", "agent", "--name", "W"], "short\n", "password"),
    "unknown center": (
        [*ADD, "nocenter", "--role", "agent", "--name", "N", "--center", "99"],
        GOOD_PW,
        "unknown center",
    ),
    "agency user without agency": (
        [*ADD, "agency1", "--role", "agency", "--name", "A"],
        GOOD_PW,
        "agency",
    ),
    "unknown user": (["user", "passwd", "ghost"], GOOD_PW, "no user"),
}


@pytest.mark.parametrize(
    ("args", "stdin", "message"), BAD_COMMANDS.values(), ids=BAD_COMMANDS.keys()
)
def test_bad_input_is_one_clear_line_and_changes_nothing(
    cli: CliRunner, tmp_path: Path, args: list[str], stdin: str, message: str
) -> None:
    assert cli.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = cli.invoke(main, [*args, "--password-stdin"], input=stdin)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    with UnitOfWork(db_of(tmp_path)) as uow:
        assert uow.session.scalar(select(func.count()).select_from(User)) == 0


def test_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    runner = CliRunner(env={"INSTANCE_DIR": str(tmp_path), "DATABASE_URL": "mysql://x"})
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1 and "DATABASE_URL" in result.output


def test_demo_data_fills_every_screen_and_is_loaded_once(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = cli.invoke(main, ["demo-data", "--tickets", "60", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "demo-1567-hotline" in result.output
    db = db_of(tmp_path)
    with UnitOfWork(db) as uow:
        session = uow.session
        assert session.scalar(select(func.count()).select_from(Ticket)) == 60
        roles = set(session.scalars(select(User.role)))
        assert roles == {"agent", "supervisor", "admin", "agency"}
        assert session.scalar(select(func.count()).select_from(Agency)) >= 10
        assert session.scalar(select(func.count()).select_from(Call)) > 0
        assert session.scalar(select(func.count()).select_from(CallEvent)) > 0
        statuses = set(session.scalars(select(Ticket.status)))
        assert {"received", "closed"} <= statuses
        provinces = set(session.scalars(select(Ticket.province_code)))
        assert len(provinces) > 5
        assert_agents_worked_like_the_desk(session)

    again = cli.invoke(main, ["demo-data", "--if-empty"])
    assert again.exit_code == 0 and "nothing added" in again.output
    with UnitOfWork(db) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Ticket)) == 60


# The desk's state machine: which state may follow which.
DESK_MOVES = {("away", "available"), ("available", "away"), ("available", "on_call"),
              ("on_call", "wrap_up"), ("wrap_up", "available")}  # fmt: skip


def assert_agents_worked_like_the_desk(session: Session) -> None:
    """Demo agents' state logs follow the desk's rules, one caller at a time, and match calls."""
    events = session.scalars(
        select(AgentStateEvent).order_by(AgentStateEvent.user_id, AgentStateEvent.at)
    ).all()
    assert events
    last: dict[int, AgentStateEvent] = {}
    for event in events:
        before = last.get(event.user_id)
        assert (event.previous, event.state) in DESK_MOVES
        if before is not None:
            assert before.state == event.previous and before.at < event.at
        last[event.user_id] = event
    taken = session.execute(
        select(Call.call_sid, Call.agent_id, Call.answered_at, Call.wrapped_up_at).where(
            Call.agent_id.is_not(None)
        )
    ).all()
    on_call = {e.call_sid: (e.user_id, e.at) for e in events if e.state == "on_call"}
    assert taken and all(on_call[sid] == (agent, answered) for sid, agent, answered, _ in taken)
    assert all(wrapped is not None for *_, wrapped in taken)
    states = dict(session.execute(select(AgentStatus.user_id, AgentStatus.state)).all())
    assert states == {user: event.state for user, event in last.items()}
    assert list(states.values()).count("available") == 2  # on shift now; the rest away
    assert set(states.values()) <= {"available", "away"}
