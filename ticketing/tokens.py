"""API bearer tokens: made once, shown once, stored as a SHA-256 hash, scoped, revocable.

A token belongs to a user (staff systems acting as that user) or to an agency (an agency's own
system, which sees only what was referred to it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.db.uow import UnitOfWork
from ticketing.errors import ValidationError
from ticketing.models import Agency, ApiToken, Role, User
from ticketing.permissions import Actor

PREFIX = "hl_"
SCOPES = frozenset({
    "tickets:read", "tickets:write", "reference:read", "calls:read", "referrals:read",
    "referrals:write",
})  # fmt: skip
TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is a hint, not a write per request


@dataclass(frozen=True, slots=True)
class TokenOwner:
    token_id: int
    scopes: frozenset[str]
    actor: Actor


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    uow: UnitOfWork,
    name: str,
    scopes: list[str],
    actor: Actor,
    *,
    username: str | None = None,
    agency_code: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret exists outside the caller).

    Raises:
        ValidationError: no name, unknown scopes, not exactly one owner, unknown owner.
    """
    if not name.strip():
        raise ValidationError("name the token after the system that will use it", field="name")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown or not scopes:
        raise ValidationError(f"scopes must be some of {', '.join(sorted(SCOPES))}", field="scopes")
    if (username is None) == (agency_code is None):
        raise ValidationError("a token belongs to one user or one agency", field="owner")
    secret = PREFIX + secrets.token_urlsafe(32)
    with uow:
        session = uow.session
        owner_user = owner_agency = None
        if username is not None:
            owner_user = session.scalars(select(User).where(User.username == username)).first()
            if owner_user is None:
                raise ValidationError(f"no user {username!r}", field="owner")
        else:
            owner_agency = session.scalars(select(Agency).where(Agency.code == agency_code)).first()
            if owner_agency is None:
                raise ValidationError(f"no agency {agency_code!r}", field="owner")
        token = ApiToken(
            name=name.strip(), token_hash=hash_token(secret), prefix=secret[:10],
            scopes=" ".join(sorted(set(scopes))), expires_at=expires_at,
            user_id=owner_user.id if owner_user else None,
            agency_id=owner_agency.id if owner_agency else None,
        )  # fmt: skip
        session.add(token)
        session.flush()
        record_audit(session, actor, "token.create", ("api_token", str(token.id)),
                     after={"name": token.name, "scopes": token.scopes})  # fmt: skip
        uow.commit()
    return token, secret


def authenticate(uow: UnitOfWork, secret: str, now: datetime | None = None) -> TokenOwner | None:
    """The token's owner, or None for an unknown, revoked or expired token."""
    if not secret.startswith(PREFIX):
        return None
    digest = hash_token(secret)
    moment = now or utcnow()
    with uow:
        session = uow.session
        # The owner comes in the same round trip; _actor then finds it in the identity map.
        row = session.execute(
            select(ApiToken, User)
            .outerjoin(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest)
        ).first()
        token = row[0] if row is not None else None
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            return None
        if token.revoked_at is not None or (token.expires_at and token.expires_at <= moment):
            return None
        actor = _actor(uow, token)
        if actor is None:
            return None
        if token.last_used_at is None or moment - token.last_used_at > TOUCH_EVERY:
            token.last_used_at = moment
            uow.commit()
        return TokenOwner(token.id, frozenset(token.scopes.split()), actor)


def _actor(uow: UnitOfWork, token: ApiToken) -> Actor | None:
    label = f"token:{token.prefix}"
    if token.user_id is not None:
        user = uow.session.get(User, token.user_id)
        if user is None or not user.is_active:
            return None
        return Actor(label=label, user_id=user.id, role=Role(user.role), center_id=user.center_id,
                     agency_id=user.agency_id)  # fmt: skip
    return Actor(label=label, role=Role.AGENCY, agency_id=token.agency_id)


def revoke(uow: UnitOfWork, prefix: str, actor: Actor) -> bool:
    with uow:
        token = uow.session.scalars(select(ApiToken).where(ApiToken.prefix == prefix)).first()
        if token is None or token.revoked_at is not None:
            return False
        token.revoked_at = utcnow()
        record_audit(uow.session, actor, "token.revoke", ("api_token", str(token.id)))
        uow.commit()
    return True
