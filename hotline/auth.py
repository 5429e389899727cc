"""Signing in and out, who the current user is, roles on routes, CSRF on forms.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure in production) holding the
user id and a fingerprint of the password hash, so changing a password signs out every other
session. Failed sign-ins are counted per username and per address (Redis when configured, this
process otherwise); too many in a quarter of an hour are refused with 429.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from hotline.runtime import runtime
from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.models import Role, User
from ticketing.permissions import Actor
from ticketing.users import verify_password

bp = Blueprint("auth", __name__, url_prefix="/auth")
F = TypeVar("F", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"
CSRF_EXEMPT_PREFIXES = (
    "/twilio/",
    "/api/",
    "/open311/",
    "/simulator/twilio/",
    "/line/",
)  # no cookies


# The current user -----------------------------------------------------------------------------


def current_user() -> User | None:
    if "current_user" not in g:
        g.current_user = _load_user()
    user: User | None = g.current_user
    return user


def _load_user() -> User | None:
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    with runtime().uow() as uow:
        user = uow.session.get(User, uid)
    if user is None or not user.is_active or session.get("pw") != _fingerprint(user):
        session.clear()
        return None
    return user


def current_actor() -> Actor:
    user = current_user()
    if user is None:
        abort(401)
    return Actor.for_user(user, ip=request.remote_addr)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def roles_required(*roles: Role | str) -> Callable[[F], F]:
    """Anonymous → the sign-in page (or 401 for scripts); signed in with another role → 403."""
    allowed = {Role(r) for r in roles}

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.accept_mimetypes.accept_html:
                    return redirect(url_for("auth.login", next=request.full_path))
                abort(401)
            if Role(user.role) not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


# CSRF -------------------------------------------------------------------------------------------


class FormExpired(BadRequest):
    """A form without the session's token: the session was lost or the page is stale."""

    description = "The form has expired; reload the page and try again."


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """Every state-changing request from a browser must carry the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith(
        CSRF_EXEMPT_PREFIXES
    ):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise FormExpired()


# Views ------------------------------------------------------------------------------------------


@bp.get("/login")
def login() -> ResponseReturnValue:
    return render_template("auth/login.html", error=None, next=_safe_next())


@bp.post("/login")
def login_post() -> ResponseReturnValue:
    username = request.form.get("username", "").strip().lower()[:80]
    password = request.form.get("password", "")
    keys = (f"user:{username}", f"ip:{request.remote_addr}")
    if runtime().signin_failures.too_many(*keys):
        return render_template("auth/login.html", error="too_many", next=_safe_next()), 429
    user = _find_user(username)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        runtime().signin_failures.add(*keys)
        return render_template("auth/login.html", error="invalid", next=_safe_next()), 401
    runtime().signin_failures.clear(keys[0])
    _sign_in(user)
    return redirect(_safe_next() or url_for("console.home"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.login"))


def _find_user(username: str) -> User | None:
    with runtime().uow() as uow:
        return uow.session.scalars(select(User).where(User.username == username)).first()


def _sign_in(user: User) -> None:
    session.clear()  # a new session id: no fixation
    session["uid"] = user.id
    session["pw"] = _fingerprint(user)
    session.permanent = True
    with runtime().uow() as uow:
        stored = uow.session.get(User, user.id)
        if stored is not None:
            stored.last_login_at = utcnow()
        record_audit(uow.session, Actor.for_user(user, ip=request.remote_addr), "user.sign_in",
                     ("user", str(user.id)))  # fmt: skip
        uow.commit()


def _safe_next() -> str | None:
    return local_path(request.values.get("next", ""))


def local_path(target: str) -> str | None:
    """``target`` if it is a path on this site, else None: never an open redirect.

    Browsers drop tabs and newlines and read a backslash as a slash, so "/", a tab and
    "/evil.example" would leave the site: control characters, spaces and backslashes are refused.
    """
    if not target.startswith("/") or any(c <= " " or c in "\\\x7f" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


def init_auth(app: Flask) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
    app.register_blueprint(bp)
