"""Staff and agency accounts: creation and password changes, audited like everything else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ticketing.audit import record_audit
from ticketing.db.uow import UnitOfWork
from ticketing.errors import NotFoundError, ValidationError
from ticketing.models import Agency, Center, Role, User
from ticketing.permissions import Actor

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str
    password: str
    role: str
    center_code: str | None = None
    agency_code: str | None = None
    locale: str = "th"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"use at least {MIN_PASSWORD} characters", field="password")
    if password.strip() != password:
        raise ValidationError("no spaces at the start or end", field="password")


def create_user(uow: UnitOfWork, new: NewUser, actor: Actor) -> User:
    """Create an account. Staff belong to a center; agency users belong to an agency.

    Raises:
        ValidationError: bad username, weak password, unknown role, center or agency, or the
            username is taken.
    """
    username = new.username.strip().lower()
    if not USERNAME.match(username):
        raise ValidationError(
            "3-80 characters: lower-case letters, digits, dot, dash or underscore",
            field="username",
        )
    role = _role(new.role)
    check_password_strength(new.password)
    if not new.display_name.strip():
        raise ValidationError("give the person's name", field="display_name")
    with uow:
        session = uow.session
        if session.scalars(select(User.id).where(User.username == username)).first():
            raise ValidationError(f"{username!r} is taken", field="username")
        center, agency = _membership(uow, role, new.center_code, new.agency_code)
        user = User(
            username=username,
            display_name=new.display_name.strip(),
            password_hash=hash_password(new.password),
            role=role.value,
            center_id=center.id if center else None,
            agency_id=agency.id if agency else None,
            locale=new.locale,
        )
        session.add(user)
        session.flush()
        _audit(uow, actor, "user.create", user, {"role": role.value, "username": username})
        uow.commit()
    return user


def set_password(uow: UnitOfWork, username: str, password: str, actor: Actor) -> None:
    """Raises NotFoundError for an unknown user and ValidationError for a weak password."""
    check_password_strength(password)
    with uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"no user {username!r}", field="username")
        user.password_hash = hash_password(password)
        _audit(uow, actor, "user.password", user, {"changed": True})
        uow.commit()


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"{value!r} is not one of {allowed}", field="role") from None


def _membership(
    uow: UnitOfWork, role: Role, center_code: str | None, agency_code: str | None
) -> tuple[Center | None, Agency | None]:
    session = uow.session
    if role == Role.AGENCY:
        if not agency_code:
            raise ValidationError("agency users need an agency", field="agency")
        agency = session.scalars(select(Agency).where(Agency.code == agency_code)).first()
        if agency is None:
            raise ValidationError(f"unknown agency {agency_code!r}", field="agency")
        return None, agency
    code = center_code or "central"
    center = session.scalars(select(Center).where(Center.code == code)).first()
    if center is None:
        raise ValidationError(
            f"unknown center {code!r}: use 'central', a province or a district code",
            field="center",
        )
    return center, None


def _audit(
    uow: UnitOfWork, actor: Actor, action: str, user: User, after: dict[str, object]
) -> None:
    record_audit(uow.session, actor, action, ("user", str(user.id)), after=after)
